from . import test_charge_rate
from . import test_capture
from . import test_access
from . import test_capture_import
from . import test_contract
from . import test_rating_orm
from . import test_billing_run
from . import test_tour_capture
