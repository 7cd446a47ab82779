from . import halo_billing_report
