from . import halo_charge_rate
from . import halo_charge_rate_version
