from . import halo_rerate_wizard
from . import halo_billing_adjust_wizard
from . import halo_xero_setup_wizard
from . import account_move_reversal
from . import halo_billing_report_wizard
