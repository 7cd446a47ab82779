from . import test_charge_rate
