# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Money back from Xero reconciled per invoice, through the SDK against the sandbox: after each change made in
Xero, Odoo's open amount equals Xero's AmountDue and nothing is registered twice.

Every invoice of ``make_invoices`` is 1.5 h x 95.00 = 142.50 + 20 % VAT 28.50 = 171.00."""

import contextlib
import json
import threading
import uuid
from datetime import date
from decimal import Decimal

from odoo import Command, sql_db
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..models.xero.halo_xero_throttle import SharedThrottle
from ..services import xero_client as xc
from ..services import xero_push
from .test_xero_push_common import HaloXeroPushCommon


@tagged("post_install", "-at_install")
class TestXeroReconcile(HaloXeroPushCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.env.company
        cls.misc_journal = cls.company_data["default_journal_misc"]
        cls._halo_allocation_settings("01", cls.misc_journal)
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        # Odoo's rate: 1.20 EUR per unit of the company's currency; Xero's day rate for EUR is 1.15
        cls.env["res.currency.rate"].create(
            {"currency_id": cls.eur.id, "name": date(2026, 7, 1), "rate": 1.2, "company_id": company.id}
        )

    def setUp(self):
        super().setUp()
        self.contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": self.contact_id})

    # -- helpers ------------------------------------------------------------------------------------
    def sent(self, count=1, **kw):
        moves = self.make_invoices(count, **kw)
        moves._halo_xero_push()
        self.assertEachOnceInXero(moves)
        return moves

    def xero_invoice(self, move):
        return self.sandbox.state.orgs[self.tenant_id]["invoices"][move.halo_xero_invoice_id]

    def poll(self):
        self.ctl.advance(1)  # the sandbox's UpdatedDateUTC moves on
        self.connection._halo_xero_poll()

    def assertMatchesXero(self, move):
        """Odoo's open amount is Xero's AmountDue, and no Xero payment or allocation is registered twice."""
        xero = self.xero_invoice(move)
        self.assertAlmostEqual(
            move.amount_residual,
            xero["AmountDue"],
            places=2,
            msg="%s: Odoo %s, Xero %s (%s)"
            % (move.name, move.amount_residual, xero["AmountDue"], move.halo_xero_money_message),
        )
        registered = move.halo_xero_payment_ids.filtered(lambda r: r.state == "registered")
        self.assertEqual(len(registered.mapped("xero_payment_id")), len(registered))
        live = [
            p
            for p in self.sandbox.state.orgs[self.tenant_id]["payments"].values()
            if p["InvoiceID"] == move.halo_xero_invoice_id and p["Status"] == "AUTHORISED"
        ]
        self.assertEqual(
            sorted(registered.filtered(lambda r: r.kind == "payment").mapped("xero_payment_id")),
            sorted(p["PaymentID"] for p in live),
        )
        odoo_payments = registered.payment_id
        self.assertEqual(len(odoo_payments), len(registered.filtered(lambda r: r.kind == "payment")))
        self.assertFalse(move.halo_xero_attention, move.halo_xero_money_message)
        return registered

    def xero_payment(self, move, amount, rate=None, pay_date=date(2026, 8, 5)):
        from xero_python.accounting import Account, Invoice, Payment, Payments

        payment = Payment(
            invoice=Invoice(invoice_id=move.halo_xero_invoice_id),
            account=Account(code="090"),
            amount=Decimal(str(amount)),
            date=pay_date,
            currency_rate=Decimal(str(rate)) if rate else None,
        )
        result = self.connection._halo_client().call(
            self.tenant_id, "create_payments", Payments(payments=[payment]), write=True
        )
        return str(result.payments[0].payment_id)

    # -- deleted, redone, partial ----------------------------------------------------------------------------
    def test_payment_deleted_in_xero_is_reversed_in_odoo(self):
        move = self.sent()
        paid = self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id)
        self.poll()
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        odoo_payment = move.halo_xero_payment_ids.payment_id
        self.ctl.call("POST", "payments/delete", {"tenant": self.tenant_id, "payment": paid["PaymentID"]})
        self.poll()
        self.assertEqual(move.halo_xero_status, "AUTHORISED")
        self.assertAlmostEqual(move.amount_residual, 171.0)
        self.assertEqual(move.payment_state, "not_paid")
        self.assertEqual(move.halo_xero_payment_ids.state, "reversed")
        self.assertEqual(odoo_payment.state, "canceled")
        self.assertMatchesXero(move)
        self.assertIn(
            "deleted in Xero", move.halo_xero_log_ids.filtered(lambda log: log.action == "reverse").message
        )
        # polled again (and from the start): nothing changes
        self.connection.write({"halo_xero_poll_since": False, "halo_xero_poll_payments_since": False})
        self.poll()
        self.assertEqual(len(move.halo_xero_payment_ids), 1)
        self.assertMatchesXero(move)

    def test_remove_and_redo_registers_the_new_payment_once(self):
        move = self.sent()
        paid = self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=71.0)
        self.poll()
        self.assertAlmostEqual(move.amount_residual, 100.0)
        redo = self.ctl.call(
            "POST", "payments/redo", {"tenant": self.tenant_id, "payment": paid["PaymentID"]}
        )
        self.poll()
        # AmountDue is still 100.00: found through /Payments (Status DELETED, If-Modified-Since)
        self.assertAlmostEqual(move.amount_residual, 100.0)
        states = {r.xero_payment_id: r.state for r in move.halo_xero_payment_ids}
        self.assertEqual(states, {paid["PaymentID"]: "reversed", redo["PaymentID"]: "registered"})
        self.assertEqual(
            self.env["account.payment"].search_count(
                [("partner_id", "=", move.partner_id.id), ("state", "!=", "canceled")]
            ),
            1,
        )
        self.assertMatchesXero(move)
        deleted_reads = [r for r in self.ctl.requests() if r["path"].lower().endswith("/payments")]
        self.assertTrue(deleted_reads and "DELETED" in deleted_reads[-1]["query"])

    def test_deleted_and_redone_through_the_webhook(self):
        """The webhook path (events stored, then processed by fetching the invoice) reconciles the same way."""
        move = self.sent()
        paid = self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=71.0)
        self.ctl.advance(1)
        redo = self.ctl.call(
            "POST", "payments/redo", {"tenant": self.tenant_id, "payment": paid["PaymentID"], "amount": 50}
        )
        Event = self.env["halo.xero.webhook.event"]
        for event in self.ctl.call("GET", "webhooks")["pending"]:
            body = json.dumps(
                {"events": [event], "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "E"}
            ).encode()
            self.assertEqual(
                Event._halo_receive(body, xero_push.webhook_signature(body, "halo-demo-webhook-key")), 200
            )
        Event.search([("state", "=", "new")])._halo_process()
        self.assertAlmostEqual(move.amount_residual, 121.0)
        self.assertEqual(
            move.halo_xero_payment_ids.filtered(lambda r: r.state == "registered").xero_payment_id,
            redo["PaymentID"],
        )
        self.assertMatchesXero(move)

    def test_partial_then_full(self):
        move = self.sent()
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=71.0)
        self.poll()
        self.assertEqual(move.payment_state, "partial")
        self.assertMatchesXero(move)
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=100.0)
        self.poll()
        self.assertEqual(sorted(self.assertMatchesXero(move).mapped("amount")), [71.0, 100.0])
        self.assertAlmostEqual(move.amount_residual, 0.0)
        # a webhook for the same change does not register anything again
        move._halo_xero_fetch(self.connection, self.connection._halo_client(), [move.halo_xero_invoice_id])
        self.assertEqual(len(move.halo_xero_payment_ids), 2)

    # -- allocations: overpayment, prepayment, credit note raised in Xero ----------------------------------------
    def test_overpayment_allocated_in_xero(self):
        move = self.sent()
        over = self.ctl.call(
            "POST",
            "credits",
            {
                "tenant": self.tenant_id,
                "kind": "overpayment",
                "contact": self.contact_id,
                "amount": 200,
                "currency": self.xero_invoice(move)["CurrencyCode"],
            },
        )
        self.ctl.call(
            "POST",
            "allocate",
            {
                "tenant": self.tenant_id,
                "kind": "overpayment",
                "id": over["OverpaymentID"],
                "invoice": move.halo_xero_invoice_id,
                "amount": 171,
            },
        )
        self.poll()
        self.assertEqual(move.halo_xero_status, "PAID")
        record = self.assertMatchesXero(move)
        self.assertEqual(
            (record.kind, record.amount, record.xero_document_id),
            ("overpayment", 171.0, over["OverpaymentID"]),
        )
        self.assertEqual(record.entry_id.journal_id, self.misc_journal)
        self.assertEqual(
            record.entry_id.line_ids.filtered(lambda line: line.debit).account_id, self.overpay_account
        )
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        self.connection.halo_xero_poll_since = False
        self.poll()
        self.assertEqual(len(move.halo_xero_payment_ids), 1)

    def test_prepayment_allocated_in_xero(self):
        move = self.sent()
        pre = self.ctl.call(
            "POST",
            "credits",
            {
                "tenant": self.tenant_id,
                "kind": "prepayment",
                "contact": self.contact_id,
                "amount": 100,
                "currency": self.xero_invoice(move)["CurrencyCode"],
            },
        )
        self.ctl.call(
            "POST",
            "allocate",
            {
                "tenant": self.tenant_id,
                "kind": "prepayment",
                "id": pre["PrepaymentID"],
                "invoice": move.halo_xero_invoice_id,
                "amount": 100,
            },
        )
        self.poll()
        self.assertAlmostEqual(move.amount_residual, 71.0)
        record = self.assertMatchesXero(move)
        self.assertEqual((record.kind, record.amount), ("prepayment", 100.0))
        self.assertEqual(
            record.entry_id.line_ids.filtered(lambda line: line.debit).account_id, self.prepay_account
        )
        # then a payment for the rest
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=71.0)
        self.poll()
        self.assertEqual(sorted(self.assertMatchesXero(move).mapped("kind")), ["payment", "prepayment"])

    def test_credit_note_raised_and_allocated_in_xero(self):
        from xero_python.accounting import Contact, CreditNote, CreditNotes, CurrencyCode, LineItem

        move = self.sent()
        client = self.connection._halo_client()
        cn = client.call(
            self.tenant_id,
            "create_credit_notes",
            CreditNotes(
                credit_notes=[
                    CreditNote(
                        type="ACCRECCREDIT",
                        contact=Contact(contact_id=self.contact_id),
                        date=date(2026, 8, 1),
                        status="AUTHORISED",
                        currency_code=CurrencyCode(self.xero_invoice(move)["CurrencyCode"]),
                        line_items=[
                            LineItem(
                                description="Goodwill",
                                quantity=Decimal("1"),
                                unit_amount=Decimal("50"),
                                account_code="200",
                                tax_type="OUTPUT2",
                            )
                        ],
                    )
                ]
            ),
            write=True,
        ).credit_notes[0]
        self.ctl.call(
            "POST",
            "allocate",
            {
                "tenant": self.tenant_id,
                "kind": "creditnote",
                "id": str(cn.credit_note_id),
                "invoice": move.halo_xero_invoice_id,
                "amount": 60,
            },
        )  # 50.00 + 20 % VAT
        self.poll()
        self.assertAlmostEqual(move.amount_residual, 111.0)
        record = self.assertMatchesXero(move)
        self.assertEqual((record.kind, record.amount), ("credit_note", 60.0))
        self.assertEqual(
            record.entry_id.line_ids.filtered(lambda line: line.debit).account_id, self.cn_account
        )

    def test_allocation_without_settings_is_skipped_then_retried_when_fixed(self):
        self.connection.sudo().halo_xero_prepayment_account_id = False
        move = self.sent()
        pre = self.ctl.call(
            "POST",
            "credits",
            {
                "tenant": self.tenant_id,
                "kind": "prepayment",
                "contact": self.contact_id,
                "amount": 171,
                "currency": self.xero_invoice(move)["CurrencyCode"],
            },
        )
        self.ctl.call(
            "POST",
            "allocate",
            {
                "tenant": self.tenant_id,
                "kind": "prepayment",
                "id": pre["PrepaymentID"],
                "invoice": move.halo_xero_invoice_id,
                "amount": 171,
            },
        )
        self.poll()
        self.assertTrue(move.halo_xero_attention)
        self.assertIn("Prepayment account", move.halo_xero_money_message)
        self.assertEqual(move.halo_xero_payment_ids.state, "skipped")
        self.assertIn(move, self.env["account.move"].search([("halo_xero_attention", "=", True)]))
        self.assertTrue(move.activity_ids.filtered(lambda a: a.user_id == self.billing_manager))
        # fixed: the next poll retries it (the settings change wakes the poll), nothing changed in Xero
        self.connection.sudo().halo_xero_prepayment_account_id = self.prepay_account
        self.poll()
        self.assertFalse(move.halo_xero_attention)
        self.assertEqual(move.halo_xero_payment_ids.state, "registered")
        self.assertFalse(move.activity_ids.filtered(lambda a: a.user_id == self.billing_manager))
        self.assertMatchesXero(move)

    def test_payment_without_journal_retried_by_the_button(self):
        self.connection.sudo().payment_journal_id = False
        move = self.sent()
        self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id)
        self.poll()
        self.assertTrue(move.halo_xero_attention)
        self.assertEqual(move.halo_xero_payment_ids.state, "skipped")
        self.connection.sudo().with_context(tracking_disable=True).write({})  # nothing changed: still skipped
        self.connection.sudo().payment_journal_id = self.bank_journal
        with self.assertRaises(AccessError):
            move.with_user(self.technician).action_halo_xero_retry_money()
        move.action_halo_xero_retry_money()
        self.assertEqual(move.halo_xero_payment_ids.state, "registered")
        self.assertMatchesXero(move)

    # -- currencies ---------------------------------------------------------------------------------------------
    def make_eur_invoice(self):
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customers[0].id,
                "invoice_date": date(2026, 7, 31),
                "invoice_date_due": date(2026, 8, 30),
                "currency_id": self.eur.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_xero.id,
                            "name": "Remote support",
                            "quantity": 1.5,
                            "price_unit": 95.0,
                            "tax_ids": [Command.set(self.tax20.ids)],
                        }
                    )
                ],
            }
        )
        move.action_post()
        return move

    def test_foreign_currency_sent_at_odoos_rate_and_paid_at_xeros(self):
        self.connection._halo_xero_import_currencies()
        move = self.make_eur_invoice()  # 171.00 EUR = 142.50 in the company's currency at 1.20
        self.assertAlmostEqual(move.amount_total_signed, 142.5)
        move._halo_xero_push()
        xero = self.xero_invoice(move)
        self.assertEqual((xero["CurrencyCode"], xero["CurrencyRate"]), ("EUR", 1.2))  # not the day rate 1.15
        sent = [self.body(r) for r in self.invoice_writes()][-1]["Invoices"][0]
        self.assertEqual(sent["CurrencyRate"], 1.2)
        # the customer pays 100.00 EUR at 1.18
        payment_id = self.xero_payment(move, 100.0, rate=1.18)
        self.poll()
        record = self.assertMatchesXero(move)
        self.assertEqual(
            (record.xero_payment_id, record.amount, record.currency_rate), (payment_id, 100.0, 1.18)
        )
        self.assertEqual(record.payment_id.currency_id, self.eur)
        self.assertAlmostEqual(record.payment_id.amount, 100.0)
        self.assertAlmostEqual(move.amount_residual, 71.0)

    def test_currency_not_enabled_in_xero_refused_before_posting(self):
        self.assertEqual(self.connection._halo_xero_import_currencies(), ["GBP", "EUR", "USD"])
        self.ctl.call("POST", "currencies", {"tenant": self.tenant_id, "disable": ["EUR"]})
        self.connection._halo_xero_import_currencies()
        with self.assertRaisesRegex(UserError, "EUR, which the Xero organisation .* has not enabled"):
            self.make_eur_invoice()
        self.assertFalse(
            self.env["account.move"].search([("currency_id", "=", self.eur.id), ("state", "=", "posted")])
        )
        # a billing manager may import the currencies, a technician may not
        with self.assertRaises(AccessError):
            self.connection.with_user(self.technician).action_halo_xero_import_currencies()

    # -- isolation ----------------------------------------------------------------------------------------------
    def test_one_failing_registration_does_not_stop_the_others(self):
        # the second customer's receivable account is archived after its invoice was posted: registering
        # its payment fails in Odoo ("archived account"), the others are registered
        receivable = self.env["account.account"].create(
            {
                "name": "Receivable (Xero test)",
                "code": "HXR01",
                "account_type": "asset_receivable",
                "reconcile": True,
            }
        )
        self.customers[1].property_account_receivable_id = receivable
        moves = self.sent(3)
        second = moves[1]
        self.assertEqual(second.partner_id, self.customers[1])
        for move in moves:
            self.ctl.pay(self.tenant_id, move.halo_xero_invoice_id, amount=71.0)
        receivable.active = False
        self.poll()
        for move in moves - second:
            self.assertMatchesXero(move)
            self.assertAlmostEqual(move.amount_residual, 100.0)
        self.assertTrue(second.halo_xero_attention)
        self.assertIn("failed", second.halo_xero_money_message)
        self.assertIn("archived", second.halo_xero_money_message)
        self.assertAlmostEqual(second.amount_residual, 171.0)
        self.assertFalse(second.halo_xero_payment_ids)  # rolled back with its invoice's savepoint
        self.assertTrue(second.activity_ids.filtered(lambda a: a.user_id == self.billing_manager))
        self.assertTrue(
            second.halo_xero_log_ids.filtered(
                lambda log: log.action == "reconcile" and log.outcome == "error"
            )
        )
        self.assertIn(second, self.env["account.move"].search([("halo_xero_attention", "=", True)]))
        # the cause fixed: the next poll retries it (Xero has nothing new)
        receivable.active = True
        self.poll()
        self.assertMatchesXero(second)
        self.assertAlmostEqual(second.amount_residual, 100.0)

    # -- traffic --------------------------------------------------------------------------------------------------
    def test_poll_asks_for_customer_summaries_from_the_start_in_large_pages(self):
        self.sent(2)
        self.ctl.clear_requests()
        self.connection._halo_xero_poll()
        gets = [r for r in self.ctl.requests() if r["path"].lower().endswith("/invoices")]
        self.assertEqual(len(gets), 1)
        query = gets[0]["query"]
        self.assertIn("summaryOnly=True", query)
        self.assertIn("pageSize=1000", query)
        self.assertIn("ACCREC", query)
        self.assertTrue(gets[0]["headers"].get("If-Modified-Since"))  # the first poll too: no whole history
        credit = [r for r in self.ctl.requests() if r["path"].lower().endswith("/creditnotes")]
        self.assertIn("ACCRECCREDIT", credit[0]["query"])
        self.assertTrue(self.connection.halo_xero_poll_since)


@tagged("post_install", "-at_install")
class TestXeroSharedThrottle(HaloXeroPushCommon):
    """The organisation's limits held by several Odoo processes at once: each "process" below has its own
    in-process throttle (as each Odoo worker has), the shared part is the row in PostgreSQL."""

    def locals(self, count=2, scope=None, **kw):
        scope = scope or uuid.uuid4().hex[:12]
        return [xc.Throttle(shared_scope=scope, **kw) for _n in range(count)]

    def test_connection_clients_share_the_budget_through_postgresql(self):
        client = self.connection._halo_client()
        self.assertIsInstance(client.throttle, SharedThrottle)
        client.call(self.tenant_id, "get_organisations")
        key = client.throttle._key(self.tenant_id)
        with contextlib.closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:  # committed apart
            cr.execute("SELECT state FROM halo_xero_rate_limit WHERE key = %s", [key])
            state = json.loads(cr.fetchone()[0])
        self.assertEqual((len(state["calls"]), state["flying"], state["day_count"]), (1, {}, 1))
        self.assertIsNotNone(state["day_remaining"])  # Xero's X-DayLimit-Remaining, for every worker

    def run_workers(self, throttles, threads_per_worker=2, calls=3):
        """Each throttle is one worker process with ``threads_per_worker`` cron threads reading invoices."""
        clients = [
            self.connection._halo_client(throttle=SharedThrottle(self.env.cr.dbname, local=t))
            for t in throttles
        ]
        errors = []

        def work(client):
            try:
                for _n in range(calls):
                    client.call(self.tenant_id, "get_invoices", page=1, page_size=10, summary_only=True)
            except Exception as err:  # noqa: BLE001 - collected for the assertion
                errors.append(err)

        threads = [
            threading.Thread(target=work, args=(c,)) for c in clients for _n in range(threads_per_worker)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        return errors

    def test_two_workers_keep_within_the_organisations_concurrent_calls(self):
        # Xero allows 2 calls in flight here (5 in real life); every call takes 0.3 s
        self.ctl.limits(enabled=True, concurrent=2, minute=100000, day=1000000, reset_counters=True)
        self.ctl.call("POST", "usage/reset", {})
        self.ctl.fault("delay", seconds=0.3, count=100, path="/Invoices")
        errors = self.run_workers(self.locals(per_minute=100000, concurrent=2, daily=1_000_000))
        usage = self.ctl.call("GET", "usage")[self.tenant_id]
        self.assertFalse(errors)
        self.assertEqual(usage["calls"], 12)  # 2 workers x 2 threads x 3 calls, none refused
        self.assertLessEqual(usage["peak_concurrent"], 2)
        self.assertEqual(usage["refused"], {})
        # without the shared row (each worker on its own, as before), Xero sees more than it allows
        self.ctl.limits(enabled=True, concurrent=2, minute=100000, day=1000000, reset_counters=True)
        self.ctl.call("POST", "usage/reset", {})
        alone = [self.locals(1, per_minute=100000, concurrent=2, daily=1_000_000)[0] for _n in range(2)]
        self.run_workers(alone, calls=1)
        self.assertGreater(self.ctl.call("GET", "usage")[self.tenant_id]["peak_concurrent"], 2)
        self.ctl.clear_faults()

    def test_calls_per_minute_and_the_daily_budget_are_shared(self):
        self.xero_calls_expected = False  # the throttles alone, no request
        now = [1_000_000.0]
        sleeps = []

        def sleep(seconds):
            sleeps.append(round(seconds, 1))
            now[0] += seconds

        first, second = (
            SharedThrottle(self.env.cr.dbname, local=t)
            for t in self.locals(
                per_minute=3, concurrent=5, daily=10, daily_headroom=0.1, clock=lambda: now[0], sleep=sleep
            )
        )
        for throttle in (first, first, second):
            with throttle.slot(self.tenant_id):
                now[0] += 1
        self.assertEqual(sleeps, [])
        with second.slot(self.tenant_id):  # the 4th call of the organisation in a minute waits
            pass
        # until 60 s after the first call ended (made at t+0, ended at t+1: each call lasts 1 s here)
        self.assertEqual(sleeps, [58.0])
        # 9 calls a day (10 less the 10 % headroom) for the whole organisation
        for throttle in (first, second, first, second, first):
            now[0] += 61
            with throttle.slot(self.tenant_id):
                pass
        now[0] += 61
        with self.assertRaises(xc.XeroRetryLater) as err, second.slot(self.tenant_id):
            pass
        self.assertEqual(err.exception.problem, "day")


@tagged("post_install", "-at_install")
class TestXeroPollTraffic(HaloXeroPushCommon):
    def test_first_poll_of_an_established_organisation_reads_none_of_its_history(self):
        """2,000 historical invoices and bills in Xero: the first poll (no watermark yet) starts at the
        connection's creation and asks for customer summaries only, so it pulls none of them."""
        self.ctl.call("POST", "seed", {"tenant": self.tenant_id, "invoices": 1000, "bills": 1000})
        contact_id = next(iter(self.sandbox.state.orgs[self.tenant_id]["contacts"]))
        self.customers.write({"halo_xero_contact_id": contact_id})
        moves = self.make_invoices(2)
        moves._halo_xero_push()
        self.ctl.call("POST", "usage/reset", {})
        self.ctl.clear_requests()
        self.assertFalse(self.connection.halo_xero_poll_since)
        pages = self.connection._halo_xero_poll()
        self.assertEqual(pages, 1)
        answer = json.loads(self.sandbox_requests("/Invoices", "GET")[0]["response"])
        self.assertEqual(sorted(i["InvoiceNumber"] for i in answer["Invoices"]), sorted(moves.mapped("name")))
        self.assertFalse([i for i in answer["Invoices"] if "LineItems" in i or "Payments" in i])
        usage = self.ctl.call("GET", "usage")[self.tenant_id]
        # invoices, deleted payments, credit notes: three calls and a few kB, not 2,000 documents
        self.assertEqual(usage["calls"], 3)
        self.assertLess(usage["egress_bytes"], 20000)
