from . import xero_webhook
