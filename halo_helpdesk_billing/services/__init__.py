"""Plain-Python cores of the addon: no ORM imports below this package."""

from . import billing_chunks
from . import charges
from . import contract_dates
from . import invoice_lines
from . import line_template
from . import rating
from . import xlsx_invoice
