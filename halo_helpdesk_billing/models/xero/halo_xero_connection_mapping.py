# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The mapping of a Xero connection: what Odoo's taxes, products and categories are in Xero, the default and
rounding accounts and the tracking category, each checked against what was imported from Xero."""

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER

from ...services import xero_client as xc
from .halo_xero_connection import halo_check_caller
from .halo_xero_link_mixin import PROBLEM_STATES

UNCHECKED = object()  # a check that needs a list not imported from Xero yet


def _value(value):
    return getattr(value, "value", value)


class HaloXeroConnection(models.Model):
    _inherit = "halo.xero.connection"

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
