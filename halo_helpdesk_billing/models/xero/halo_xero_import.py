# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Resumable, idempotent import of what billing needs from Xero (accounts, tax rates,
customers, items), and the scheduled refresh (If-Modified-Since, paged) that keeps them in step.

Each step is a unit of work that can be repeated: a page of contacts is matched by Xero
ContactID first, so re-running a page updates and never duplicates; the import remembers the
next page, so a 429 or a dropped connection resumes where it stopped."""

import datetime
import logging
import time

from odoo import Command, api, fields, models
from odoo.fields import Domain

from odoo.addons.halo_helpdesk_billing.constants import BILLING_MANAGER

from ...services import xero_client as xc
from .halo_xero_connection import halo_check_caller

_logger = logging.getLogger(__name__)

STEPS = [
    ("accounts", "Accounts"),
    ("taxes", "Tax rates"),
    ("contacts", "Customers"),
    ("items", "Items"),
    ("done", "Done"),
]
STEP_WEIGHTS = {"accounts": (0, 5), "taxes": (5, 10), "contacts": (10, 85), "items": (85, 100)}
PARTNER_XERO_FIELDS = ("name", "email", "vat", "phone", "ref")
PARTNER_ADDRESS_FIELDS = ("street", "street2", "city", "zip")
PRODUCT_XERO_FIELDS = ("default_code", "name", "list_price", "halo_xero_account_code", "halo_xero_tax_type")


def _utc_naive(value):
    if value and value.tzinfo:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def _norm_vat(value):
    return "".join(ch for ch in (value or "").upper() if ch.isalnum())


def _same(left, right):
    if isinstance(left, float) or isinstance(right, float):
        try:
            return abs(float(left or 0) - float(right or 0)) < 0.00005
        except (TypeError, ValueError):
            return False
    return (left or "") == (right or "")


class HaloXeroImport(models.Model):
    _name = "halo.xero.import"
    _description = "Xero Import"
    _order = "id desc"
    _check_company_auto = True

    connection_id = fields.Many2one("halo.xero.connection", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    mode = fields.Selection(
        [("full", "Import"), ("refresh", "Scheduled refresh")], default="full", required=True
    )
    state = fields.Selection(
        [
            ("draft", "To do"),
            ("running", "Running"),
            ("paused", "Paused (will resume)"),
            ("done", "Done"),
            ("failed", "Failed"),
        ],
        default="draft",
        required=True,
        index=True,
    )
    step = fields.Selection(STEPS, default="accounts", required=True)
    page_size = fields.Integer(default=1000, help="Contacts per Xero page (1-1000).")
    contacts_page = fields.Integer(default=1, help="Next page of contacts to fetch.")
    contacts_since = fields.Datetime(help="If-Modified-Since of contacts (UTC); empty: everything.")
    items_since = fields.Datetime()
    accounts_since = fields.Datetime()
    started_at = fields.Datetime(help="When the import started (UTC): the next refresh's watermark.")
    finished_at = fields.Datetime()
    retry_at = fields.Datetime()
    last_error = fields.Text()
    api_calls = fields.Integer(string="API Calls")
    accounts_count = fields.Integer(string="Accounts")
    taxes_mapped = fields.Integer()
    taxes_created = fields.Integer()
    taxes_review = fields.Integer(string="Taxes to Review")
    contacts_total = fields.Integer(string="Customers in Xero")
    contacts_seen = fields.Integer(string="Customers Read")
    contacts_created = fields.Integer(string="Customers Created")
    contacts_linked = fields.Integer(string="Customers Matched")
    contacts_updated = fields.Integer(string="Customers Updated")
    items_total = fields.Integer(string="Items in Xero")
    items_created = fields.Integer()
    items_linked = fields.Integer(string="Items Matched")
    items_updated = fields.Integer()
    review_ids = fields.One2many("halo.xero.import.review", "import_id")
    review_count = fields.Integer(compute="_compute_review_count")
    progress = fields.Float(compute="_compute_progress")
    progress_label = fields.Char(compute="_compute_progress")

    def _compute_review_count(self):
        counts = dict(
            self.env["halo.xero.import.review"]._read_group(
                Domain("import_id", "in", self.ids) & Domain("state", "=", "pending"),
                groupby=["import_id"],
                aggregates=["__count"],
            )
        )
        for imp in self:
            imp.review_count = counts.get(imp, 0)

    @api.depends("state", "step", "contacts_seen", "contacts_total")
    def _compute_progress(self):
        for imp in self:
            if imp.state == "done" or imp.step == "done":
                imp.progress, imp.progress_label = 100.0, self.env._("Done")
                continue
            low, high = STEP_WEIGHTS[imp.step]
            share = 0.0
            if imp.step == "contacts" and imp.contacts_total:
                share = min(1.0, imp.contacts_seen / imp.contacts_total)
            imp.progress = low + (high - low) * share
            label = dict(STEPS)[imp.step]
            if imp.step == "contacts" and imp.contacts_total:
                label = self.env._(
                    "Customers %(done)s / %(total)s", done=imp.contacts_seen, total=imp.contacts_total
                )
            imp.progress_label = label

    # -- entry points ---------------------------------------------------------------------------------
    @api.model
    def _halo_start(self, connection, mode="full", page_size=1000):
        """The connection's unfinished import if there is one (resume), else a new one."""
        current = self.search(
            [("connection_id", "=", connection.id), ("state", "in", ("draft", "running", "paused"))], limit=1
        )
        if current:
            return current
        vals = {"connection_id": connection.id, "mode": mode, "page_size": page_size}
        if mode == "refresh":
            vals.update(
                contacts_since=connection.contacts_synced_at,
                items_since=connection.items_synced_at,
                accounts_since=connection.accounts_synced_at,
            )
        return self.create(vals)

    def _halo_run(self, time_budget=None, commit=False):
        """Run (or resume) until done, paused on a transient error, failed, or out of time.

        ``commit``: commit after each unit of work (cron and wizard outside tests), so that a
        crash loses at most one page."""
        self.ensure_one()
        imp = self.sudo()
        connection = imp.connection_id
        if connection.state != "connected":
            imp.write(
                {
                    "state": "failed",
                    "last_error": self.env._(
                        "The Xero connection is not active (%(state)s); connect to Xero again.",
                        state=dict(connection._fields["state"].selection)[connection.state],
                    ),
                }
            )
            return imp
        client = connection._halo_client()
        deadline = time.monotonic() + time_budget if time_budget else None
        vals = {"state": "running", "retry_at": False, "last_error": False}
        if not imp.started_at:
            vals["started_at"] = fields.Datetime.now()
        imp.write(vals)
        try:
            while imp.step != "done":
                before = client.calls
                getattr(imp, "_halo_step_%s" % imp.step)(client)
                imp.api_calls += client.calls - before
                if commit:
                    self.env["ir.cron"]._commit_progress()  # each step durable (cron only)
                if deadline and time.monotonic() > deadline and imp.step != "done":
                    return imp
            imp._halo_finish()
        except xc.XeroRetryLater as err:
            imp.api_calls += 1
            retry = err.retry_after or 60
            imp.write(
                {
                    "state": "paused",
                    "last_error": str(err),
                    "retry_at": fields.Datetime.now() + datetime.timedelta(seconds=retry),
                }
            )
            _logger.info(
                "Xero import %s paused at %s (page %s): %s", imp.id, imp.step, imp.contacts_page, err.problem
            )
        except xc.XeroAuthError as err:
            imp.write({"state": "failed", "last_error": str(err)})
            if err.status in (401, 403):
                connection._halo_mark_needs_reauth(str(err))
        except xc.XeroError as err:
            imp.write({"state": "failed", "last_error": str(err)})
        if commit:
            self.env["ir.cron"]._commit_progress()
        return imp

    def _halo_finish(self):
        self.write({"state": "done", "step": "done", "finished_at": fields.Datetime.now()})
        self.connection_id.write(
            {
                "contacts_synced_at": self.started_at,
                "items_synced_at": self.started_at,
                "accounts_synced_at": self.started_at,
            }
        )
        _logger.info(
            "Xero import %s done: %s customers created, %s matched, %s items created, %s API calls",
            self.id,
            self.contacts_created,
            self.contacts_linked,
            self.items_created,
            self.api_calls,
        )

    @api.model
    def _cron_halo_xero_refresh(self, time_budget=240):
        """Resume unfinished imports, then start a refresh for connections not refreshed for an hour."""
        now = fields.Datetime.now()
        todo = self.search(
            [("state", "in", ("draft", "running")), ("company_id", "!=", False)]
        ) | self.search([("state", "=", "paused"), ("retry_at", "<=", now)])
        connections = self.env["halo.xero.connection"].sudo().search([("state", "=", "connected")])
        stale = connections.filtered(
            lambda c: (
                c not in todo.connection_id
                and (not c.contacts_synced_at or c.contacts_synced_at < now - datetime.timedelta(hours=1))
            )
        )
        for connection in stale:
            if not self.search_count([("connection_id", "=", connection.id), ("state", "=", "paused")]):
                todo |= self._halo_start(
                    connection, mode="refresh" if connection.contacts_synced_at else "full"
                )
        started = time.monotonic()
        for imp in todo:
            remaining = time_budget - (time.monotonic() - started)
            if remaining <= 0:
                break
            imp._halo_run(time_budget=remaining, commit=True)
            self.env["ir.cron"]._commit_progress(1)

    # -- steps ----------------------------------------------------------------------------------------
    def _halo_step_accounts(self, client):
        conn = self.connection_id
        conn._halo_read_lock_dates(client)  # settings, like the chart: Xero's lock dates for posting
        kwargs = {"if_modified_since": self.accounts_since} if self.accounts_since else {}
        accounts = client.call(conn.tenant_id, "get_accounts", **kwargs).accounts or []
        self.env["halo.xero.account"]._halo_store(conn, accounts)
        revenue_codes = [a.code for a in accounts if a.code and _enum(a._class) == "REVENUE"]
        if revenue_codes:
            odoo_accounts = (
                self.env["account.account"]
                .with_company(conn.company_id)
                .search([("code", "in", revenue_codes), ("company_ids", "in", conn.company_id.ids)])
            )
            for account in odoo_accounts:
                if account.halo_xero_code != account.code:
                    account.halo_xero_code = account.code
        self.write({"accounts_count": len(accounts), "step": "taxes"})

    def _halo_step_taxes(self, client):
        """The tax rates, then the organisation's enabled currencies (one call): posting an invoice in another
        currency is then refused in Odoo."""
        result = self._halo_import_tax_rates(client)
        self.connection_id.sudo()._halo_xero_import_currencies(client)
        return result

    def _halo_import_tax_rates(self, client):
        conn = self.connection_id
        company = conn.company_id
        rates = client.call(conn.tenant_id, "get_tax_rates").tax_rates or []
        conn._halo_store_tax_rates(rates)
        Tax = self.env["account.tax"].sudo().with_company(company)
        TaxLink = self.env["halo.xero.tax.link"].sudo()
        links = TaxLink.search([("connection_id", "=", conn.id), ("tax_type", "!=", False)])
        mapped_taxes = links.tax_id
        mapped = created = review = 0
        for rate in rates:
            if _enum(rate.status) != "ACTIVE" or not rate.can_apply_to_revenue:
                continue
            code = rate.tax_type
            percent = float(rate.effective_rate or 0)
            # Xero's own rate of the tax type, compared with Odoo's before an approved invoice is sent
            known = links.filtered(
                lambda link, code=code: (
                    link.tax_type == code
                    and link.tax_id.type_tax_use == "sale"
                    and link.tax_id.company_id == company
                )
            )
            known.write({"effective_rate": percent, "rate_known": True})
            if known:
                mapped += 1
                continue
            candidates = Tax.search(
                [
                    ("company_id", "=", company.id),
                    ("type_tax_use", "=", "sale"),
                    ("amount_type", "=", "percent"),
                    ("amount", "=", percent),
                    ("price_include", "=", False),
                    ("id", "not in", mapped_taxes.ids),
                    ("children_tax_ids", "=", False),
                ],
                order="sequence, id",
            )
            rate_vals = {"tax_type": code, "effective_rate": percent, "rate_known": True}
            if len(candidates) == 1:
                TaxLink._halo_write_links(conn, candidates, "tax_id", {candidates.id: rate_vals})
                mapped += 1
            elif candidates:
                TaxLink._halo_write_links(
                    conn, candidates[0], "tax_id", {candidates[0].id: dict(rate_vals, review=True)}
                )
                review += 1
            else:
                tax = Tax.create(
                    {
                        "name": "%s (Xero %s)" % (rate.name, code),
                        "amount": percent,
                        "amount_type": "percent",
                        "type_tax_use": "sale",
                        "company_id": company.id,
                    }
                )
                TaxLink._halo_write_links(conn, tax, "tax_id", {tax.id: dict(rate_vals, review=True)})
                created += 1
                mapped_taxes |= tax
            mapped_taxes |= candidates[:1]
        self.write(
            {"taxes_mapped": mapped, "taxes_created": created, "taxes_review": review, "step": "contacts"}
        )

    def _halo_step_contacts(self, client):
        conn = self.connection_id
        kwargs = {"page": self.contacts_page, "page_size": self.page_size}
        if self.contacts_since:
            kwargs.update(if_modified_since=self.contacts_since, include_archived=True)
        else:
            kwargs["where"] = 'ContactStatus=="ACTIVE"'
        result = client.call(conn.tenant_id, "get_contacts", **kwargs)
        contacts = result.contacts or []
        vals = {"contacts_seen": self.contacts_seen + len(contacts)}
        pagination = getattr(result, "pagination", None)
        if pagination is not None and pagination.item_count is not None:
            vals["contacts_total"] = pagination.item_count
        self._halo_import_contacts(contacts)
        if len(contacts) < self.page_size:
            vals["step"] = "items"
        else:
            vals["contacts_page"] = self.contacts_page + 1
        self.write(vals)

    def _halo_step_items(self, client):
        conn = self.connection_id
        kwargs = {"if_modified_since": self.items_since} if self.items_since else {}
        items = client.call(conn.tenant_id, "get_items", unitdp=4, **kwargs).items or []
        conn._halo_store_items(items)
        items = [item for item in items if item.is_sold is not False and item.code]
        self._halo_import_items(items)
        self.write({"items_total": len(items), "step": "done"})

    # -- contacts -------------------------------------------------------------------------------------
    @api.model
    def _prepare_partner_vals(self, contact):
        """Xero-owned partner values of a Xero contact (hook)."""
        phone = next(
            (p for p in contact.phones or [] if _enum(p.phone_type) == "DEFAULT" and p.phone_number), None
        )
        address = next((a for a in contact.addresses or [] if a.address_line1 or a.city), None)
        vals = {
            "name": (contact.name or "").strip(),
            "email": contact.email_address or False,
            "vat": contact.tax_number or False,
            "phone": " ".join(x for x in (phone.phone_area_code, phone.phone_number) if x)
            if phone
            else False,
            "ref": contact.contact_number or False,
        }
        if address:
            vals["_address"] = {
                "street": address.address_line1 or False,
                "street2": address.address_line2 or False,
                "city": address.city or False,
                "zip": address.postal_code or False,
            }
        return vals

    def _halo_contact_index(self, Partner, contacts):
        """Unlinked partners of the company by normalised tax number, e-mail and exact name."""
        conn = self.connection_id
        # a customer linked to another organisation's contact (shared by two companies) may be matched here too
        base = (
            ~Domain(
                "halo_xero_contact_link_ids",
                "any",
                [("connection_id", "=", conn.id), ("xero_contact_id", "!=", False)],
            )
            & Domain("parent_id", "=", False)
            & Domain("active", "=", True)
            & Domain("company_id", "in", [False, conn.company_id.id])
        )
        vats = {_norm_vat(c.tax_number) for c in contacts if c.tax_number}
        emails = {c.email_address.strip().lower() for c in contacts if c.email_address}
        names = {c.name.strip() for c in contacts if c.name}
        index = {"vat": {}, "email": {}, "name": {}}
        if vats:
            # tax numbers compare without spaces and punctuation ("GB 999 888 777" == "GB999888777")
            self.env.cr.execute(
                "SELECT id FROM res_partner WHERE vat IS NOT NULL"
                " AND regexp_replace(upper(vat), '[^A-Z0-9]', '', 'g') = ANY(%s)",
                [list(vats)],
            )
            vat_ids = [row[0] for row in self.env.cr.fetchall()]
            for p in Partner.search(base & Domain("id", "in", vat_ids)):
                index["vat"].setdefault(_norm_vat(p.vat), Partner.browse())
                index["vat"][_norm_vat(p.vat)] |= p
        if emails:
            for p in Partner.search(base & Domain("email_normalized", "in", list(emails))):
                index["email"].setdefault(p.email_normalized, Partner.browse())
                index["email"][p.email_normalized] |= p
        if names:
            for p in Partner.search(base & Domain("name", "in", list(names))):
                index["name"].setdefault(p.name, Partner.browse())
                index["name"][p.name] |= p
        return index

    def _halo_match_contact(self, contact, index, claimed, Partner):
        """("link", partner, kind), ("review", candidates, kind) or None (create)."""
        keys = (
            ("vat", _norm_vat(contact.tax_number)),
            ("email", (contact.email_address or "").strip().lower()),
            ("name", (contact.name or "").strip()),
        )
        for kind, value in keys:
            candidates = index[kind].get(value, Partner.browse()) if value else Partner.browse()
            if not candidates:
                continue
            free = candidates - claimed
            if len(candidates) == 1 and free:
                return ("link", free, kind)
            return ("review", candidates, kind)
        return None

    def _halo_import_contacts(self, contacts):
        """Match a page of Xero contacts to partners (ContactID, tax number, e-mail, exact name),
        update the linked ones, create the new ones, and queue ambiguous ones for review. Links are this
        connection's only: another organisation's links of the same customers are never touched."""
        conn = self.connection_id
        Partner = (
            self.env["res.partner"]
            .sudo()
            .with_context(
                active_test=False, no_vat_validation=True, tracking_disable=True, mail_create_nolog=True
            )
        )
        Link = self.env["halo.xero.contact.link"].sudo()
        ids = [str(c.contact_id) for c in contacts]
        linked = {
            link.xero_contact_id: link
            for link in Link.search(
                [("connection_id", "=", conn.id), ("xero_contact_id", "in", ids), ("owner", "=", True)]
            )
        }
        pending = {
            r.xero_contact_id: r
            for r in self.env["halo.xero.import.review"]
            .sudo()
            .search([("connection_id", "=", conn.id), ("xero_contact_id", "in", ids)])
        }
        unmatched = [
            c for c in contacts if str(c.contact_id) not in linked and str(c.contact_id) not in pending
        ]
        index = self._halo_contact_index(Partner, unmatched)
        claimed = Partner.browse()
        creates, create_contacts = [], []
        created = matched = updated = 0
        Review = self.env["halo.xero.import.review"].sudo()
        reviews = []
        for contact in contacts:
            cid = str(contact.contact_id)
            vals = self._prepare_partner_vals(contact)
            link = linked.get(cid)
            if link and self._halo_rebind_gone_contact(link, contact):
                continue
            if link:
                if self._halo_update_record(
                    link.partner_id, link, vals, PARTNER_XERO_FIELDS, contact.updated_date_utc
                ):
                    updated += 1
                continue
            if cid in pending:
                pending[cid].write({"xero_values": _jsonable(vals)})
                continue
            if _enum(contact.contact_status) != "ACTIVE":
                continue
            outcome = self._halo_match_contact(contact, index, claimed, Partner)
            if outcome is None:
                creates.append(vals)
                create_contacts.append(contact)
            elif outcome[0] == "link":
                partner = outcome[1]
                claimed |= partner
                link = Link._halo_bind(conn, partner, cid)
                self._halo_update_record(
                    partner, link, vals, PARTNER_XERO_FIELDS, contact.updated_date_utc, first=True
                )
                matched += 1
            else:
                reviews.append(
                    {
                        "import_id": self.id,
                        "connection_id": conn.id,
                        "xero_contact_id": cid,
                        "xero_name": contact.name,
                        "xero_email": contact.email_address,
                        "xero_tax_number": contact.tax_number,
                        "match_kind": outcome[2],
                        "candidate_ids": [Command.set(outcome[1].ids)],
                        "xero_values": _jsonable(vals),
                    }
                )
        if creates:
            partners = Partner.create([self._halo_partner_create_vals(vals) for vals in creates])
            Link.create(
                [
                    {
                        "connection_id": conn.id,
                        "partner_id": partner.id,
                        "xero_contact_id": str(contact.contact_id),
                        "synced_values": _snapshot(vals, PARTNER_XERO_FIELDS),
                        "updated_at": _utc_naive(contact.updated_date_utc),
                    }
                    for partner, contact, vals in zip(partners, create_contacts, creates, strict=True)
                ]
            )
            created = len(partners)
        if reviews:
            Review.create(reviews)
        self.write(
            {
                "contacts_created": self.contacts_created + created,
                "contacts_linked": self.contacts_linked + matched,
                "contacts_updated": self.contacts_updated + updated,
            }
        )

    def _halo_rebind_gone_contact(self, link, contact):
        """A linked contact merged in Xero (``MergedToContactID``) moves the customer's link to the contact it
        was merged into; an archived one is unlinked (the next invoice binds it to an active contact of that
        name, or creates one). Xero takes no new invoices for either. Returns True when it did either.
        Only this connection's link changes."""
        partner = link.partner_id
        target = str(contact.merged_to_contact_id or "")
        if target and target != str(contact.contact_id):
            self.env["halo.xero.contact.link"]._halo_bind(self.connection_id, partner, target)
            partner.message_post(
                body=self.env._(
                    "The Xero contact %(name)s was merged into another contact in Xero; this customer is now linked "
                    "to that contact (%(contact)s).",
                    name=contact.name,
                    contact=target,
                )
            )
            return True
        if _enum(contact.contact_status) == "ARCHIVED":
            link.write({"xero_contact_id": False})
            partner.message_post(
                body=self.env._(
                    "The Xero contact %(name)s was archived in Xero and takes no new invoices: this customer is no "
                    "longer linked to it; the next invoice links it to an active contact of its name (or creates "
                    "one).",
                    name=contact.name,
                )
            )
            return True
        return False

    def _halo_partner_create_vals(self, vals):
        create = {k: v for k, v in vals.items() if not k.startswith("_")}
        create.update(vals.get("_address") or {})
        create.update(is_company=True, customer_rank=1, company_id=self.connection_id.company_id.id)
        return create

    def _halo_update_record(self, record, link, vals, owned, updated_at, first=False):
        """Apply Xero's values to a linked record and its link; log drift on either side. True if changed.

        Owned fields named ``halo_xero_<name>`` are the link's ``<name>`` (per organisation); the others are
        the record's own, shared by every organisation the record is linked to: they follow the record's first
        link only (another organisation's values are kept on its link and never overwrite them)."""
        snapshot = link.synced_values or {}
        new_snapshot = _snapshot(vals, owned)
        primary = link._halo_is_primary()
        changes, link_changes = {}, {}
        drifts = []
        for fname in owned:
            on_link = fname.startswith("halo_xero_")
            if not on_link and not primary:
                continue
            holder, field = (link, fname[len("halo_xero_") :]) if on_link else (record, fname)
            xero_value = new_snapshot.get(fname)
            odoo_value = holder[field] if field in holder._fields else None
            if hasattr(odoo_value, "id"):
                odoo_value = odoo_value.id
            if _same(odoo_value, xero_value):
                continue
            (link_changes if on_link else changes)[field] = xero_value if xero_value is not None else False
            if first or not snapshot:
                # linked now (matched, or linked by hand) or never imported: Xero's value replaces a value
                # Odoo already had; list it, so that what the match changed can be checked
                if odoo_value not in (None, False, ""):
                    drifts.append(
                        {
                            "field_name": fname,
                            "odoo_value": _text(odoo_value),
                            "xero_value": _text(xero_value),
                            "previous_value": "",
                            "side": "match",
                        }
                    )
                continue
            old = snapshot.get(fname)
            xero_changed = not _same(old, xero_value)
            odoo_changed = not _same(old, odoo_value)
            side = "both" if xero_changed and odoo_changed else ("odoo" if odoo_changed else "xero")
            drifts.append(
                {
                    "field_name": fname,
                    "odoo_value": _text(odoo_value),
                    "xero_value": _text(xero_value),
                    "previous_value": _text(old),
                    "side": side,
                }
            )
        if snapshot != new_snapshot:
            link_changes["synced_values"] = new_snapshot
        if updated_at:
            link_changes["updated_at"] = _utc_naive(updated_at)
        if primary and first and vals.get("_address") and record._name == "res.partner" and not record.street:
            changes.update(vals["_address"])
        if changes:
            record.write(changes)
        if link_changes:
            link.write(link_changes)
        if drifts:
            self.env["halo.xero.drift"].sudo()._halo_log(self.connection_id, record, drifts, self)
        return bool(changes) or any(k not in ("synced_values", "updated_at") for k in link_changes)

    # -- items ----------------------------------------------------------------------------------------
    @api.model
    def _prepare_product_vals(self, item):
        """Xero-owned product values of a Xero item (hook)."""
        sales = item.sales_details
        return {
            "default_code": item.code,
            "name": item.name or item.code,
            "list_price": float(sales.unit_price or 0.0) if sales else 0.0,
            "halo_xero_account_code": (sales.account_code if sales else False) or False,
            "halo_xero_tax_type": (sales.tax_type if sales else False) or False,
            "_description": item.description or False,
        }

    def _halo_import_items(self, items):
        conn = self.connection_id
        company = conn.company_id
        Template = self.env["product.template"].sudo().with_context(active_test=False, tracking_disable=True)
        Link = self.env["halo.xero.product.link"].sudo()
        codes = [item.code for item in items]
        linked = {
            link.item_code: link
            for link in Link.search([("item_code", "in", codes), ("connection_id", "=", conn.id)])
        }
        by_code = {}
        for tmpl in Template.search(
            [
                ("default_code", "in", codes),
                ("company_id", "in", [False, company.id]),
                ("active", "=", True),
                ~Domain(
                    "halo_xero_product_link_ids",
                    "any",
                    [("connection_id", "=", conn.id), ("item_code", "!=", False)],
                ),
            ],
            order="id",
        ):
            by_code.setdefault(tmpl.default_code, tmpl)
        taxes = {
            link.tax_type: link.tax_id
            for link in self.env["halo.xero.tax.link"]
            .sudo()
            .search(
                [
                    ("connection_id", "=", conn.id),
                    ("tax_id.company_id", "=", company.id),
                    ("tax_id.type_tax_use", "=", "sale"),
                    ("tax_type", "!=", False),
                ],
                order="id desc",
            )
        }
        accounts = {
            a.halo_xero_code: a
            for a in self.env["account.account"]
            .sudo()
            .with_company(company)
            .search([("halo_xero_code", "!=", False), ("company_ids", "in", company.ids)])
        }
        created = matched = updated = 0
        creates = []
        for item in items:
            vals = self._prepare_product_vals(item)
            link = linked.get(item.code)
            extra = self._halo_product_company_vals(vals, taxes, accounts)
            if link:
                if self._halo_update_record(
                    link.product_tmpl_id, link, vals, PRODUCT_XERO_FIELDS, item.updated_date_utc
                ):
                    updated += 1
                    link.product_tmpl_id.with_company(company).write(extra)
                continue
            tmpl = by_code.pop(item.code, None)
            if tmpl:
                link = Link._halo_write_links(
                    conn,
                    tmpl,
                    "product_tmpl_id",
                    {tmpl.id: {"item_code": item.code, "item_id": str(item.item_id)}},
                )
                self._halo_update_record(
                    tmpl, link, vals, PRODUCT_XERO_FIELDS, item.updated_date_utc, first=True
                )
                tmpl.with_company(company).write(extra)
                matched += 1
                continue
            create = {
                k: v for k, v in vals.items() if not k.startswith("_") and not k.startswith("halo_xero_")
            }
            create.update(extra)
            create.update(
                type="service", sale_ok=True, purchase_ok=False, description_sale=vals["_description"]
            )
            creates.append((create, item, vals))
        if creates:
            templates = Template.with_company(company).create([create for create, _item, _vals in creates])
            Link.create(
                [
                    {
                        "connection_id": conn.id,
                        "product_tmpl_id": tmpl.id,
                        "item_code": item.code,
                        "item_id": str(item.item_id),
                        "account_code": vals["halo_xero_account_code"],
                        "tax_type": vals["halo_xero_tax_type"],
                        "synced_values": _snapshot(vals, PRODUCT_XERO_FIELDS),
                        "updated_at": _utc_naive(item.updated_date_utc),
                    }
                    for tmpl, (_create, item, vals) in zip(templates, creates, strict=True)
                ]
            )
            created = len(creates)
        self.write(
            {
                "items_created": self.items_created + created,
                "items_linked": self.items_linked + matched,
                "items_updated": self.items_updated + updated,
            }
        )

    @api.model
    def _halo_product_company_vals(self, vals, taxes, accounts):
        extra = {}
        tax = taxes.get(vals.get("halo_xero_tax_type"))
        if tax:
            extra["taxes_id"] = [Command.set(tax.ids)]
        account = accounts.get(vals.get("halo_xero_account_code"))
        if account:
            extra["property_account_income_id"] = account.id
        return extra

    # -- actions --------------------------------------------------------------------------------------
    def action_resume(self):
        halo_check_caller(self, BILLING_MANAGER, "write")
        for imp in self:
            imp._halo_run(time_budget=20)
        return True

    def action_open_reviews(self):
        self.ensure_one()
        return self.review_ids._get_records_action(name=self.env._("Customers to review"))


def _enum(value):
    if value is None:
        return None
    return getattr(value, "value", value)


def _snapshot(vals, owned):
    return {k: _jsonable_value(vals.get(k)) for k in owned if k in vals}


def _jsonable_value(value):
    if value is False:
        return None
    return value


def _jsonable(vals):
    return {k: _jsonable_value(v) if not isinstance(v, dict) else v for k, v in vals.items()}


def _text(value):
    if value in (None, False):
        return ""
    return str(value)
