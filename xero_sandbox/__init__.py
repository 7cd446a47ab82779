"""A local stand-in for Xero's OAuth2 identity service and Accounting API (see README.md)."""

from .seed import DEMO_USER, NZ_TENANT_ID, UK_TENANT_ID
from .server import SandboxServer
