from . import xero_webhook
from . import xero_oauth
