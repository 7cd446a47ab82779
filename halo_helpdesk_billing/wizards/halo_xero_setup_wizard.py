# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.http import request
from odoo.modules import module as odoo_module

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER

from ..services import xero_client as xc

_logger = logging.getLogger(__name__)

CALLBACK_PATH = "/halo_xero/oauth/callback"
WIZARD_ACTION = "halo_helpdesk_billing.halo_xero_setup_wizard_action"


class HaloXeroSetupWizard(models.TransientModel):
    """One-click set-up: credentials -> connect (consent) -> organisation -> preview -> import."""

    _name = "halo.xero.setup.wizard"
    _description = "Xero Set-up"

    step = fields.Selection(
        [
            ("credentials", "Credentials"),
            ("tenant", "Organisation"),
            ("preview", "Preview"),
            ("import", "Import"),
            ("settings", "Invoices and Payments"),
            ("checklist", "Checklist"),
        ],
        default="credentials",
        required=True,
    )
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    connection_id = fields.Many2one("halo.xero.connection")
    auth_type = fields.Selection(
        [("code", "Xero login (recommended)"), ("client_credentials", "Custom connection")],
        string="Connection Type",
        default="code",
        required=True,
    )
    use_pkce = fields.Boolean(string="Use PKCE")
    client_id = fields.Char(string="Client ID")
    client_secret = fields.Char()
    error_message = fields.Text(readonly=True)
    tenant_line_ids = fields.One2many("halo.xero.setup.tenant", "wizard_id", string="Organisations")
    tenant_name = fields.Char(related="connection_id.tenant_name")
    xero_contacts = fields.Integer(string="Customers in Xero", readonly=True)
    xero_items = fields.Integer(string="Items in Xero", readonly=True)
    xero_tax_rates = fields.Integer(string="Sales Tax Rates in Xero", readonly=True)
    xero_revenue_accounts = fields.Integer(string="Revenue Accounts in Xero", readonly=True)
    odoo_linked_partners = fields.Integer(string="Customers Already Linked", readonly=True)
    odoo_linked_products = fields.Integer(string="Items Already Linked", readonly=True)
    import_id = fields.Many2one("halo.xero.import", readonly=True)
    import_state = fields.Selection(related="import_id.state")
    import_progress = fields.Float(related="import_id.progress")
    import_progress_label = fields.Char(related="import_id.progress_label")
    import_contacts_created = fields.Integer(related="import_id.contacts_created")
    import_contacts_linked = fields.Integer(related="import_id.contacts_linked")
    import_items_created = fields.Integer(related="import_id.items_created")
    import_items_linked = fields.Integer(related="import_id.items_linked")
    import_review_count = fields.Integer(related="import_id.review_count")
    import_last_error = fields.Text(related="import_id.last_error")
    connection_state = fields.Selection(related="connection_id.state", string="Connection State")
    # step 5: what the push and the payments need (written to the connection by action_save_settings)
    invoice_status = fields.Selection(
        [("DRAFT", "Draft"), ("AUTHORISED", "Approved (Awaiting Payment)")],
        string="Invoice Status in Xero",
        default="AUTHORISED",
    )
    payment_journal_id = fields.Many2one(
        "account.journal",
        domain="[('type', 'in', ('bank', 'cash')), ('company_id', '=', company_id)]",
        help="Journal of the payments recorded in Odoo when Xero reports an invoice paid.",
    )
    default_account_code = fields.Char(
        string="Default Revenue Account Code",
        help="Xero account code of invoice lines whose product has none.",
    )
    rounding_account_code = fields.Char(help="Xero's ROUNDING system account (found by the import).")
    webhook_key = fields.Char(
        help="The key of the webhook set up in the Xero app "
        "(Odoo keeps it server-side; leave empty to keep the stored one)."
    )
    webhook_key_set = fields.Boolean(string="Webhook Key Stored", readonly=True)
    webhook_url = fields.Char(string="Webhook URL", compute="_compute_webhook_url")
    # step 6: checklist, and the invoices posted before connecting
    checklist_html = fields.Html(compute="_compute_checklist", sanitize=False, string="Checklist")
    checklist_ok = fields.Boolean(compute="_compute_checklist")
    send_days = fields.Integer(string="Posted in the Last (Days)", default=30)
    unsent_count = fields.Integer(string="Posted Invoices Not in Xero", compute="_compute_unsent")

    @api.depends("company_id")
    def _compute_display_name(self):
        for wizard in self:
            wizard.display_name = self.env._("Xero Set-up: %(company)s", company=wizard.company_id.name or "")

    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for wizard in self:
            wizard.webhook_url = base.rstrip("/") + "/halo_xero/webhook"

    def _halo_unsent_domain(self):
        self.ensure_one()
        since = fields.Date.context_today(self) - timedelta(days=max(self.send_days, 0))
        return [
            ("company_id", "=", self.company_id.id),
            ("state", "=", "posted"),
            ("move_type", "in", ("out_invoice", "out_refund")),
            ("halo_xero_state", "=", "not_queued"),
            ("invoice_date", ">=", since),
        ]

    @api.depends("send_days", "company_id")
    def _compute_unsent(self):
        Move = self.env["account.move"].sudo()
        for wizard in self:
            wizard.unsent_count = Move.search_count(wizard._halo_unsent_domain()) if wizard.company_id else 0

    def _halo_checklist(self):
        """[(ok, label, what to fix)] of what the push and the payments need."""
        self.ensure_one()
        conn = self.connection_id.sudo()
        _ = self.env._
        accounts = (
            self.env["halo.xero.account"].sudo().search([("connection_id", "=", conn.id)]) if conn else []
        )
        codes = {a.code for a in accounts}
        connected = bool(conn) and conn.state == "connected"
        imported = (
            bool(conn)
            and self.env["res.partner"].sudo().search_count([("halo_xero_connection_id", "=", conn.id)]) > 0
        )
        reviews = (
            self.env["halo.xero.import.review"]
            .sudo()
            .search_count([("connection_id", "=", conn.id), ("state", "=", "pending")])
            if conn
            else 0
        )
        taxes_review = (
            self.env["halo.xero.tax.link"]
            .sudo()
            .search_count([("connection_id", "=", conn.id), ("review", "=", True)])
            if conn
            else 0
        )
        return [
            (
                connected,
                _("Connected to %(org)s", org=conn.tenant_name or "-")
                if connected
                else _("Connected to a Xero organisation"),
                _("Go back to Credentials and connect."),
            ),
            (imported, _("Customers and items imported"), _("Run the import.")),
            (
                not reviews,
                _("No customer waiting for review"),
                _("%(count)s customers to review (Xero > Customers to Review).", count=reviews),
            ),
            (
                not taxes_review,
                _("Sales taxes mapped to Xero tax types"),
                _(
                    "%(count)s taxes flagged Xero Mapping to Review (Billing > Configuration > Xero > Mapping).",
                    count=taxes_review,
                ),
            ),
            (
                bool(conn.payment_journal_id) if conn else False,
                _("Payment journal for payments from Xero"),
                _("Choose a bank or cash journal: without it, payments from Xero cannot be recorded."),
            ),
            (
                bool(conn.default_account_code) and (not codes or conn.default_account_code in codes)
                if conn
                else False,
                _("Default revenue account %(code)s exists in Xero", code=conn.default_account_code or "-")
                if conn
                else _("Default revenue account"),
                _("Enter a revenue account code of the organisation (Xero > Xero Accounts)."),
            ),
            (
                bool(conn.rounding_account_code) if conn else False,
                _("Rounding account"),
                _("Enter the code of Xero's ROUNDING account (found by the import)."),
            ),
            (
                bool(conn.webhook_key) if conn else False,
                _("Webhook key: payments come back at once"),
                _(
                    "Optional: without a webhook key, payments arrive with the 15-minute poll. Point the Xero "
                    "app's webhook at %(url)s and enter its key.",
                    url=self.webhook_url,
                ),
            ),
        ]

    @api.depends(
        "connection_id", "step", "payment_journal_id", "default_account_code", "rounding_account_code"
    )
    def _compute_checklist(self):
        for wizard in self:
            items = wizard._halo_checklist() if wizard.company_id else []
            rows = []
            for ok, label, fix in items:
                rows.append(
                    Markup('<li class="%s"><i class="fa %s me-2" role="img" aria-label="%s"/>%s%s</li>')
                    % (
                        "text-success o_halo_check_ok" if ok else "text-danger o_halo_check_todo",
                        "fa-check-circle" if ok else "fa-times-circle",
                        "ok" if ok else "to fix",
                        label,
                        Markup("") if ok else Markup(' <span class="text-muted">— %s</span>') % fix,
                    )
                )
            wizard.checklist_html = Markup(
                '<ul class="list-unstyled o_halo_xero_checklist">%s</ul>'
            ) % Markup("").join(rows)
            # the webhook key is optional: everything else must be done
            wizard.checklist_ok = bool(items) and all(ok for ok, *_rest in items[:-1])

    @api.model
    def _action_open(self, connection=None):
        """The wizard on the company's connection (prefilled, at the checklist once connected)."""
        if not self.env.su and not self.env.user.has_group(BILLING_MANAGER):
            raise AccessError(self.env._("Only billing managers can connect Odoo to Xero."))
        company = connection.company_id if connection else self.env.company
        wizard = self.create({"company_id": company.id})
        if wizard.connection_id.state == "connected":
            wizard.step = "checklist"
        return wizard._action_reopen()

    @api.model
    def action_open_company_setup(self):
        """Billing > Configuration > Xero > Set-up: the current company's connection in the wizard."""
        return self._action_open()

    @api.model_create_multi
    def create(self, vals_list):
        wizards = super().create(vals_list)
        wizards._halo_check_company()
        for wizard, vals in zip(wizards, vals_list, strict=True):
            conn = (
                self.env["halo.xero.connection"]
                .sudo()
                .search([("company_id", "=", wizard.company_id.id)], limit=1)
            )
            if conn:
                defaults = {
                    "connection_id": conn.id,
                    "auth_type": conn.auth_type,
                    "use_pkce": conn.use_pkce,
                    "client_id": conn.client_id,
                    "invoice_status": conn.invoice_status,
                    "payment_journal_id": conn.payment_journal_id.id,
                    "default_account_code": conn.default_account_code,
                    "rounding_account_code": conn.rounding_account_code,
                    "webhook_key_set": bool(conn.webhook_key),
                }
                wizard.write({k: v for k, v in defaults.items() if k not in vals})
        return wizards

    def write(self, vals):
        result = super().write(vals)
        if {"company_id", "connection_id"} & set(vals):
            self._halo_check_company()
        return result

    def _halo_check_company(self):
        """A wizard sets up one of the caller's own allowed companies, with that company's connection
        (checked in create and write: constraints run as superuser)."""
        if self.env.su:
            return
        allowed = self.env.user.company_ids
        for wizard in self.sudo():
            if wizard.company_id not in allowed:
                raise ValidationError(
                    self.env._(
                        "You may set up Xero only for your own companies, not for %(company)s.",
                        company=wizard.company_id.name,
                    )
                )
            if wizard.connection_id and wizard.connection_id.company_id != wizard.company_id:
                raise ValidationError(
                    self.env._(
                        "The Xero connection %(connection)s belongs to %(other)s, not to %(company)s.",
                        connection=wizard.connection_id.display_name,
                        other=wizard.connection_id.company_id.name,
                        company=wizard.company_id.name,
                    )
                )

    def _halo_check_caller(self):
        """Every step works as superuser on the company's connection: only a billing manager, on a
        wizard of their own, for one of their companies."""
        self.ensure_one()
        if self.env.su:
            return
        if not self.env.user.has_group(BILLING_MANAGER):
            raise AccessError(self.env._("Only billing managers can connect Odoo to Xero."))
        self.check_access("write")
        if self.create_uid != self.env.user:
            raise AccessError(self.env._("This Xero set-up was started by another user."))
        self._halo_check_company()

    def _action_reopen(self):
        """The wizard itself (from the menu and a connection: the breadcrumbs start again at it)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(WIZARD_ACTION)
        action.update(res_id=self.id, target="main", name=self.display_name)
        return action

    # -- step 1: credentials and connect ------------------------------------------------------------
    def _halo_connection(self):
        """The company's connection with the credentials of the wizard (system fields: sudo)."""
        self.ensure_one()
        self._halo_check_caller()
        Connection = self.env["halo.xero.connection"].sudo()
        conn = self.connection_id.sudo() or Connection.search(
            [("company_id", "=", self.company_id.id)], limit=1
        )
        if not conn:
            conn = Connection.create({"company_id": self.company_id.id, "name": "Xero"})
        vals = {"auth_type": self.auth_type, "use_pkce": self.use_pkce}
        if self.client_id:
            vals["client_id"] = self.client_id.strip()
        if self.client_secret:
            vals["client_secret"] = self.client_secret.strip()
        conn.write(vals)
        if not conn.client_id:
            raise UserError(self.env._("Enter the client ID of your Xero app."))
        self.write({"connection_id": conn.id, "client_secret": False, "error_message": False})
        return conn

    def action_connect(self):
        self.ensure_one()
        conn = self._halo_connection()
        if self.auth_type == "client_credentials":
            try:
                tenants = conn._halo_connect_client_credentials()
            except UserError as err:
                self.error_message = str(err)
                return self._action_reopen()
            self._halo_set_tenants(tenants)
            return self._action_reopen()
        if not request:
            raise UserError(self.env._("Connecting to Xero needs a browser session."))
        # Xero compares the redirect URI exactly with the app's registered one: build it from Odoo's
        # configured base URL (behind a proxy the request's host is not the public one)
        base = (
            self.env["ir.config_parameter"].sudo().get_param("web.base.url") or request.httprequest.host_url
        )
        redirect_uri = base.rstrip("/") + CALLBACK_PATH
        url = conn._halo_start_oauth(redirect_uri, request.session.sid, wizard_id=self.id)
        return {"type": "ir.actions.act_url", "url": url, "target": "self"}

    # -- step 2: organisation -------------------------------------------------------------------------
    def _halo_set_tenants(self, tenants):
        self.ensure_one()
        self.tenant_line_ids.unlink()
        # only organisations have the Accounting API (Xero lists practices and others too)
        tenants = [t for t in tenants or [] if (t.get("tenant_type") or "ORGANISATION") == "ORGANISATION"]
        if not tenants:
            self.write(
                {
                    "step": "credentials",
                    "error_message": self.env._(
                        "Xero granted access to no organisation; connect again and tick one."
                    ),
                }
            )
            return
        self.write(
            {
                "step": "tenant",
                "error_message": False,
                "tenant_line_ids": [
                    fields.Command.create(
                        {
                            "tenant_id": t["tenant_id"],
                            "name": t["tenant_name"],
                            "tenant_type": t.get("tenant_type"),
                            "xero_connection_ref": t.get("id"),
                        }
                    )
                    for t in tenants
                ],
            }
        )

    def _halo_select(self, line):
        self.ensure_one()
        self._halo_check_caller()
        conn = self.connection_id.sudo()
        conn._halo_select_tenant(
            {"tenant_id": line.tenant_id, "tenant_name": line.name, "id": line.xero_connection_ref}
        )
        self._halo_preview()
        return self._action_reopen()

    # -- step 3: preview ------------------------------------------------------------------------------
    def _halo_preview(self):
        self.ensure_one()
        conn = self.connection_id.sudo()
        client = conn._halo_client()
        tid = conn.tenant_id
        try:
            first = client.call(tid, "get_contacts", page=1, page_size=1, where='ContactStatus=="ACTIVE"')
            items = client.call(tid, "get_items").items or []
            rates = client.call(tid, "get_tax_rates").tax_rates or []
            accounts = client.call(tid, "get_accounts").accounts or []
        except xc.XeroAuthError as err:
            conn._halo_mark_needs_reauth(str(err))
            self.write({"step": "credentials", "error_message": str(err)})
            return
        except xc.XeroError as err:
            self.write({"error_message": str(err)})
            return
        pagination = getattr(first, "pagination", None)
        self.write(
            {
                "step": "preview",
                "error_message": False,
                "xero_contacts": pagination.item_count
                if pagination and pagination.item_count is not None
                else len(first.contacts or []),
                "xero_items": len([i for i in items if i.is_sold is not False]),
                "xero_tax_rates": len(
                    [r for r in rates if r.can_apply_to_revenue and _value(r.status) == "ACTIVE"]
                ),
                "xero_revenue_accounts": len(
                    [
                        a
                        for a in accounts
                        if _value(a._class) == "REVENUE"
                        and _value(a.status) == "ACTIVE"
                        and not a.system_account
                    ]
                ),
                "odoo_linked_partners": self.env["res.partner"]
                .sudo()
                .search_count([("halo_xero_connection_id", "=", conn.id)]),
                "odoo_linked_products": self.env["product.template"]
                .sudo()
                .search_count([("halo_xero_connection_id", "=", conn.id)]),
            }
        )

    # -- step 4: import -------------------------------------------------------------------------------
    def action_import(self, time_budget=20):
        self.ensure_one()
        self._halo_check_caller()
        imp = self.env["halo.xero.import"].sudo()._halo_start(self.connection_id)
        self.write({"import_id": imp.id, "step": "import", "error_message": False})
        imp._halo_run(time_budget=time_budget, commit=not odoo_module.current_test)
        if imp.state in ("running", "paused"):
            self.env.ref("halo_helpdesk_billing.ir_cron_halo_xero_refresh").sudo()._trigger()
        return self._action_reopen()

    def action_refresh(self):
        self._halo_check_caller()
        return self._action_reopen()

    def action_back(self):
        self.ensure_one()
        self.write({"step": "credentials", "error_message": False})
        return self._action_reopen()

    def action_open_reviews(self):
        self.ensure_one()
        return self.import_id.action_open_reviews()

    # -- step 5: invoices and payments ----------------------------------------------------------------
    def action_settings(self):
        self.ensure_one()
        self._halo_check_caller()
        conn = self.connection_id.sudo()
        if not conn:
            raise UserError(self.env._("Connect to Xero first."))
        self.write(
            {
                "step": "settings",
                "error_message": False,
                "invoice_status": conn.invoice_status,
                "payment_journal_id": conn.payment_journal_id.id,
                "default_account_code": conn.default_account_code,
                "rounding_account_code": conn.rounding_account_code or self._halo_rounding_code(conn),
                "webhook_key_set": bool(conn.webhook_key),
            }
        )
        return self._action_reopen()

    def _halo_rounding_code(self, conn):
        rounding = (
            self.env["halo.xero.account"]
            .sudo()
            .search([("connection_id", "=", conn.id), ("system_account", "=", "ROUNDING")], limit=1)
        )
        return rounding.code or False

    def action_save_settings(self):
        """Write the push and payment settings to the connection (as superuser: the webhook key is a
        system field, typed here and never read back), then show the checklist."""
        self.ensure_one()
        self._halo_check_caller()
        conn = self.connection_id.sudo()
        if not conn:
            raise UserError(self.env._("Connect to Xero first."))
        journal = self.sudo().payment_journal_id
        if journal and (journal.company_id != self.company_id or journal.type not in ("bank", "cash")):
            raise ValidationError(
                self.env._(
                    "The payment journal must be a bank or cash journal of %(company)s.",
                    company=self.company_id.name,
                )
            )
        vals = {
            "invoice_status": self.invoice_status or conn.invoice_status,
            "payment_journal_id": journal.id,
            "default_account_code": (self.default_account_code or "").strip() or False,
            "rounding_account_code": (self.rounding_account_code or "").strip() or False,
        }
        if self.webhook_key:
            vals["webhook_key"] = self.webhook_key.strip()
        conn.write(vals)
        self.write(
            {
                "webhook_key": False,
                "webhook_key_set": bool(conn.webhook_key),
                "step": "checklist",
                "error_message": False,
            }
        )
        return self._action_reopen()

    # -- step 6: checklist, and invoices posted before connecting --------------------------------------
    def action_send_unsent(self):
        """Queue the company's posted invoices of the last ``send_days`` days that are not in Xero."""
        self.ensure_one()
        self._halo_check_caller()
        if self.connection_id.sudo().state != "connected":
            raise UserError(self.env._("Connect to Xero first."))
        moves = self.env["account.move"].sudo().search(self._halo_unsent_domain())
        moves._halo_xero_queue()  # enqueues their background jobs
        queued = moves.filtered(lambda m: m.halo_xero_state == "queued")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success" if queued else "info",
                "sticky": False,
                "title": self.env._("Xero"),
                "message": self.env._(
                    "%(count)s posted invoices will be sent to Xero in a moment.", count=len(queued)
                ),
                "next": self._action_reopen(),
            },
        }

    def action_open_customers(self):
        self.ensure_one()
        partners = self.env["res.partner"].search([("halo_xero_connection_id", "=", self.connection_id.id)])
        return partners._get_records_action(name=self.env._("Customers from Xero"))


class HaloXeroSetupTenant(models.TransientModel):
    _name = "halo.xero.setup.tenant"
    _description = "Xero Organisation (set-up)"

    wizard_id = fields.Many2one("halo.xero.setup.wizard", required=True, ondelete="cascade")
    tenant_id = fields.Char(string="Organisation ID", required=True)
    name = fields.Char(string="Organisation", required=True)
    tenant_type = fields.Char(string="Type")
    xero_connection_ref = fields.Char()

    def action_select(self):
        self.ensure_one()
        self.wizard_id._halo_check_caller()
        return self.wizard_id._halo_select(self)


def _value(value):
    return getattr(value, "value", value)
