from . import halo_charge_rate
from . import halo_charge_rate_version
from . import halo_rating
from . import halo_rating_audit
