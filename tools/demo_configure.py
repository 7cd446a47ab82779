"""Settings of the demo database that Odoo's demo data cannot carry (called by ./demo.sh).

python tools/demo_configure.py --company DB
    after `-i base --with-demo`, before the addon: the demo company becomes a UK MSP (GBP, London
    address, VAT number), so that installing `account` picks the UK chart of accounts (l10n_uk).
python tools/demo_configure.py DB SANDBOX_URL ODOO_URL
    after the addon and its demo data: web.base.url, the UK chart on the demo company (in place of
    the generic one `account`'s demo data loads), 20 % VAT on every product and on the income
    accounts (ad hoc items, which have no product, take their account's tax), Odoo's other demo
    companies archived (the demo is one company), and the demo's Xero
    connection pointing at the local sandbox, complete (payment journal, accounts, webhook key).
"""

import os
import sys

import odoo.init  # noqa: F401  (sets up the odoo namespace: SUPERUSER_ID, api, ...)
from odoo import SUPERUSER_ID, Command, api
from odoo.modules.registry import Registry
from odoo.tools import config

DEMO_WEBHOOK_KEY = "halo-demo-webhook-key"  # xero_sandbox's demo webhook key (xero_sandbox/README.md)


def _env(cr):
    return api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})


def configure_company(db):
    """The demo company as the seller of a UK MSP, before any accounting exists."""
    with Registry(db).cursor() as cr:
        env = _env(cr)
        company = env.ref("base.main_company")
        gbp = env.ref("base.GBP")
        gbp.active = True
        company.partner_id.write(
            {
                "name": "Halo IT Services Ltd",
                "street": "12 Tooley Street",
                "street2": False,
                "city": "London",
                "zip": "SE1 2SZ",
                "state_id": False,
                "country_id": env.ref("base.uk").id,
                "phone": "+44 20 7946 0000",
                "email": "accounts@halo-it.example",
                "website": "https://halo-it.example",
                "vat": "GB123456789",
            }
        )
        company.write(
            {"name": "Halo IT Services Ltd", "currency_id": gbp.id, "country_id": env.ref("base.uk").id}
        )
        env.ref("base.user_admin").tz = "Europe/London"


def configure_after_install(db, sandbox_url, odoo_url):
    with Registry(db).cursor() as cr:
        env = _env(cr)
        params = env["ir.config_parameter"]
        params.set_param("web.base.url", odoo_url)
        params.set_param("web.base.url.freeze", "True")
        company = env.ref("base.main_company")
        company.name = "Halo IT Services Ltd"  # stock's demo data renames it
        use_uk_chart(env, company)
        if company.currency_id.name != "GBP" or company.chart_template != "uk":
            print(
                "[demo] warning: the demo company is in %s with chart %s (expected GBP, uk)"
                % (company.currency_id.name, company.chart_template),
                file=sys.stderr,
            )
        apply_vat(env, company)
        archive_other_companies(env, company)
        companies = env["res.company"].search([])
        if hasattr(companies, "_halo_xero_use_sandbox"):
            companies._halo_xero_use_sandbox(sandbox_url)
            complete_connection(env, company)


def archive_other_companies(env, company):
    """Odoo's own demo data adds companies (stock's "My Company (Chicago)", base's "UK Company" with
    l10n_uk): the demo is one MSP, so they are archived and taken off every user; their records stay."""
    others = env["res.company"].search([("id", "!=", company.id)])
    if not others:
        return others
    users = env["res.users"].with_context(active_test=False).search([("company_ids", "in", others.ids)])
    users.filtered(lambda user: user.company_id in others).write({"company_id": company.id})
    users.write({"company_ids": [Command.unlink(other.id) for other in others]})
    others.write({"active": False})
    return others


def use_uk_chart(env, company):
    """The UK chart of accounts (GBP, 20 % VAT) on the demo company. `account`'s own demo data loads the
    generic chart on the main company and posts sample invoices and entries with it (US partners, USD);
    in this fresh demo database they are removed first, so that the UK chart replaces the generic one."""
    if company.chart_template == "uk":
        return
    moves = env["account.move"].search([("company_id", "=", company.id)])
    moves.filtered(lambda move: move.state == "posted").button_draft()
    moves.with_context(force_delete=True).unlink()
    env["account.chart.template"].try_loading("uk", company, install_demo=False)
    # the demo's work was rated when the company was still in USD: rate it again in GBP (audited)
    lines = env["account.analytic.line"].search(
        [("company_id", "=", company.id), ("halo_billing_state", "=", "unbilled")]
    )
    if lines and "halo.rating" in env:
        env["halo.rating"]._halo_rerate(lines, "Demo set-up: the company's currency is GBP")


def apply_vat(env, company):
    """The company's 20 % sales tax on every product without a sales tax of the company, and on the
    income accounts (a line without product, an ad hoc item, takes its account's taxes)."""
    vat20 = company.account_sale_tax_id
    if not (vat20.amount_type == "percent" and vat20.amount == 20 and not vat20.price_include):
        vat20 = env["account.tax"].search(
            [
                ("company_id", "=", company.id),
                ("type_tax_use", "=", "sale"),
                ("amount_type", "=", "percent"),
                ("amount", "=", 20),
                ("price_include", "=", False),
            ],
            limit=1,
        )
    if not vat20:
        print("[demo] warning: no 20 %% sales tax in %s" % company.name, file=sys.stderr)
        return vat20
    products = (
        env["product.template"]
        .with_context(active_test=False)
        .search([("company_id", "in", [False, company.id])])
        .with_company(company)
    )
    for product in products:
        if not product.taxes_id.filtered(lambda tax: tax.company_id == company):
            product.taxes_id = [Command.link(vat20.id)]
    journals = env["account.journal"].search([("type", "=", "sale"), ("company_id", "=", company.id)])
    accounts = journals.default_account_id | company.income_account_id
    for product in products:
        accounts |= product.property_account_income_id | product.categ_id.property_account_income_categ_id
    for account in accounts:
        if not account.tax_ids.filtered(lambda tax: tax.type_tax_use == "sale"):
            account.tax_ids = [Command.link(vat20.id)]
    return vat20


def complete_connection(env, company):
    """What the push and the payments need, on the company's (sandbox) connection."""
    bank = env["account.journal"].search([("type", "=", "bank"), ("company_id", "=", company.id)], limit=1)
    conn = env["halo.xero.connection"].sudo().search([("company_id", "=", company.id)], limit=1)
    conn.write(
        {
            "payment_journal_id": bank.id,
            "invoice_status": "AUTHORISED",
            "default_account_code": "200",
            "rounding_account_code": "860",
            "webhook_key": DEMO_WEBHOOK_KEY,
        }
    )
    return conn


def main(argv):
    config.parse_config(["-c", os.environ["HALO_ODOO_CONF"], "--log-level=warn"])
    if argv[0] == "--company":
        configure_company(argv[1])
    else:
        configure_after_install(*argv[:3])


if __name__ == "__main__":
    main(sys.argv[1:])
