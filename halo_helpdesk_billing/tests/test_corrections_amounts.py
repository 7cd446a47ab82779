from datetime import datetime

from odoo import Command
from odoo.tests import tagged

from .billing_common import HaloBillingRunCommon


@tagged("post_install", "-at_install")
class TestCorrectionAmounts(HaloBillingRunCommon):
    """Amounts that add up: a rounding group's lines sum to its price in every layout, and the
    PDF prints the invoice's own lines."""

    def _three_twenty_minute_actions(self):
        """Three 20-min actions on one ticket and day (10:00, 12:00, 14:00 London), rounded
        per ticket per day: 60 min actual = the 60-min minimum, 1 h x £95.00 = £95.00."""
        self.customer.halo_rounding_scope = "ticket_day"
        return self.env["account.analytic.line"].create(
            [
                {
                    "halo_ticket_id": self.ticket.id,
                    "employee_id": self.employee.id,
                    "halo_charge_rate_id": self.rate_onsite.id,
                    "name": f"Visit {hour}",
                    "halo_start": datetime(2026, 7, 7, hour, 0),
                    "halo_end": datetime(2026, 7, 7, hour, 20),
                }
                for hour in (9, 11, 13)
            ]
        )

    def _html(self, invoice):
        html = self.env["ir.actions.report"]._render_qweb_html("account.account_invoices", invoice.ids)[0]
        return " ".join(html.decode().split())

    def test_rounding_group_adds_up_in_every_layout(self):
        actions = self._three_twenty_minute_actions()
        # 0.3333 h x 95 = 31.66 each; the last action carries the group's 0.02
        self.assertEqual(actions.mapped("halo_rated_amount"), [31.66, 31.66, 31.68])
        for layout in ("itemised", "summary_ticket", "summary_invoice"):
            with self.subTest(layout=layout):
                self.customer.halo_invoice_layout = layout
                run = self._run(partner_ids=[(6, 0, self.customer.ids)])
                run.action_preview()
                self.assertEqual(run.amount_total, 95.0)
                run.action_create_invoices()
                invoice = run.invoice_ids
                self.assertEqual(invoice.amount_untaxed, 95.0)
                lines = invoice.invoice_line_ids.filtered(lambda line: line.display_type == "product")
                if layout == "itemised":
                    self.assertEqual(lines.mapped("price_subtotal"), [31.66, 31.66, 31.68])
                else:
                    self.assertEqual(lines.mapped("price_subtotal"), [95.0])
                sections = invoice._halo_sections()
                self.assertEqual(sum(section["total"] for section in sections), 95.0)
                # credited in full, the work is billed again in the next layout
                invoice._halo_credit_in_full()
                self.assertEqual(actions.mapped("halo_billing_state"), ["unbilled"] * 3)

    def test_an_edited_draft_prints_its_edited_lines(self):
        self.env.company.halo_post_invoices = False
        self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        invoice = run.invoice_ids
        self.assertEqual(invoice.state, "draft")
        cable = invoice.invoice_line_ids.filtered(lambda line: line.price_subtotal == 50.0)
        # the cables are reduced to £40.00 and renamed, a hand-made line is added
        invoice.write(
            {
                "invoice_line_ids": [
                    Command.update(cable.id, {"name": "Cable (goodwill)", "price_unit": 20.0}),
                    Command.create(
                        {
                            "product_id": self.product_remote.id,
                            "name": "Call-out fee",
                            "quantity": 1,
                            "price_unit": 15.0,
                        }
                    ),
                ]
            }
        )
        # 360.57 - 10.00 + 15.00
        self.assertAlmostEqual(invoice.amount_untaxed, 365.57)
        sections = invoice._halo_sections()
        self.assertEqual([section["ticket"] for section in sections], [self.ticket, self.ticket.browse()])
        self.assertEqual([section["total"] for section in sections], [350.57, 15.0])
        text = self._html(invoice)
        self.assertIn("Cable (goodwill)", text)
        self.assertIn("Call-out fee", text)
        self.assertIn("Other charges", text)
        self.assertIn("350.57", text)
        self.assertNotIn("50.00", text)  # the cables' old amount is printed nowhere

    def test_pdf_prints_explanations_when_the_company_asks(self):
        actions, _trip, _expense, _item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        invoice = run.invoice_ids
        charge = run.line_ids.filtered(
            lambda line: line.res_model == "account.analytic.line" and line.res_id == actions[0].id
        )
        explanation = " ".join(charge.explanation.splitlines()[0].split())
        self.assertIn("/h", explanation)  # the price in force is part of it
        self.assertNotIn(explanation, self._html(invoice))
        self.env.company.halo_pdf_explanation = True
        self.assertIn(explanation, self._html(invoice))
        self.assertIn("halo_explanation", self._html(invoice))

    def test_line_template_can_print_the_explanation(self):
        self.env.company.halo_line_template = "{{ object.name }}: {{ object.explanation }}"
        actions, _trip, _expense, _item = self._work(self.ticket)
        run = self._run(partner_ids=[(6, 0, self.customer.ids)])
        run.action_preview()
        run.action_create_invoices()
        line = run.invoice_ids.invoice_line_ids.filtered(lambda aml: aml.name.startswith("Fixed"))
        self.assertEqual(line.name, f"Fixed: {actions[0].halo_rating_explanation}")
