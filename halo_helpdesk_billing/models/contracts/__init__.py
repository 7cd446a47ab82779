from . import halo_customer_device
from . import halo_contract
from . import halo_contract_ledger
from . import halo_contract_period
from . import halo_contract_recurring_line
from . import account_move
from . import helpdesk_ticket
from . import res_partner
