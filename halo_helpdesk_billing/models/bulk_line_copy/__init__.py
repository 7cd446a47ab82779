from . import account_move_bulk_lines
from . import account_move_line_bulk_analytic
