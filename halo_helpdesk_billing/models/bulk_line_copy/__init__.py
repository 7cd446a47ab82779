from . import res_company
from . import account_move
from . import account_move_line
