# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A Xero organisation connected to a company: OAuth2 (tokens, scopes, tenants), the organisation's lock
dates and currencies, the mapping screen (Odoo's taxes, products, categories, default and rounding accounts
and tracking, each checked against what was imported from Xero), and the poll of what changed in Xero
(customer documents only, in pages, the watermark saved after each)."""

import logging
import secrets
import time
from datetime import datetime, timedelta

from markupsafe import Markup

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.sql_db import Cursor

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER, BILLING_USER

from ...services import xero_client as xc
from ...services.xero_client import XeroError
from ..halo_engine import XERO_COMMIT
from .halo_xero_link_mixin import PROBLEM_STATES
from .halo_xero_payment import _naive_utc

_logger = logging.getLogger(__name__)

SYSTEM = "base.group_system"
OAUTH_STATE_TTL = 900  # seconds a consent round trip may take
# settings only a system administrator may set: where the tokens and the client secret are sent, and
# a field path the push reads as superuser
SYSTEM_FIELDS = (
    "authorize_url",
    "token_url",
    "revoke_url",
    "identity_url",
    "accounting_url",
    "tracking_option_field",
)
# what ``tracking_option_field`` may walk through and end on (from the invoice line, or the invoice)
TRACKING_MODELS = (
    "account.move.line",
    "account.move",
    "account.analytic.line",
    "account.analytic.account",
    "account.analytic.plan",
    "product.product",
    "product.template",
    "product.category",
    "res.partner",
)
TRACKING_TYPES = ("char", "text", "selection", "integer", "date", "many2one", "many2many")
TRACKING_MAX_DEPTH = 4

UNCHECKED = object()  # a check that needs a list not imported from Xero yet
# what a changed connection setting may fix (skipped payments and allocations are retried)
RETRY_FIELDS = (
    "payment_journal_id",
    "halo_xero_allocation_journal_id",
    "halo_xero_prepayment_account_id",
    "halo_xero_overpayment_account_id",
    "halo_xero_credit_note_account_id",
)
POLL_PAGE_SIZE = 1000  # the largest page Xero allows (pageSize 1..1000)
POLL_CHUNK_SECONDS = 30.0  # a poll chunk outside Odoo's cron runner (whose runs give it 10 s)


def halo_check_caller(records, group, operation):
    """Refuse a caller (unless superuser) who lacks ``group`` or the ``operation`` right on ``records``
    (access rights and record rules, so the records' company must be one of the caller's companies).

    For the public methods that then work as superuser: call it first, in the model."""
    env = records.env
    if env.su:
        return
    if not env.user.has_group(group):
        raise AccessError(
            env._(
                "%(user)s may not do this on %(model)s: it needs the group %(group)s.",
                user=env.user.name,
                model=records._description,
                group=env.ref(group).sudo().full_name,
            )
        )
    records.check_access(operation)


def _value(value):
    return getattr(value, "value", value)


class HaloXeroConnection(models.Model):
    _name = "halo.xero.connection"
    _description = "Xero Connection"
    _inherit = ["mail.thread"]
    _order = "company_id, id"
    _check_company_auto = True

    name = fields.Char(required=True, default="Xero")
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True, ondelete="cascade"
    )
    active = fields.Boolean(default=True)
    auth_type = fields.Selection(
        [("code", "Xero login (OAuth2 authorisation code)"), ("client_credentials", "Custom connection")],
        string="Connection Type",
        default="code",
        required=True,
        help="A custom connection (client credentials) is a paid Xero app bound to one organisation; "
        "it has no consent page and no refresh token.",
    )
    use_pkce = fields.Boolean(
        string="Use PKCE", help="Proof Key for Code Exchange (S256) on the authorisation-code flow."
    )
    client_id = fields.Char(string="Client ID", groups=SYSTEM, copy=False)
    client_secret = fields.Char(groups=SYSTEM, copy=False)
    tenant_id = fields.Char(string="Organisation ID", copy=False, readonly=True, index=True)
    tenant_name = fields.Char(string="Organisation", copy=False, readonly=True)
    xero_connection_ref = fields.Char(
        string="Xero Connection ID",
        copy=False,
        readonly=True,
        help="Id of the connection in Xero's identity service (used to disconnect).",
    )
    state = fields.Selection(
        [
            ("draft", "Not connected"),
            ("connected", "Connected"),
            ("needs_reauth", "Needs re-authorisation"),
            ("disconnected", "Disconnected"),
        ],
        default="draft",
        required=True,
        copy=False,
        tracking=True,
        readonly=True,
    )
    last_error = fields.Text(copy=False, readonly=True)
    connected_by_id = fields.Many2one("res.users", copy=False, readonly=True)
    connected_at = fields.Datetime(copy=False, readonly=True)
    token_ids = fields.One2many("halo.xero.token", "connection_id", groups=SYSTEM, copy=False)
    has_token = fields.Boolean(compute="_compute_has_token")
    # OAuth2 round trip (bound to the user's session), system only
    oauth_state = fields.Char(groups=SYSTEM, copy=False)
    oauth_session_hash = fields.Char(groups=SYSTEM, copy=False)
    oauth_code_verifier = fields.Char(groups=SYSTEM, copy=False)
    oauth_redirect_uri = fields.Char(groups=SYSTEM, copy=False)
    oauth_started_at = fields.Float(groups=SYSTEM, copy=False)
    oauth_wizard_id = fields.Integer(groups=SYSTEM, copy=False)
    # API base URLs: settings, so that demo and tests point at xero_sandbox
    # (system administrators only: they receive the tokens and the client secret)
    authorize_url = fields.Char(
        string="Authorize URL", required=True, default=xc.DEFAULT_AUTHORIZE_URL, groups=SYSTEM
    )
    token_url = fields.Char(string="Token URL", required=True, default=xc.DEFAULT_TOKEN_URL, groups=SYSTEM)
    revoke_url = fields.Char(
        string="Revocation URL", required=True, default=xc.DEFAULT_REVOKE_URL, groups=SYSTEM
    )
    identity_url = fields.Char(
        string="Identity API URL", required=True, default=xc.DEFAULT_IDENTITY_URL, groups=SYSTEM
    )
    accounting_url = fields.Char(
        string="Accounting API URL", required=True, default=xc.DEFAULT_ACCOUNTING_URL, groups=SYSTEM
    )
    # invoice settings (read by the invoice push)
    invoice_status = fields.Selection(
        [("DRAFT", "Draft"), ("AUTHORISED", "Approved (Awaiting Payment)")],
        string="Invoice Status in Xero",
        default="AUTHORISED",
        required=True,
    )
    invoice_numbering = fields.Selection(
        [("odoo", "Odoo's invoice number"), ("xero", "Xero numbers the invoices")],
        default="odoo",
        required=True,
    )
    attach_pdf = fields.Boolean(string="Attach the PDF", default=True)
    allow_backorders = fields.Boolean(
        help="Send allowBackorders=true with invoices: Xero then approves invoices whose tracked-inventory items "
        "have too little stock on hand (the stock goes negative) instead of refusing them."
    )
    payment_journal_id = fields.Many2one(
        "account.journal",
        check_company=True,
        domain=[("type", "in", ("bank", "cash"))],
        help="Journal of the payments recorded in Odoo when Xero reports an invoice paid.",
    )
    default_account_code = fields.Char(
        string="Default Revenue Account Code",
        default="200",
        help="Xero account code of invoice lines whose product has none.",
    )
    rounding_account_code = fields.Char(help="Xero's ROUNDING system account (found by the import).")
    webhook_key = fields.Char(groups=SYSTEM, copy=False)
    tracking_category_name = fields.Char()
    tracking_option_field = fields.Char(
        groups=SYSTEM,
        help="Field of the invoice line (or of the invoice) whose value is sent as the tracking option, "
        "e.g. product_id or analytic_line_ids.account_id.",
    )
    # OAuth2 scopes asked for at the consent page (granular by default: new Xero apps get no others)
    oauth_scopes = fields.Char(
        string="Xero Scopes",
        default=lambda self: " ".join(xc.DEFAULT_SCOPES),
        required=True,
        help="Space-separated OAuth2 scopes asked for when connecting. Xero apps registered since 2 March 2026 "
        "may only ask for granular scopes (accounting.invoices, accounting.payments, ...): asking for "
        "accounting.transactions is refused at Xero's consent page.",
    )
    scope_warning = fields.Char(compute="_compute_scope_warning")
    # the organisation's lock dates in Xero (/Organisation, read at import, refresh and Test connection):
    # Xero refuses documents dated on or before them
    period_lock_date = fields.Date(
        string="Xero Period Lock Date",
        copy=False,
        readonly=True,
        help="Xero's lock date for all users but advisers (Settings > Financial settings in Xero).",
    )
    end_of_year_lock_date = fields.Date(
        string="Xero End of Year Lock Date",
        copy=False,
        readonly=True,
        help="Xero's lock date for all users, advisers included.",
    )
    lock_dates_read_at = fields.Datetime(string="Lock Dates Read", copy=False, readonly=True)
    locked_period_policy = fields.Selection(
        [
            ("refuse", "Refuse to post them"),
            ("first_open_day", "Send them to Xero dated on the first open day"),
        ],
        string="Invoices in a Locked Xero Period",
        default="refuse",
        required=True,
        help="Invoices and credit notes dated on or before Xero's lock date. Refuse: posting them is refused "
        "(a billing run leaves them in draft and lists them), so that the date can be changed or the Xero "
        "adviser can move the lock date. First open day: they are posted in Odoo with their own date and sent "
        "to Xero dated the day after the lock date (the due date no earlier); the invoice's Xero log says so.",
    )
    # import watermarks (If-Modified-Since of the scheduled refresh, UTC)
    contacts_synced_at = fields.Datetime(copy=False, readonly=True)
    items_synced_at = fields.Datetime(copy=False, readonly=True)
    accounts_synced_at = fields.Datetime(copy=False, readonly=True)

    _company_uniq = models.Constraint("UNIQUE(company_id)", "A company connects to one Xero organisation.")

    # -- mapping (checked against the lists imported from Xero) ------------------------------------------

    # what Xero has (imported)
    xero_account_ids = fields.One2many("halo.xero.account", "connection_id", string="Xero Accounts")
    xero_tax_rate_ids = fields.One2many("halo.xero.tax.rate", "connection_id", string="Xero Tax Rates")
    xero_item_ids = fields.One2many("halo.xero.item", "connection_id", string="Xero Items")
    xero_tracking_ids = fields.One2many("halo.xero.tracking.option", "connection_id")
    # what Odoo's records are in Xero
    contact_link_ids = fields.One2many("halo.xero.contact.link", "connection_id", string="Customers in Xero")
    product_link_ids = fields.One2many("halo.xero.product.link", "connection_id", string="Products in Xero")
    category_link_ids = fields.One2many(
        "halo.xero.category.link", "connection_id", string="Categories in Xero"
    )
    tax_link_ids = fields.One2many("halo.xero.tax.link", "connection_id", string="Taxes in Xero")
    # checks of the connection's own settings
    default_account_problem = fields.Char(compute="_compute_mapping_problems")
    rounding_account_problem = fields.Char(compute="_compute_mapping_problems")
    tracking_problem = fields.Char(compute="_compute_mapping_problems")
    mapping_problem_count = fields.Integer(string="Mapping Problems", compute="_compute_mapping_problems")
    mapping_state = fields.Selection(PROBLEM_STATES, compute="_compute_mapping_problems")

    # -- money back: allocations, currencies, the poll's watermarks -------------------------------------------

    halo_xero_allocation_journal_id = fields.Many2one(
        "account.journal",
        string="Xero Allocations Journal",
        check_company=True,
        domain="[('type', '=', 'general')]",
        help="Journal of the entries that register prepayments, overpayments and credit notes raised in Xero "
        "when Xero allocates them to an invoice.",
    )
    halo_xero_prepayment_account_id = fields.Many2one(
        "account.account",
        string="Customer Prepayments Account",
        check_company=True,
        help="Where prepayments received in Xero are held until allocated (usually a current liability).",
    )
    halo_xero_overpayment_account_id = fields.Many2one(
        "account.account",
        string="Customer Overpayments Account",
        check_company=True,
    )
    halo_xero_credit_note_account_id = fields.Many2one(
        "account.account",
        string="Xero Credit Notes Account",
        check_company=True,
        help="Account debited for credit notes raised in Xero (not in Odoo) allocated to an invoice.",
    )
    halo_xero_currencies = fields.Char(
        string="Xero Currencies",
        readonly=True,
        copy=False,
        help="Currencies enabled in the Xero organisation (imported from /Currencies).",
    )
    halo_xero_base_currency = fields.Char(
        string="Xero Base Currency",
        readonly=True,
        copy=False,
        help="The organisation's base currency (imported with the currencies). Payments in another currency "
        "are booked at Xero's base amounts only when it is the company's currency.",
    )
    halo_xero_poll_since = fields.Datetime(
        string="Polled Up To",
        copy=False,
        readonly=True,
        help="Largest UpdatedDateUTC seen by the last poll of invoices (sent as If-Modified-Since).",
    )
    halo_xero_poll_cn_since = fields.Datetime(
        string="Credit Notes Polled Up To",
        copy=False,
        readonly=True,
        help="Largest UpdatedDateUTC seen by the last poll of credit notes (sent as If-Modified-Since).",
    )
    halo_xero_poll_resume = fields.Json(
        string="Poll To Resume",
        copy=False,
        readonly=True,
        help="A poll cut short by the cron's time: per watermark, the If-Modified-Since and the next page.",
    )
    halo_xero_poll_payments_since = fields.Datetime(
        string="Payments Polled Up To",
        copy=False,
        readonly=True,
        help="Largest UpdatedDateUTC of the deleted payments seen by the poll (If-Modified-Since).",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._halo_check_system_fields(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._halo_check_system_fields(vals)
        res = super().write(vals)
        if any(f in vals for f in RETRY_FIELDS):
            # a skipped payment's cause may be fixed: the poll retries the invoices that need attention
            cron = self.env.ref("halo_helpdesk_billing.ir_cron_halo_xero_poll", raise_if_not_found=False)
            if cron:
                cron.sudo()._trigger()
        return res

    @api.model
    def _halo_check_system_fields(self, vals):
        """The API URLs and the tracking field path are set by system administrators only."""
        if self.env.su or self.env.user.has_group(SYSTEM):
            return
        fnames = sorted(set(vals) & set(SYSTEM_FIELDS))
        if fnames:
            raise AccessError(
                self.env._(
                    "Only system administrators may change %(fields)s of a Xero connection.",
                    fields=", ".join(self._fields[f].string for f in fnames),
                )
            )

    @api.constrains("tracking_option_field")
    def _check_tracking_option_field(self):
        for conn in self.sudo():
            error = conn._halo_tracking_path_error(conn.tracking_option_field)
            if error:
                raise ValidationError(error)

    @api.model
    def _halo_tracking_path_error(self, path):
        """Why ``path`` is not a field path of the invoice line or the invoice the push may read
        (False when it is): known fields only, through billing models only, no restricted field."""
        if not path:
            return False
        roots = ("account.move.line", "account.move")
        errors = [self._halo_tracking_path_error_from(root, path) for root in roots]
        if not all(errors):
            return False
        return self.env._(
            "The tracking option field %(path)s is not a field path of the invoice line: %(error)s",
            path=path,
            error=errors[0],
        )

    @api.model
    def _halo_tracking_path_error_from(self, root, path):
        parts = path.split(".")
        if len(parts) > TRACKING_MAX_DEPTH:
            return self.env._("at most %(depth)s fields.", depth=TRACKING_MAX_DEPTH)
        model = self.env[root]
        for position, fname in enumerate(parts, 1):
            field = model._fields.get(fname)
            if field is None or not fname.isidentifier() or fname.startswith("_"):
                return self.env._("%(model)s has no field %(field)s.", model=model._name, field=fname)
            if field.groups:
                return self.env._(
                    "%(model)s.%(field)s is restricted to some groups.", model=model._name, field=fname
                )
            last = position == len(parts)
            if last and field.type not in TRACKING_TYPES:
                return self.env._(
                    "%(model)s.%(field)s is a %(type)s field.",
                    model=model._name,
                    field=fname,
                    type=field.type,
                )
            if not last and not field.relational:
                return self.env._("%(model)s.%(field)s is not a relation.", model=model._name, field=fname)
            if field.relational:
                if field.comodel_name not in TRACKING_MODELS:
                    return self.env._(
                        "%(model)s.%(field)s leads to %(comodel)s.",
                        model=model._name,
                        field=fname,
                        comodel=field.comodel_name,
                    )
                model = self.env[field.comodel_name]
        return False

    def _compute_has_token(self):
        tokens = self.env["halo.xero.token"].sudo().search([("connection_id", "in", self.ids)])
        with_token = set(tokens.filtered("access_token").connection_id.ids)
        for conn in self:
            conn.has_token = conn.id in with_token

    @api.depends("state", "oauth_scopes")
    def _compute_scope_warning(self):
        """Say so when the stored token holds Xero's old broad scopes (or the settings ask for them)."""
        tokens = {
            t.connection_id.id: t.scope or ""
            for t in self.env["halo.xero.token"].sudo().search([("connection_id", "in", self.ids)])
        }
        for conn in self:
            broad = xc.broad_scopes(tokens.get(conn.id, "")) or xc.broad_scopes(conn.oauth_scopes or "")
            conn.scope_warning = (
                self.env._(
                    "This connection uses Xero's old broad scopes (%(scopes)s). Xero accepts them from apps "
                    "registered before 2 March 2026 only, until September 2027: set granular scopes "
                    "(accounting.invoices accounting.payments ...) and connect again to consent to them.",
                    scopes=", ".join(broad),
                )
                if broad
                else False
            )

    @api.model
    def _halo_for_company(self, company):
        """The company's live connection (connected or needing re-authorisation), or empty."""
        return self.search(
            [("company_id", "=", company.id), ("state", "in", ("connected", "needs_reauth"))], limit=1
        )

    # -- actions --------------------------------------------------------------------------------------
    def action_open_setup_wizard(self):
        self.ensure_one()
        halo_check_caller(self, BILLING_MANAGER, "write")
        return self.env["halo.xero.setup.wizard"]._action_open(self)

    def action_disconnect(self):
        """Revoke the token in Xero, remove the connection there, and delete it here (billing managers
        of the connection's company)."""
        halo_check_caller(self, BILLING_MANAGER, "unlink")
        for conn in self:
            sudo = conn.sudo()
            if sudo.state in ("connected", "needs_reauth") and sudo._halo_token().get("access_token"):
                client = sudo._halo_client()
                try:
                    if sudo.xero_connection_ref and sudo.auth_type == "code":
                        client.delete_connection(sudo.xero_connection_ref)
                    client.revoke()
                except xc.XeroError as err:
                    # the organisation may already be gone on Xero's side: forget it here anyway
                    _logger.info("Xero disconnect of connection %s: %s", conn.id, type(err).__name__)
            _logger.info("Xero connection %s of company %s disconnected", conn.id, conn.company_id.id)
        self.sudo().unlink()
        return {"type": "ir.actions.client", "tag": "reload"}

    def action_test_connection(self):
        self.ensure_one()
        halo_check_caller(self, BILLING_USER, "read")
        try:
            tenant = self.sudo()._halo_check()
        except UserError as err:
            # a notification, not an exception: the "needs re-authorisation" flag is kept
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "danger",
                    "sticky": True,
                    "message": str(err),
                    "next": {"type": "ir.actions.client", "tag": "soft_reload"},
                },
            }
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "Connected to %(org)s.", org=tenant.get("tenant_name") or self.tenant_name
                ),
            },
        }

    # -- tokens ---------------------------------------------------------------------------------------
    def _halo_endpoints(self):
        self.ensure_one()
        return xc.XeroEndpoints(
            authorize_url=self.authorize_url.strip(),
            token_url=self.token_url.strip(),
            revoke_url=self.revoke_url.strip(),
            identity_url=self.identity_url.strip().rstrip("/"),
            accounting_url=self.accounting_url.strip().rstrip("/"),
        )

    def _halo_set_base_url(self, base_url):
        ends = xc.XeroEndpoints.for_base(base_url)
        self.write(
            {
                "authorize_url": ends.authorize_url,
                "token_url": ends.token_url,
                "revoke_url": ends.revoke_url,
                "identity_url": ends.identity_url,
                "accounting_url": ends.accounting_url,
            }
        )

    def _halo_token_record(self):
        self.ensure_one()
        return self.env["halo.xero.token"].sudo().search([("connection_id", "=", self.id)], limit=1)

    def _halo_token(self):
        """The stored token as the dict xero-python accepts ({} when there is none)."""
        return self._halo_token_record()._to_dict()

    def _halo_store_token(self, token):
        """Store a token in the current transaction (code exchange, client credentials)."""
        self.ensure_one()
        record = self._halo_token_record()
        vals = self.env["halo.xero.token"]._vals_from_dict(token)
        if record:
            record.write(vals)
        else:
            self.env["halo.xero.token"].sudo().create(dict(vals, connection_id=self.id))

    def _halo_client(self, **kwargs):
        """An :class:`XeroClient` bound to this connection: the token is read from the database,
        refreshes run under a row lock on the token row in their own committed transaction."""
        self.ensure_one()
        conn = self.sudo()
        holder = {"token": conn._halo_token(), "store": conn._halo_store_token}

        def getter():
            return holder["token"]

        def saver(token):
            holder["token"] = token
            holder["store"](token)

        def refresher(client, stale, force):
            token = conn._halo_refresh_locked(client, holder, stale, force)
            holder["token"] = token
            return token

        kwargs.setdefault("timeout", (5, 60))
        if "throttle" not in kwargs:
            # the organisation's limits held by every worker and cron thread of the database
            from .halo_xero_throttle import SharedThrottle

            kwargs["throttle"] = SharedThrottle(self.env.cr.dbname)
        return xc.XeroClient(
            conn._halo_endpoints(),
            conn.client_id or "",
            conn.client_secret or None,
            getter,
            saver,
            token_refresher=refresher,
            custom_connection=conn.auth_type == "client_credentials",
            **kwargs,
        )

    def _halo_refresh_locked(self, client, holder, stale, force):
        """Refresh under ``SELECT ... FOR UPDATE`` of the token row, re-reading it inside the lock.

        Runs in a separate READ COMMITTED transaction that commits at once, so a rotated
        refresh token is never lost with a rolled-back business transaction and a second
        worker waiting on the lock sees the first one's token instead of burning the old one.
        When the row is not visible to a new transaction (created by the current, uncommitted
        one) or the registry is in test mode, the current transaction is used."""
        self.ensure_one()
        auth_error = None
        with self.env.registry.cursor() as cr:
            if isinstance(cr, Cursor):  # a real new transaction (not a test cursor)
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute("SELECT id FROM halo_xero_token WHERE connection_id = %s FOR UPDATE", [self.id])
            if cr.fetchone():
                locked = self.with_env(api.Environment(cr, SUPERUSER_ID, {}))
                try:
                    return locked._halo_refresh_in_lock(client, holder, stale, force)
                except xc.XeroAuthError as err:
                    locked._halo_mark_needs_reauth(str(err))
                    auth_error = err
        if auth_error is not None:
            # committed by the block above; the caller's cache is stale (seen at once with a test cursor)
            self.invalidate_recordset(["state", "last_error"])
            raise auth_error
        self.env.cr.execute("SELECT id FROM halo_xero_token WHERE connection_id = %s FOR UPDATE", [self.id])
        self.env["halo.xero.token"].invalidate_model()
        try:
            return self.sudo()._halo_refresh_in_lock(client, holder, stale, force)
        except xc.XeroAuthError as err:
            self._halo_mark_needs_reauth(str(err))
            raise

    def _halo_refresh_in_lock(self, client, holder, stale, force):
        conn = self.sudo()
        current = conn._halo_token()
        changed = current.get("access_token") and current.get("access_token") != (stale or {}).get(
            "access_token"
        )
        if current.get("access_token") and not xc.token_expiring(current) and (changed or not force):
            return current  # another worker refreshed meanwhile: use its token
        saved = dict(holder)
        holder["token"], holder["store"] = current, conn._halo_store_token
        try:
            new = client.refresh()
        finally:
            holder.update(saved)
        if conn.state == "needs_reauth":
            conn.write({"state": "connected", "last_error": False})
        return new

    def _halo_mark_needs_reauth(self, message):
        """Flag the connection and tell the billing managers (once per incident)."""
        for conn in self.sudo():
            if conn.state == "needs_reauth":
                continue
            conn.write({"state": "needs_reauth", "last_error": message})
            managers = (
                self.env.ref(BILLING_MANAGER)
                .sudo()
                .all_user_ids.filtered(lambda user, company=conn.company_id: company in user.company_ids)
            )
            body = Markup("<p>%s</p>") % self.env._(
                "Odoo can no longer reach Xero for %(company)s: %(error)s Open Billing > Configuration > Xero "
                "and connect again.",
                company=conn.company_id.name,
                error=message,
            )
            conn.message_post(
                body=body,
                partner_ids=managers.partner_id.ids,
                subject=self.env._("Xero needs re-authorisation"),
                message_type="notification",
                subtype_xmlid="mail.mt_comment",
            )
            _logger.warning(
                "Xero connection %s of company %s needs re-authorisation", conn.id, conn.company_id.id
            )

    # -- OAuth2 round trip ----------------------------------------------------------------------------
    def _halo_start_oauth(self, redirect_uri, session_sid, wizard_id=False):
        """Prepare the consent round trip; returns the authorize URL."""
        self.ensure_one()
        conn = self.sudo()
        if not conn.client_id:
            raise UserError(self.env._("Enter the Xero app's client ID first."))
        if not conn.use_pkce and not conn.client_secret:
            raise UserError(self.env._("Enter the Xero app's client secret, or use PKCE."))
        state = secrets.token_urlsafe(32)
        verifier, challenge = xc.pkce_pair() if conn.use_pkce else (False, None)
        conn.write(
            {
                "oauth_state": state,
                "oauth_session_hash": _session_hash(session_sid),
                "oauth_code_verifier": verifier,
                "oauth_redirect_uri": redirect_uri,
                "oauth_started_at": time.time(),
                "oauth_wizard_id": wizard_id or 0,
            }
        )
        scopes = (conn.oauth_scopes or "").split() or list(xc.DEFAULT_SCOPES)
        return conn._halo_client().authorize_url(redirect_uri, state, scopes=scopes, code_challenge=challenge)

    @api.model
    def _halo_find_oauth_state(self, state, session_sid):
        """The connection that started this round trip in this session, or raise UserError."""
        if not state:
            raise UserError(self.env._("Xero's answer has no state parameter; start the connection again."))
        conn = self.sudo().with_context(active_test=False).search([("oauth_state", "=", state)], limit=1)
        if not conn or not secrets.compare_digest(conn.oauth_session_hash or "", _session_hash(session_sid)):
            raise UserError(
                self.env._(
                    "This Xero answer does not belong to a connection started in your session (wrong state). "
                    "Start the connection again from the Xero setup."
                )
            )
        user = self.env.user
        if not self.env.su and (
            not user.has_group(BILLING_MANAGER) or conn.company_id not in user.company_ids
        ):
            raise UserError(
                self.env._(
                    "Only billing managers of %(company)s can connect it to Xero.",
                    company=conn.company_id.name,
                )
            )
        if time.time() - (conn.oauth_started_at or 0) > OAUTH_STATE_TTL:
            conn._halo_clear_oauth()
            raise UserError(self.env._("The Xero connection took too long; start it again."))
        return conn

    def _halo_clear_oauth(self):
        self.sudo().write(
            {
                "oauth_state": False,
                "oauth_session_hash": False,
                "oauth_code_verifier": False,
                "oauth_started_at": 0,
            }
        )

    def _halo_finish_oauth(self, code):
        """Exchange the code (server side) and list the organisations it grants."""
        self.ensure_one()
        conn = self.sudo()
        verifier, redirect_uri = conn.oauth_code_verifier or None, conn.oauth_redirect_uri
        conn._halo_clear_oauth()
        client = conn._halo_client()
        try:
            client.exchange_code(code, redirect_uri, code_verifier=verifier)
        except xc.XeroAuthError as err:
            raise UserError(
                self.env._(
                    "Xero did not accept the authorisation code: it expired or was already used. "
                    "Connect again. (%(detail)s)",
                    detail=str(err),
                )
            ) from None
        except xc.XeroError as err:
            raise UserError(str(err)) from None
        conn.write(
            {"connected_by_id": self.env.uid, "connected_at": fields.Datetime.now(), "last_error": False}
        )
        return conn._halo_tenants(client)

    def _halo_connect_client_credentials(self):
        self.ensure_one()
        conn = self.sudo()
        client = conn._halo_client()
        try:
            client.client_credentials()
        except xc.XeroError as err:
            raise UserError(str(err)) from None
        conn.write(
            {"connected_by_id": self.env.uid, "connected_at": fields.Datetime.now(), "last_error": False}
        )
        return conn._halo_tenants(client)

    def _halo_tenants(self, client=None):
        client = client or self.sudo()._halo_client()
        try:
            return client.connections()
        except xc.XeroError as err:
            raise UserError(str(err)) from None

    def _halo_select_tenant(self, tenant):
        """``tenant``: one dict of :meth:`XeroClient.connections`."""
        self.ensure_one()
        self.sudo().write(
            {
                "tenant_id": tenant["tenant_id"],
                "tenant_name": tenant["tenant_name"],
                "xero_connection_ref": tenant.get("id"),
                "state": "connected",
                "last_error": False,
            }
        )

    def _halo_check(self):
        """Check the organisation is still reachable (Organisation endpoint); return its tenant dict."""
        self.ensure_one()
        client = self.sudo()._halo_client()
        try:
            self._halo_store_lock_dates(client.call(self.tenant_id, "get_organisations"))
        except xc.XeroAuthError as err:
            self._halo_mark_needs_reauth(str(err))
            raise UserError(str(err)) from None
        except xc.XeroError as err:
            raise UserError(str(err)) from None
        return {"tenant_id": self.tenant_id, "tenant_name": self.tenant_name}

    # -- lock dates -----------------------------------------------------------------------------------
    def _halo_lock_date(self):
        """The last day locked in Xero (the later of the two lock dates), or False."""
        self.ensure_one()
        dates = [d for d in (self.sudo().period_lock_date, self.sudo().end_of_year_lock_date) if d]
        return max(dates) if dates else False

    def _halo_read_lock_dates(self, client=None):
        """Read the organisation's lock dates from Xero (one GET /Organisation) and store them."""
        self.ensure_one()
        client = client or self.sudo()._halo_client()
        self._halo_store_lock_dates(client.call(self.tenant_id, "get_organisations"))

    def _halo_store_lock_dates(self, result):
        """Store the lock dates of a ``get_organisations`` answer (unset in Xero: empty here), and the
        organisation's base currency."""
        self.ensure_one()
        org = (getattr(result, "organisations", None) or [None])[0]
        if org is None:
            return
        vals = {
            "period_lock_date": _plain_date(org.period_lock_date),
            "end_of_year_lock_date": _plain_date(org.end_of_year_lock_date),
            "lock_dates_read_at": fields.Datetime.now(),
        }
        conn = self.sudo()
        if (conn.period_lock_date, conn.end_of_year_lock_date) != (
            vals["period_lock_date"],
            vals["end_of_year_lock_date"],
        ):
            _logger.info(
                "Xero connection %s: lock dates %s / %s",
                self.id,
                vals["period_lock_date"],
                vals["end_of_year_lock_date"],
            )
        base = getattr(org, "base_currency", None)
        code = str(getattr(base, "value", base) or "")
        if code and code != conn.halo_xero_base_currency:
            vals["halo_xero_base_currency"] = code
        conn.write(vals)

    # -- the mapping screen -------------------------------------------------------------------------------

    @api.depends(
        "default_account_code",
        "rounding_account_code",
        "tracking_category_name",
        "xero_account_ids.status",
        "xero_tracking_ids.status",
        "product_link_ids.problem_state",
        "category_link_ids.problem_state",
        "tax_link_ids.problem_state",
    )
    def _compute_mapping_problems(self):
        for conn in self:
            index = conn._halo_mapping_index()
            own = {
                "default_account_problem": conn._halo_account_problem(
                    conn.default_account_code, index, required=True
                ),
                "rounding_account_problem": conn._halo_account_problem(
                    conn.rounding_account_code, index, rounding=True
                ),
                "tracking_problem": conn._halo_tracking_problem(index),
            }
            states = []
            for fname, problem in own.items():
                conn[fname] = conn._halo_problem_summary([problem])[0] or False
                states.append(conn._halo_problem_summary([problem])[1])
            for rows in (conn.product_link_ids, conn.category_link_ids, conn.tax_link_ids):
                states += rows.mapped("problem_state")
            conn.mapping_problem_count = states.count("problem")
            conn.mapping_state = (
                "problem" if "problem" in states else ("unchecked" if "unchecked" in states else "ok")
            )

    # -- checks (shared by the link rows) ------------------------------------------------------------
    def _halo_mapping_index(self):
        """What was imported from Xero for this connection, indexed for the checks (one read per list)."""
        self.ensure_one()
        conn = self.sudo()
        tracking = {}
        for option in conn.xero_tracking_ids:
            category = tracking.setdefault(
                option.category_name.strip().lower(), (option.category_name, option.category_status, {})
            )
            category[2][option.name.strip().lower()] = (option.name, option.status)
        return {
            "accounts": {a.code.lower(): a for a in conn.xero_account_ids},
            "rates": {r.tax_type: r for r in conn.xero_tax_rate_ids},
            "items": {i.code.lower(): i for i in conn.xero_item_ids},
            "tracking": tracking,
        }

    def _halo_account_problem(self, code, index, required=False, rounding=False):
        """Why Xero would refuse invoice lines coded to ``code`` (None when it would not)."""
        if not code:
            return self.env._("No account code: set one.") if required else None
        if not index["accounts"]:
            return UNCHECKED
        account = index["accounts"].get(code.strip().lower())
        if account is None:
            return self.env._(
                "Account code %(code)s is not in the chart of accounts imported from Xero: choose an "
                "active revenue account of Xero.",
                code=code,
            )
        if account.status != "ACTIVE":
            return self.env._(
                "Account %(code)s %(name)s is archived in Xero: choose an active account, or restore "
                "it in Xero.",
                code=code,
                name=account.name,
            )
        if rounding:
            if account.system_account != "ROUNDING":
                return self.env._(
                    "Account %(code)s %(name)s is not Xero's rounding account: choose the account "
                    "whose system account is ROUNDING.",
                    code=code,
                    name=account.name,
                )
            return None
        if account.account_type == "BANK" or account.system_account:
            return self.env._(
                "Account %(code)s %(name)s is a bank or system account in Xero, which takes no invoice "
                "lines: choose a revenue account.",
                code=code,
                name=account.name,
            )
        return None

    def _halo_tax_type_problem(self, tax_type, index, tax=None, required=False):
        if tax is not None and tax.amount_type != "percent":
            return self.env._(
                "Tax %(tax)s is not a percentage: Xero takes one percentage tax type per line.", tax=tax.name
            )
        if not tax_type:
            return (
                self.env._("No Xero tax type: choose one (the push refuses lines with this tax).")
                if required
                else None
            )
        if not index["rates"]:
            return UNCHECKED
        rate = index["rates"].get(tax_type)
        if rate is None:
            return self.env._(
                "Xero has no tax type %(type)s: choose one of %(types)s.",
                type=tax_type,
                types=", ".join(
                    sorted(
                        t
                        for t, r in index["rates"].items()
                        if r.status == "ACTIVE" and r.can_apply_to_revenue
                    )
                ),
            )
        if rate.status != "ACTIVE":
            return self.env._(
                "Tax type %(type)s is %(status)s in Xero: choose an active one.",
                type=tax_type,
                status=(rate.status or "-").lower(),
            )
        if not rate.can_apply_to_revenue:
            return self.env._(
                "Tax type %(type)s (%(name)s) does not apply to revenue in Xero: choose a sales tax type.",
                type=tax_type,
                name=rate.name,
            )
        if tax is not None and abs(rate.effective_rate - tax.amount) > 0.00005:
            return self.env._(
                "Xero computes %(type)s at %(xero)s%% but the Odoo tax is %(odoo)s%%: choose the "
                "tax type of the same rate.",
                type=tax_type,
                xero=rate.effective_rate,
                odoo=tax.amount,
            )
        return None

    def _halo_item_problem(self, code, index):
        if not code:
            return None
        if not index["items"]:
            return UNCHECKED
        item = index["items"].get(code.strip().lower())
        if item is None:
            return self.env._(
                "Xero has no item %(code)s: re-link the product to an existing item, or clear the item code.",
                code=code,
            )
        if not item.is_sold:
            return self.env._(
                "Item %(code)s is not sold in Xero: tick 'I sell this item' in Xero.", code=code
            )
        return None

    def _halo_tracking_problem(self, index):
        self.ensure_one()
        name = self.tracking_category_name
        if not name:
            return None
        if not index["tracking"]:
            return UNCHECKED
        category = index["tracking"].get(name.strip().lower())
        if category is None:
            return self.env._(
                "Xero has no tracking category %(name)s (categories: %(names)s).",
                name=name,
                names=", ".join(sorted(c[0] for c in index["tracking"].values())),
            )
        if category[1] != "ACTIVE":
            return self.env._("The tracking category %(name)s is archived in Xero.", name=name)
        if not any(status == "ACTIVE" for _n, status in category[2].values()):
            return self.env._("The tracking category %(name)s has no active option in Xero.", name=name)
        return None

    def _halo_problem_summary(self, problems):
        """(message, state, order) of a row's checks: problems first, then what could not be checked yet."""
        found = [p for p in problems if isinstance(p, str)]
        if found:
            return "\n".join(found), "problem", 0
        if any(p is UNCHECKED for p in problems):
            return (
                self.env._("Not checked yet: read the lists from Xero (Refresh from Xero)."),
                "unchecked",
                1,
            )
        return False, "ok", 2

    # -- what Xero has -------------------------------------------------------------------------------
    def _halo_store_tracking(self, categories):
        """Store Xero's tracking categories (SDK ``TrackingCategory`` objects)."""
        self.ensure_one()
        self.env["halo.xero.tracking.option"]._halo_store(
            self,
            [
                (cat.name, _value(cat.status), [(opt.name, _value(opt.status)) for opt in cat.options or []])
                for cat in categories
                if cat.name
            ],
        )

    def _halo_store_tax_rates(self, rates):
        self.ensure_one()
        self.env["halo.xero.tax.rate"]._halo_store(
            self,
            [
                {
                    "tax_type": rate.tax_type,
                    "name": rate.name,
                    "status": _value(rate.status),
                    "effective_rate": float(rate.effective_rate or 0),
                    "can_apply_to_revenue": bool(rate.can_apply_to_revenue),
                }
                for rate in rates
            ],
        )

    def _halo_store_items(self, items):
        self.ensure_one()
        self.env["halo.xero.item"]._halo_store(
            self,
            [
                {
                    "xero_id": str(item.item_id),
                    "code": item.code,
                    "name": item.name,
                    "is_sold": item.is_sold is not False,
                    "is_tracked": bool(item.is_tracked_as_inventory),
                    "account_code": (item.sales_details.account_code if item.sales_details else False)
                    or False,
                    "tax_type": (item.sales_details.tax_type if item.sales_details else False) or False,
                }
                for item in items
                if item.code
            ],
        )

    # -- actions ---------------------------------------------------------------------------------------
    def action_halo_open_mapping(self):
        self.ensure_one()
        halo_check_caller(self, BILLING_MANAGER, "read")
        return {
            "type": "ir.actions.act_window",
            "res_model": "halo.xero.connection",
            "res_id": self.id,
            "view_mode": "form",
            "name": self.env._("Xero Mapping"),
            "views": [
                (self.env.ref("halo_helpdesk_billing.halo_xero_connection_view_form_mapping").id, "form")
            ],
        }

    def action_halo_refresh_lists(self):
        """Read Xero's chart of accounts, tax rates, items and tracking categories again (four calls), so that
        every mapping row is checked against Xero as it is now."""
        halo_check_caller(self, BILLING_MANAGER, "write")
        for conn in self.sudo():
            if conn.state != "connected":
                raise UserError(
                    self.env._(
                        "The Xero connection %(name)s is not connected: connect it first.", name=conn.name
                    )
                )
            client = conn._halo_client()
            try:
                accounts = client.call(conn.tenant_id, "get_accounts").accounts or []
                rates = client.call(conn.tenant_id, "get_tax_rates").tax_rates or []
                items = client.call(conn.tenant_id, "get_items", unitdp=4).items or []
                tracking = client.call(conn.tenant_id, "get_tracking_categories", include_archived=True)
            except xc.XeroError as err:
                raise UserError(str(err)) from None
            self.env["halo.xero.account"]._halo_store(conn, accounts)
            conn._halo_store_tax_rates(rates)
            conn._halo_store_items(items)
            conn._halo_store_tracking(tracking.tracking_categories or [])
        return True

    # -- currencies --------------------------------------------------------------------------------
    def _halo_xero_import_currencies(self, client=None):
        """Import the organisation's enabled currencies (one call)."""
        self.ensure_one()
        client = client or self._halo_client()
        result = client.call(self.tenant_id, "get_currencies")
        codes = [str(getattr(c.code, "value", c.code)) for c in result.currencies or [] if c.code]
        self.sudo().halo_xero_currencies = " ".join(codes)
        if not self.halo_xero_base_currency:  # read with the lock dates (import, check); else one call
            self._halo_store_lock_dates(client.call(self.tenant_id, "get_organisations"))
        return codes

    def action_halo_xero_import_currencies(self):
        halo_check_caller(self, BILLING_MANAGER, "write")
        for conn in self:
            conn.sudo()._halo_xero_import_currencies()
        return True

    def _halo_xero_currency_codes(self):
        return set((self.halo_xero_currencies or "").split())

    # -- retry ---------------------------------------------------------------------------------------
    def action_halo_xero_retry_money(self):
        """Read again from Xero the invoices that need attention (skipped or failed payments) and reconcile."""
        halo_check_caller(self, BILLING_MANAGER, "write")
        for conn in self:
            conn.sudo()._halo_xero_retry_attention()
        return True

    def _halo_xero_retry_attention(self, client=None):
        self.ensure_one()
        moves = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("halo_xero_connection_id", "=", self.id),
                    ("halo_xero_attention", "=", True),
                    ("halo_xero_invoice_id", "!=", False),
                    ("move_type", "=", "out_invoice"),
                ]
            )
        )
        if moves:
            moves._halo_xero_fetch(self, client or self._halo_client(), moves.mapped("halo_xero_invoice_id"))
        return moves

    # -- poll: least traffic --------------------------------------------------------------------------
    def _halo_xero_poll_start(self):
        """Where a first poll starts: the oldest invoice Odoo sent to this connection, else its creation."""
        self.ensure_one()
        oldest = (
            self.env["account.move"]
            .sudo()
            .search(
                [("halo_xero_connection_id", "=", self.id), ("halo_xero_sent_at", "!=", False)],
                order="halo_xero_sent_at",
                limit=1,
            )
            .halo_xero_sent_at
        )
        start = min(filter(None, [oldest, self.create_date]))
        return start - timedelta(minutes=5)

    def _halo_xero_poll_changes(self, client, method, apply, since_field, page_size):
        """Customer documents only (``Type=="ACCREC"`` / ``"ACCRECCREDIT"``; invoices as ``summaryOnly``), from
        the watermark (or the poll's start: no whole-history read), the largest pages Xero allows; the
        watermark is saved (and, in the cron, committed) after every page."""
        Move = self.env["account.move"].sudo()
        if method == "get_invoices":
            kwargs = {"where": 'Type=="ACCREC"', "summary_only": True}
            apply_page = lambda conn, docs: Move._halo_xero_apply_summaries(conn, client, docs)  # noqa: E731
        else:
            kwargs = {"where": 'Type=="ACCRECCREDIT"'}
            apply_page = apply
        # a pass cut short (out of time) goes on where it stopped: same If-Modified-Since, next page
        resume = dict(self.halo_xero_poll_resume or {})
        pending = resume.get(since_field)
        if pending:
            since, start_page = datetime.fromisoformat(pending["since"]), int(pending["page"])
        else:
            since, start_page = self[since_field] or self._halo_xero_poll_start(), 1
        newest = self[since_field]
        pages = 0
        for page, documents in client.paged(
            self.tenant_id,
            method,
            page_size=page_size,
            start_page=start_page,
            if_modified_since=since,
            order="UpdatedDateUTC ASC",
            **kwargs,
        ):
            pages += 1
            apply_page(self, documents)
            for document in documents:
                updated = _naive_utc(document.updated_date_utc)
                if updated and (not newest or updated > newest):
                    newest = updated
            if newest and newest != self[since_field]:
                self[since_field] = newest
            full = len(documents) >= page_size
            if full:
                resume[since_field] = {"since": since.isoformat(), "page": page + 1}
            else:
                resume.pop(since_field, None)
            if resume != (self.halo_xero_poll_resume or {}):
                self.halo_xero_poll_resume = resume or False
            Move._halo_xero_commit()  # commits only in the cron: a page done is never read again
            if full and self._halo_xero_poll_out_of_time():
                return pages  # the cron's next chunk goes on from the next page
        if method == "get_invoices":
            self._halo_xero_poll_deleted_payments(client)
            self._halo_xero_retry_attention(client)
        return pages

    def _halo_xero_poll_out_of_time(self):
        deadline = self.env.context.get("halo_xero_poll_deadline")
        return deadline is not None and time.monotonic() >= deadline

    def _halo_xero_poll(self, page_size=POLL_PAGE_SIZE):
        """At least one page; a poll cut short (its invoices not all read) reads no credit notes in that chunk:
        the next chunk goes on."""
        self.ensure_one()
        client = self._halo_client()
        Move = self.env["account.move"].sudo()
        pages = self._halo_xero_poll_changes(
            client, "get_invoices", Move._halo_xero_apply_remote, "halo_xero_poll_since", page_size
        )
        if not (self.halo_xero_poll_resume or {}).get("halo_xero_poll_since"):
            self._halo_xero_poll_credit_notes(client, page_size)
        return pages

    @api.model
    def _cron_halo_xero_poll(self):
        """One chunk of the poll, well under the cron's time limit: the connections whose last pass was cut
        short first (only they, while there are some), each until Odoo's cron run is out of time
        (``cron_end_time``, 10 s after it started; else ``POLL_CHUNK_SECONDS``). Odoo's runner calls again
        while some remain; once out of time, a call does nothing, so its job run ends (rescheduled at once)."""
        now = time.monotonic()
        deadline = min(
            self.env.context.get("cron_end_time") or now + POLL_CHUNK_SECONDS, now + POLL_CHUNK_SECONDS
        )
        connections = self.search([("state", "=", "connected")])
        pending = connections.filtered("halo_xero_poll_resume")
        todo = pending or connections
        done = 0
        for connection in todo:
            if done and time.monotonic() >= deadline:
                break
            if time.monotonic() >= deadline and pending:
                break  # out of time already: done=0 ends the job run (Odoo reschedules it at once)
            try:
                # the marker lets the poll commit after every page (its watermark is then durable)
                XERO_COMMIT.on(connection).with_context(halo_xero_poll_deadline=deadline)._halo_xero_poll()
            except XeroError as err:
                _logger.info("Xero poll postponed for connection %s: %s", connection.id, err)
            done += 1
        remaining = len(connections.filtered("halo_xero_poll_resume"))
        self.env["ir.cron"]._commit_progress(done, remaining=remaining)
        return remaining

    def _halo_xero_poll_deleted_payments(self, client):
        """Payments deleted in Xero since the last poll (``/Payments`` with If-Modified-Since returns them with
        Status DELETED): their invoices are read again and reconciled. A redo keeps the AmountDue, so the
        invoice summary alone would not show it."""
        since = self.halo_xero_poll_payments_since or self._halo_xero_poll_start()
        newest = self.halo_xero_poll_payments_since
        invoice_ids = set()
        Payment = self.env["halo.xero.payment"].sudo()
        for _page, payments in client.paged(
            self.tenant_id,
            "get_payments",
            page_size=POLL_PAGE_SIZE,
            if_modified_since=since,
            where='Status=="DELETED" AND PaymentType=="ACCRECPAYMENT"',
        ):
            ids = [str(p.payment_id) for p in payments if p.payment_id]
            ours = Payment.search(
                [
                    ("tenant_id", "=", self.tenant_id),
                    ("xero_payment_id", "in", ids),
                    ("state", "=", "registered"),
                ]
            )
            invoice_ids |= set(ours.move_id.mapped("halo_xero_invoice_id"))
            for payment in payments:
                updated = _naive_utc(payment.updated_date_utc)
                if updated and (not newest or updated > newest):
                    newest = updated
        if invoice_ids:
            self.env["account.move"].sudo()._halo_xero_fetch(self, client, sorted(invoice_ids))
        if newest and newest != self.halo_xero_poll_payments_since:
            self.halo_xero_poll_payments_since = newest
        return invoice_ids

    def _halo_xero_poll_credit_notes(self, client, page_size=100):
        """Status of credit notes changed in Xero since the last poll (paged, If-Modified-Since).
        Their allocations are not payments: an invoice's AmountCredited never registers one."""
        Move = self.env["account.move"].sudo()
        return self._halo_xero_poll_changes(
            client,
            "get_credit_notes",
            Move._halo_xero_apply_remote,
            "halo_xero_poll_cn_since",
            page_size,
        )


def _plain_date(value):
    """A date of the SDK (``date`` or ``datetime``, or None) as a ``date`` or False."""
    if not value:
        return False
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def _session_hash(session_sid):
    import hashlib

    return hashlib.sha256(("halo-xero:%s" % (session_sid or "")).encode()).hexdigest()
