# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Security sweep over real JSON-RPC: every model the addon defines or extends, every public
method its classes define and every ``halo_*`` context key its code reads, tried by a
technician and a portal user as a hostile client would (``/web/session/authenticate``, then
``/web/dataset/call_kw`` with any ids, arguments and context).

The lists come from the running code (``ir.model.data`` of the addon, the model classes'
MRO, a grep of the addon's source), so a model, method, money field or context key added
later is swept without editing this file; only the reviewed lists below need a decision.
Each problem found is a failing sub-test, and each test ends with the full list of what it
found, so one run shows every gap, not only the first one.
"""

import inspect
import logging
import re
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon
from .common import BILLING_MANAGER, BILLING_USER
from .contract_common import HaloContractCommon
from .rpc_common import HaloRpcCase, RpcError

_logger = logging.getLogger(__name__)

ADDON = "halo_helpdesk_billing"
ADDON_PACKAGE = f"odoo.addons.{ADDON}"
ADDON_ROOT = Path(__file__).resolve().parents[1]

# Groups that may see money: the billing groups and system administrators.
MONEY_GROUPS = {BILLING_USER, BILLING_MANAGER, "base.group_system"}
# Money that one more group reads, with the reason: (model, field) -> {group: why}.
MONEY_ALSO_FOR = {
    ("account.analytic.line", "amount"): {
        "account.group_account_readonly": "accountants read every journal item (the timesheet cost is "
        "booked there too) and the analytic reports total it",
    },
    ("timesheets.analysis.report", "amount"): {
        "account.group_account_readonly": "the same timesheet cost, summed by Odoo's timesheet analysis",
    },
}

# Money beyond monetary fields: floats, texts and JSON that carry prices or amounts.
# (model, field) -> why it is money.
MONEY_FIELDS = {
    ("halo.contract", "threshold_alert_credit"): "hours, or money on money contracts, credited when notified",
    (
        "account.analytic.line",
        "halo_rating_explanation",
    ): "the pricing explained, with unit prices and amounts",
    ("account.analytic.line", "halo_rating_data"): "segments with unit prices and amounts",
    (
        "account.analytic.line",
        "halo_billable_hours",
    ): "minimum / increment / rounding terms: x hourly price = amount",
    ("account.analytic.line", "halo_rate_version_id"): "points at the price version (hourly price)",
    ("halo.mileage", "halo_explanation"): "the price of the trip explained",
    ("halo.expense", "halo_explanation"): "the billed amount explained",
    ("halo.ticket.item", "halo_explanation"): "the billed amount explained",
    ("halo.billing.run.line", "explanation"): "the pricing and contract coverage explained, with amounts",
    ("halo.billing.run.line", "parts"): "unit prices and amounts of each part of the charge",
    ("halo.contract", "topup_block"): "an amount on money-prepay contracts",
    ("halo.contract", "threshold_value"): "an amount on money-prepay contracts (absolute threshold)",
    ("halo.contract.ledger", "explanation"): "the allocation explained, with amounts and balances",
    ("halo.rating.audit", "old_explanation"): "the pricing explained, with amounts",
    ("halo.rating.audit", "new_explanation"): "the pricing explained, with amounts",
    ("res.company", "halo_expense_markup"): "the markup expenses are billed at",
    ("res.partner", "halo_expense_markup"): "the markup expenses are billed at",
    ("res.users", "halo_expense_markup"): "res.partner's field, read through the user",
    ("res.partner", "halo_mileage_price"): "the customer's price per km / mile (a company-dependent Float)",
    ("res.users", "halo_mileage_price"): "res.partner's field, read through the user",
    (
        "res.partner",
        "halo_mileage_surcharge",
    ): "the customer's surcharge per trip (a company-dependent Float)",
    ("res.users", "halo_mileage_surcharge"): "res.partner's field, read through the user",
    ("halo.xero.drift", "odoo_value"): "the drifted value can be a product's sales price",
    ("halo.xero.drift", "xero_value"): "the drifted value can be a product's sales price",
    ("halo.xero.drift", "previous_value"): "the drifted value can be a product's sales price",
    ("product.template", "halo_xero_synced_values"): "holds the Xero item's sales price (list_price)",
    ("product.product", "halo_xero_synced_values"): "holds the Xero item's sales price (list_price)",
    ("halo.xero.product.link", "synced_values"): "holds the Xero item's sales price (list_price)",
    ("account.move", "halo_xero_money_message"): "quotes Odoo's open amount and Xero's AmountDue",
    ("account.bank.statement.line", "halo_xero_money_message"): "account.move's field (delegated)",
    # Odoo's own field, which only the addon's groups should read (issue: analytic accounting)
    ("account.analytic.line", "amount"): "the timesheet cost",
    # prices fixed when the work is recorded
    ("halo.mileage", "halo_price_unit"): "the mileage price per distance unit",
    ("halo.mileage", "halo_price_surcharge"): "the surcharge per trip",
    ("halo.expense", "halo_markup"): "the markup the expense is billed at",
    ("halo.expense", "halo_type_surcharge"): "the surcharge the expense is billed with",
}
# Monetary fields technicians write but read back empty (write-only entry fields).
WRITE_ONLY_FIELDS = {
    ("halo.expense", "amount_entry"): "the technician's entry; the stored amount is hidden (given back "
    "to whoever recorded the expense: what they paid, see OWN_ENTRY_FIELDS)",
    ("halo.ticket.item", "cost_entry"): "the technician's entry; the stored cost is hidden",
    ("halo.ticket.item", "price_entry"): "the technician's entry; the stored price is hidden",
}
# Write-only fields that give back to the record's ``user_id`` what they entered themselves.
OWN_ENTRY_FIELDS = {("halo.expense", "amount_entry")}
# Names that look like money and are not. (model, field) -> why not.
NOT_MONEY = {
    ("halo.billing.run", "halo_charge_total"): "a count of charges (background progress)",
    ("halo.billing.run", "halo_chunk_total"): "a count of chunks (background progress)",
    ("halo.contract", "consumption_multiplier"): "hours of the balance drawn per hour of work: a ratio",
    ("halo.contract", "consumption_ooh_multiplier"): "a ratio of hours (out of hours)",
    ("halo.contract", "consumption_holiday_multiplier"): "a ratio of hours (holidays)",
    ("halo.charge.rate", "consumption_multiplier"): "a ratio of hours drawn from prepaid balances",
    ("halo.contract", "balance_hours"): "hours; money contracts keep their balance in balance_amount",
    ("halo.contract", "rollover_value"): "a percentage or a number of hours",
    ("halo.contract.ledger", "balance_hours_after"): "hours",
    ("halo.rating.audit", "old_hours"): "hours",
    ("halo.rating.audit", "new_hours"): "hours",
    ("halo.charge.rate.version", "ooh_multiplier"): "a multiplier, no amount",
    ("halo.charge.rate.version", "holiday_multiplier"): "a multiplier, no amount",
    ("helpdesk.ticket", "halo_mileage_total"): "distances driven",
    ("halo.xero.import", "contacts_total"): "a count",
    ("halo.xero.import", "items_total"): "a count",
    ("halo.xero.import.review", "xero_values"): "a contact's name, e-mail, tax number",
    ("res.partner", "halo_xero_synced_values"): "a contact's name, e-mail, tax number",
    ("res.users", "halo_xero_synced_values"): "res.partner's field, read through the user",
    ("halo.xero.contact.link", "synced_values"): "a contact's name, e-mail, tax number",
    ("halo.xero.tax.link", "tax_amount"): "the tax's percentage (Odoo's rate next to Xero's)",
    ("halo.billing.run", "invoice_count"): "a count",
    ("halo.contract", "invoice_count"): "a count",
    ("helpdesk.ticket", "halo_invoice_count"): "a count",
    ("halo.xero.setup.wizard", "xero_revenue_accounts"): "a count",
    ("halo.mileage", "halo_price_per"): "the distance unit the price is set per",
    ("halo.mileage", "halo_price_currency_id"): "a currency",
    ("halo.mileage", "halo_amount_currency_id"): "a currency",
    ("halo.expense", "halo_amount_currency_id"): "a currency",
    ("halo.ticket.item", "halo_amount_currency_id"): "a currency",
    ("halo.expense", "halo_price_fixed"): "a flag: the markup and surcharge were fixed",
}
MONEY_NAME = re.compile(
    r"price|amount|cost|fee|total|balance|markup|surcharge|margin|value|topup|threshold|"
    r"explanation|parts|rating_data|money|revenue|paid|due|multiplier"
)
# An amount in any text a technician or a portal user gets back
AMOUNT_IN_TEXT = re.compile(r"(?:[$£€]|\b(?:USD|GBP|EUR|NZD))\s?-?\d")

# Public methods a portal user may call, with the reason each is harmless.
WINDOW_ACTION = (
    "returns a window action built from the record's id (and, read with the caller's own "
    "rights, its name); whatever it opens is read through the caller's ACLs and record rules"
)
HARMLESS_METHODS = {
    ("account.analytic.line", "action_halo_rerate"): WINDOW_ACTION,
    ("account.move", "action_halo_open_tickets"): WINDOW_ACTION,
    ("halo.billing.run", "action_open_lines"): WINDOW_ACTION,
    ("halo.billing.run", "action_open_invoices"): WINDOW_ACTION,
    ("halo.charge.rate", "action_open_versions"): WINDOW_ACTION,
    ("halo.contract", "action_open_ledger"): WINDOW_ACTION,
    ("res.partner", "action_halo_open_contracts"): WINDOW_ACTION,
    ("res.users", "action_halo_open_contracts"): WINDOW_ACTION + " (res.partner's, through the user)",
}
# Context keys the addon reads: where each comes from is grepped below; each needs a scenario
CONTEXT_GET = re.compile(r"context\.get\(\s*(?:[\"'](halo_\w+)[\"']|([A-Z][A-Z0-9_]+))")
CONTEXT_IN = re.compile(r"[\"'](halo_\w+)[\"']\s+in\s+(?:self\.)?(?:env\.)?_?context")
CONSTANT = re.compile(r"^([A-Z][A-Z0-9_]+)\s*=\s*[\"'](halo_\w+)[\"']", re.MULTILINE)
# the engine's markers (models/halo_engine.py): context keys whose only accepted value is an object
MARKER = re.compile(r"EngineMarker\(\s*[\"'](halo_\w+)[\"']\s*\)")


def addon_context_keys():
    """``{key: [file:line, ...]}`` of every ``halo_*`` context key the addon's code reads."""
    sources = [path for path in ADDON_ROOT.rglob("*.py") if "tests" not in path.relative_to(ADDON_ROOT).parts]
    constants = {}
    for path in sources:
        constants.update(dict(CONSTANT.findall(path.read_text())))
    keys = {}
    for path in sources:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found = [literal or constants.get(name) for literal, name in CONTEXT_GET.findall(line)]
            found += CONTEXT_IN.findall(line)
            found += MARKER.findall(line)
            for key in filter(None, found):
                if key.startswith("halo_"):
                    keys.setdefault(key, []).append(f"{path.relative_to(ADDON_ROOT)}:{number}")
    return keys


class SweepCommon(HaloContractCommon, HaloBillingRunCommon, HaloRpcCase):
    """A month of work invoiced through a money-prepay contract, more work left unbilled, a
    technician, a billing user and a portal user of the customer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal.partner_id.parent_id = cls.customer
        cls.contract = cls._contract(
            prepay_kind="money",
            topup_block=200,
            topup_product_id=cls.product_topup.id,
            topup_price=200,
        )
        cls.contract.action_topup()
        invoiced = cls._work(cls, cls.ticket)
        cls.billing_run = cls.env["halo.billing.run"].create(
            {
                "date_cutoff": date(2026, 7, 31),
                "date_invoice": date(2026, 7, 31),
                "partner_ids": [(6, 0, cls.customer.ids)],
            }
        )
        cls.billing_run.action_preview()
        cls.billing_run.action_create_invoices()
        cls.invoiced_actions = invoiced[0]
        cls.invoiced_trip = invoiced[1]
        # unbilled work of the technician, on another customer's ticket
        cls.open_actions, cls.open_trip, cls.open_expense, cls.open_item = cls._work(cls, cls.ticket_b, day=8)
        cls.version = cls.env["halo.charge.rate.version"].search(
            [("rate_id", "=", cls.rate_onsite.id)], limit=1
        )
        cls._sweep_records()

    @classmethod
    def _sweep_records(cls):
        """A record of each Xero model and wizard, so that their methods are called on one.
        The connection points at a closed local port: nothing leaves the machine."""
        env = cls.env(su=True)
        connection = env["halo.xero.connection"].create(
            {
                "name": "Xero (sweep)",
                "company_id": env.company.id,
                "client_id": "sweep",
                "client_secret": "sweep-secret",
                "default_account_code": "200",
            }
        )
        connection._halo_set_base_url("http://127.0.0.1:9")
        wizard = env["halo.xero.setup.wizard"].create(
            {"company_id": env.company.id, "connection_id": connection.id}
        )
        line = cls.billing_run.line_ids.filtered("amount")[:1]
        factories = [
            (
                "halo.xero.drift",
                {
                    "connection_id": connection.id,
                    "res_model": "res.partner",
                    "res_id": cls.customer.id,
                    "field_name": "name",
                    "side": "xero",
                },
            ),
            ("halo.xero.import", {"connection_id": connection.id}),
            (
                "halo.xero.import.review",
                {"connection_id": connection.id, "xero_contact_id": "sweep", "xero_name": "Sweep Ltd"},
            ),
            ("halo.xero.setup.tenant", {"wizard_id": wizard.id, "tenant_id": "sweep", "name": "Sweep Org"}),
            ("halo.rerate.wizard", {"reason": "sweep"}),
            ("halo.billing.adjust.wizard", {"line_id": line.id, "amount": 1, "reason": "sweep"}),
        ]
        for model, vals in factories:
            with env.cr.savepoint():
                env[model].with_context(
                    active_model="account.analytic.line", active_ids=cls.open_actions.ids
                ).create(vals)

    def setUp(self):
        super().setUp()
        self.gaps = []

    def gap(self, message):
        """One problem: fails the current sub-test (see checking) and the test at its end."""
        self.gaps.append(message)

    @contextmanager
    def checking(self, **params):
        """A sub-test that fails with every gap found inside it, after running it to the end."""
        start = len(self.gaps)
        with self.subTest(**params):
            yield
            if len(self.gaps) > start:
                self.fail("\n".join(self.gaps[start:]))

    def assertNoGaps(self):
        if self.gaps:
            self.fail(f"{len(self.gaps)} security gaps:\n" + "\n".join(f"- {gap}" for gap in self.gaps))

    # ------------------------------------------------------------------ discovery
    def addon_models(self):
        """Models the addon defines or extends, from its ``ir.model`` records."""
        data = self.env["ir.model.data"].sudo().search([("module", "=", ADDON), ("model", "=", "ir.model")])
        names = self.env["ir.model"].sudo().browse(data.mapped("res_id")).mapped("model")
        return sorted(name for name in names if name in self.env)

    def addon_fields(self):
        """``{model: {field names the addon defines or extends}}``, from its ``ir.model.fields``."""
        data = (
            self.env["ir.model.data"]
            .sudo()
            .search([("module", "=", ADDON), ("model", "=", "ir.model.fields")])
        )
        result = {}
        for field in self.env["ir.model.fields"].sudo().browse(data.mapped("res_id")):
            result.setdefault(field.model, set()).add(field.name)
        return result

    def money_fields(self):
        """``{(model, field)}``: monetary fields of the addon (its models' and the ones it adds
        elsewhere) and the reviewed non-monetary money fields."""
        money = set()
        for model, names in self.addon_fields().items():
            if model not in self.env:
                continue
            for name in names:
                field = self.env[model]._fields.get(name)
                if field and (field.type == "monetary" or (model, name) in MONEY_FIELDS):
                    money.add((model, name))
        return money | {key for key in MONEY_FIELDS if key[0] in self.env}

    def billing_only(self, model):
        """Whether only billing groups (and system administrators) may read ``model`` at all."""
        billing = self.env.ref(BILLING_USER)
        system = self.env.ref("base.group_system")
        rules = (
            self.env["ir.model.access"]
            .sudo()
            .search([("model_id.model", "=", model), ("perm_read", "=", True)])
        )
        return bool(rules) and all(
            rule.group_id and (rule.group_id == system or billing in rule.group_id.all_implied_ids)
            for rule in rules
        )

    def real_ids(self, model, limit=3):
        Model = self.env[model].sudo()
        if Model._abstract:
            return []
        return Model.with_context(active_test=False).search([], limit=limit, order="id desc").ids


@tagged("post_install", "-at_install")
class TestSecuritySweepMoney(SweepCommon):
    """(a) A technician and a portal user read no money value, in any model of the addon."""

    def test_every_money_like_field_is_reviewed(self):
        for model, names in self.addon_fields().items():
            if model not in self.env:
                continue
            for name in sorted(names):
                field = self.env[model]._fields.get(name)
                if not field or field.type not in ("float", "char", "text", "html", "json", "integer"):
                    continue
                key = (model, name)
                if MONEY_NAME.search(name) and key not in MONEY_FIELDS and key not in NOT_MONEY:
                    with self.checking(field=key):
                        self.gap(
                            f"{model}.{name} ({field.type}) looks like money: add it to MONEY_FIELDS "
                            f"or NOT_MONEY of this test with the reason"
                        )
        self.assertNoGaps()

    def test_money_fields_carry_billing_groups(self):
        """Field groups, unless the model's ACLs already keep everybody else out."""
        for model, name in sorted(self.money_fields()):
            if (model, name) in WRITE_ONLY_FIELDS or self.billing_only(model):
                continue
            field = self.env[model]._fields[name]
            groups = {group.strip() for group in (field.groups or "").split(",") if group.strip()}
            with self.checking(field=f"{model}.{name}"):
                if not groups:
                    self.gap(f"{model}.{name}: money field without groups")
                elif not groups <= MONEY_GROUPS | set(MONEY_ALSO_FOR.get((model, name), ())):
                    self.gap(
                        f"{model}.{name}: money field readable by {', '.join(sorted(groups - MONEY_GROUPS))}"
                    )
        self.assertNoGaps()

    def test_technician_and_portal_read_no_money(self):
        money = self.money_fields()
        for user in (self.technician, self.portal):
            client = self.rpc(user)
            for model in self.addon_models():
                if self.env[model]._abstract:
                    continue
                with self.checking(user=user.login, model=model):
                    self._check_reads(client, user, model, money)
        self.assertNoGaps()

    def test_technician_and_portal_read_no_amount_in_messages(self):
        """Chatter of the addon's records: what a technician or a portal user can read of it
        carries no amount."""
        models = [model for model in self.addon_models() if not self.env[model]._abstract]
        self.assertTrue(self.env["mail.message"].sudo().search_count([("model", "in", models)]))
        for user in (self.technician, self.portal):
            client = self.rpc(user)
            with self.checking(user=user.login):
                try:
                    messages = client.call(
                        "mail.message",
                        "search_read",
                        [("model", "in", models)],
                        fields=["model", "res_id", "body", "subject"],
                    )
                except RpcError:
                    continue
                for message in messages:
                    text = f"{message['subject'] or ''} {message['body'] or ''}"
                    if AMOUNT_IN_TEXT.search(text):
                        self.gap(
                            f"{user.login} reads an amount in a message on {message['model']} "
                            f"{message['res_id']}: {text[:160]!r}"
                        )
        self.assertNoGaps()

    def _check_reads(self, client, user, model, money):
        try:
            readable = client.call(model, "fields_get", attributes=["type"])
        except RpcError:
            return  # not even the fields: nothing to read
        names = [name for name, info in readable.items() if info.get("type") != "binary"]
        ids = self.real_ids(model)
        allowed = False
        for method, args, kwargs in (("search_read", ([],), {"limit": 20}), ("read", (ids,), {})):
            if method == "read" and not ids:
                continue
            try:
                rows = client.call(model, method, *args, fields=names, **kwargs)
            except RpcError as err:
                if not err.name.endswith(("AccessError", "MissingError")):
                    self.gap(f"{user.login} {model}.{method}: {err.name}: {err.message[:200]}")
                continue
            allowed = True
            for row in rows:
                for name, value in row.items():
                    if (model, name) in WRITE_ONLY_FIELDS:
                        own = (
                            (model, name) in OWN_ENTRY_FIELDS
                            and row.get("user_id")
                            and row["user_id"][0] == user.id
                        )
                        if value and not own:
                            self.gap(f"{user.login} reads {model}.{name} = {value!r} (write-only field)")
                    elif (model, name) in money:
                        if value not in (False, None, 0, 0.0, [], {}):
                            self.gap(f"{user.login} reads {model}.{name} = {value!r}")
                    elif isinstance(value, str) and AMOUNT_IN_TEXT.search(value):
                        self.gap(f"{user.login} reads an amount in {model}.{name}: {value[:120]!r}")
        if allowed:
            # the model is readable: a money field must not even be offered
            for name in sorted(readable):
                if (model, name) in money and (model, name) not in WRITE_ONLY_FIELDS:
                    self.gap(f"{user.login} may read money field {model}.{name}")


@tagged("post_install", "-at_install")
class TestSecuritySweepMethods(SweepCommon):
    """(b) Every public method of the addon, called by a portal user on a real record, is refused
    by an access check."""

    def addon_methods(self, model):
        """``{name: function}``: public methods defined by the addon's classes of ``model``."""
        methods = {}
        for cls in type(self.env[model]).__mro__:
            if not cls.__module__.startswith(ADDON_PACKAGE):
                continue
            for name, member in vars(cls).items():
                if name.startswith("_") or name in methods:
                    continue
                function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
                if inspect.isfunction(function):
                    methods[name] = function
        return methods

    def _arguments(self, model, function, name):
        if name == "create":
            return [{}]
        if name == "write":
            # an empty write changes nothing and checks nothing: write a real field
            fields = self.env[model]._fields
            writable = [
                fname
                for fname in ("name", "note", "ref", "reason", "description")
                if fname in fields and fields[fname].store and not fields[fname].readonly
            ]
            return [{writable[0]: "sweep"} if writable else {}]
        if name == "default_get":
            return [list(self.env[model]._fields)]
        parameters = list(inspect.signature(function).parameters.values())[1:]
        return [
            None
            for parameter in parameters
            if parameter.default is inspect.Parameter.empty
            and parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        ]

    def test_portal_user_cannot_call_public_methods(self):
        client = self.rpc(self.portal)
        skipped = []
        for model in self.addon_models():
            if self.env[model]._abstract:
                continue
            for name, function in sorted(self.addon_methods(model).items()):
                reason = HARMLESS_METHODS.get((model, name)) or HARMLESS_METHODS.get(("*", name))
                if reason:
                    continue
                api_model = getattr(function, "_api_model", False)
                ids = self.real_ids(model, limit=1)
                if not api_model and not ids:
                    skipped.append(f"{model}.{name}")
                    continue
                args = self._arguments(model, function, name)
                if not api_model:
                    args = [ids, *args]
                with self.checking(method=f"{model}.{name}"):
                    if name == "default_get":
                        self._check_defaults(client, model, args)
                        continue
                    # each call is undone afterwards: a method that wrongly runs (disconnecting
                    # the Xero connection, say) must not hide the next ones
                    savepoint = self.env.cr.savepoint()
                    try:
                        result = client.call(model, name, *args)
                    except RpcError as err:
                        # a portal user has no business with any of it: only an access check is a
                        # refusal (a UserError of a business rule passes once the state suits it)
                        if not err.name.endswith(("AccessError", "MissingError")):
                            self.gap(
                                f"{model}.{name} ({'model' if api_model else 'record'}) not refused "
                                f"for access but failed: {err.name.rsplit('.', 1)[-1]}: {err.message[:160]}"
                            )
                        continue
                    finally:
                        savepoint.close(rollback=True)
                        self.env.invalidate_all()
                    self.gap(
                        f"{model}.{name} ({'model' if api_model else 'record'}) ran for a portal user: "
                        f"{str(result)[:160]}"
                    )
        if skipped:
            _logger.info("Security sweep: no record to call these on: %s", ", ".join(skipped))
            self.gaps.append(f"(not a gap: no record to call these on: {', '.join(skipped)})")
        if any(not gap.startswith("(not a gap") for gap in self.gaps):
            self.assertNoGaps()

    def _check_defaults(self, client, model, args):
        """``default_get`` only gives defaults; with a forged ``active_id`` it must not hand a
        portal user the values of the record it points at."""
        line = self.billing_run.line_ids.filtered("amount")[:1]
        context = {"active_model": line._name, "active_id": line.id, "active_ids": line.ids}
        try:
            defaults = client.call(model, "default_get", *args, context=context)
        except RpcError:
            return
        money = self.money_fields()
        for fname, value in defaults.items():
            if (model, fname) in money and value:
                self.gap(f"{model}.default_get gives a portal user {fname} = {value!r}")


@tagged("post_install", "-at_install")
class TestSecuritySweepContext(SweepCommon):
    """(c) A forged ``halo_*`` context key gets a technician (or the billing user the issue
    names) past no guard."""

    def test_every_context_key_has_a_scenario(self):
        keys = addon_context_keys()
        self.assertTrue(keys, "the grep found no context key: the pattern is broken")
        for key, where in sorted(keys.items()):
            with self.checking(key=key):
                if not hasattr(self, f"_forge_{key}"):
                    self.gap(
                        f"context key {key} ({', '.join(where)}) has no forged-call scenario in this test"
                    )
        self.assertNoGaps()

    # Keys the addon once trusted and no longer reads: still forged, so that they stay dead.
    RETIRED_KEYS = ("halo_allow_version_edit",)

    def test_forged_context_keys_are_refused(self):
        for key in sorted(set(addon_context_keys()) | set(self.RETIRED_KEYS)):
            scenario = getattr(self, f"_forge_{key}", None)
            if scenario:
                with self.checking(key=key):
                    scenario(key)
        self.assertNoGaps()

    def _expect_refused(self, client, label, model, method, *args, context):
        try:
            client.call(model, method, *args, context=context)
        except RpcError as err:
            if not err.name.endswith(("AccessError", "UserError", "ValidationError")):
                self.gap(f"{label}: failed with {err.name}: {err.message[:160]}")
            return True
        self.gap(f"{label}: accepted")
        return False

    def _forge_halo_billing_engine(self, key):
        tech = self.rpc(self.technician)
        context = {key: True}
        trip, action = self.open_trip, self.open_actions[0]
        self._expect_refused(
            tech,
            f"{key}: technician marks own work invoiced",
            "halo.mileage",
            "write",
            trip.ids,
            {"halo_invoice_number": "INV/FAKE", "halo_billing_state": "invoiced"},
            context=context,
        )
        self._expect_refused(
            tech,
            f"{key}: technician edits invoiced work",
            "halo.mileage",
            "write",
            self.invoiced_trip.ids,
            {"distance": 1},
            context=context,
        )
        self._expect_refused(
            tech,
            f"{key}: technician deletes invoiced work",
            "account.analytic.line",
            "unlink",
            self.invoiced_actions[:1].ids,
            context=context,
        )
        self.env.invalidate_all()
        if (
            trip.sudo().halo_invoice_number
            or self.invoiced_trip.sudo().distance == 1
            or not self.invoiced_actions[:1].sudo().exists()
            or action.sudo().halo_invoice_number
        ):
            self.gap(f"{key}: the work was changed")

    def _forge_halo_xero_poll_deadline(self, key):
        # the cron's time budget for one poll pass: only the cron runner sets it, and the poll that reads
        # it is private (not callable over RPC); a forged one reaches nothing
        tech = self.rpc(self.technician)
        self._expect_refused(
            tech,
            f"{key}: technician calls the Xero poll with a forged deadline",
            "halo.xero.connection",
            "_halo_xero_poll",
            [],
            context={key: 0},
        )

    def _forge_halo_no_rating(self, key):
        tech = self.rpc(self.technician)
        action = self.open_actions[0]  # 09:00-10:20 on 8 July: 1 h 30 x 95 = 142.50
        self.assertEqual(action.sudo().halo_rated_amount, 142.5)
        try:
            tech.call(
                "account.analytic.line",
                "write",
                action.ids,
                {"halo_end": "2026-07-08 12:00:00"},
                context={key: True},
            )
        except RpcError:
            return  # refused: fine
        self.env.invalidate_all()
        # 09:00-12:00 (UTC, 10:00-13:00 BST, in hours): 3 h x 95 = 285.00
        if action.sudo().halo_rated_amount != 285.0:
            self.gap(
                f"{key}: the technician changed the action's times without re-rating it "
                f"(still {action.sudo().halo_rated_amount})"
            )

    def _forge_halo_allow_version_edit(self, key):
        self.assertTrue(self.version._halo_used_versions())
        for user in (self.technician, self.billing_manager):
            self._expect_refused(
                self.rpc(user),
                f"{key}: {user.login} edits a used price version",
                "halo.charge.rate.version",
                "write",
                self.version.ids,
                {"hourly_price": 1},
                context={key: True},
            )
        self.env.invalidate_all()
        if self.version.hourly_price != 95:
            self.gap(f"{key}: the used version's price was changed to {self.version.hourly_price}")

    def _forge_halo_contract_ledger_system(self, key):
        before = self.contract.sudo().balance_amount
        for user in (self.technician, self.billing_user):
            self._expect_refused(
                self.rpc(user),
                f"{key}: {user.login} forges a counted top-up",
                "halo.contract.ledger",
                "create",
                {"contract_id": self.contract.id, "kind": "topup", "amount": 10000, "reason": "forged"},
                context={key: True},
            )
        self.env.invalidate_all()
        if self.contract.sudo().balance_amount != before:
            self.gap(
                f"{key}: the contract balance moved from {before} to {self.contract.sudo().balance_amount}"
            )

    def _forge_halo_mail_gateway(self, key):
        # only the mail gateway may create a ticket that a blocking contract refuses (flagged);
        # the key sent by a client, or message_new called over RPC, gets nobody past the block
        self._contract(
            name="Blocking",
            partner_id=self.other_customer.id,
            contact_id=False,
            prepay_kind="hours",
            on_exhausted="block",
        )
        tech = self.rpc(self.technician)
        vals = {"name": "Forged by mail", "description": "x", "partner_id": self.other_customer.id}
        self._expect_refused(
            tech,
            f"{key}: technician forges a ticket from e-mail",
            "helpdesk.ticket",
            "create",
            vals,
            context={key: True},
        )
        self._expect_refused(
            tech,
            f"{key}: technician calls message_new",
            "helpdesk.ticket",
            "message_new",
            {"subject": "Forged by mail"},
            {"partner_id": self.other_customer.id},
            context={key: True},
        )
        if self.env["helpdesk.ticket"].sudo().search_count([("name", "=", "Forged by mail")]):
            self.gap(f"{key}: a blocked ticket was created")

    def _forge_halo_billing_background(self, key):
        # the key only asks for the background path (jobs instead of the request): it grants
        # nothing, so a technician is still refused the run's actions
        tech = self.rpc(self.technician)
        self._expect_refused(
            tech,
            f"{key}: technician previews a run",
            "halo.billing.run",
            "action_preview",
            self.billing_run.ids,
            context={key: True},
        )

    def _forge_halo_billing_chunk_scope(self, key):
        # a chunk's scope is an object of the engine's; a value sent by a client is no scope
        tech = self.rpc(self.technician)
        self._expect_refused(
            tech,
            f"{key}: technician previews a run",
            "halo.billing.run",
            "action_preview",
            self.billing_run.ids,
            context={key: {"partner_ids": [self.customer.id]}},
        )
        forged = self.env["halo.billing.run"].with_context(**{key: {"partner_ids": [self.customer.id]}})
        if forged._halo_chunk_scope() is not None:
            self.gap(f"{key}: a plain value is taken as a chunk's scope")

    def _forge_halo_billing_run(self, key):
        # the key only lets the billing run skip Odoo's invoice and analytic sync passes; a
        # technician must not reach invoices with it at all
        tech = self.rpc(self.technician)
        invoice = self.billing_run.invoice_ids[:1]
        self._expect_refused(
            tech,
            f"{key}: technician writes an invoice",
            "account.move",
            "write",
            invoice.ids,
            {"ref": "forged"},
            context={key: True},
        )
        self._expect_refused(
            tech,
            f"{key}: technician creates an invoice",
            "account.move",
            "create",
            {"move_type": "out_invoice", "partner_id": self.customer.id},
            context={key: True},
        )

    def _forge_halo_xero_cancel(self, key):
        # the marker lets a cancel reset an invoice approved in Xero on its way (the push voids it); a
        # technician must not reach invoices with it, and a client's value of the key is no marker
        tech = self.rpc(self.technician)
        invoice = self.billing_run.invoice_ids[:1]
        for method in ("button_cancel", "button_draft"):
            self._expect_refused(
                tech, f"{key}: technician {method}", "account.move", method, invoice.ids, context={key: True}
            )
        from ..models.halo_engine import XERO_CANCEL

        if XERO_CANCEL.is_set(self.env["account.move"].with_context(**{key: True}).env):
            self.gap(f"{key}: a plain value is taken as the cancel marker")

    def _forge_halo_xero_commit(self, key):
        # the key makes the Xero push commit mid-transaction; a technician must not reach it
        tech = self.rpc(self.technician)
        invoice = self.billing_run.invoice_ids[:1]
        for method in ("action_halo_xero_send_now", "action_halo_xero_retry", "action_halo_xero_refresh"):
            self._expect_refused(
                tech, f"{key}: technician {method}", "account.move", method, invoice.ids, context={key: True}
            )
