from . import test_charge_rate
from . import test_capture
from . import test_access
from . import test_capture_import
