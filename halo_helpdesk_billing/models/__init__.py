from . import capture
from . import rating
from . import billing
from . import bulk_line_copy
from . import contracts
from . import xero
