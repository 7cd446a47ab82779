# Copyright 2026 Halo
# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
{
    "name": "Helpdesk Billing (PSA) with Xero",
    "summary": "Bill helpdesk tickets: charge rates, contracts, billing runs, "
    "itemised invoices and a two-way Xero integration",
    "version": "19.0.1.0.0",
    "category": "Services/Helpdesk",
    "license": "AGPL-3",
    "author": "Halo",
    "website": "https://github.com/halo/halo_helpdesk_billing",
    "development_status": "Alpha",
    "depends": [
        "helpdesk_mgmt",
        "hr_timesheet",
        "account",
        "product",
        "resource",
        "stock_account",
    ],
    "external_dependencies": {"python": ["xero-python", "openpyxl"]},
    "data": [
        "security/halo_helpdesk_billing_security.xml",
        "security/ir.model.access.csv",
        "security/ir_rule.xml",
        "data/ir_sequence.xml",
        "data/product_data.xml",
        "data/halo_expense_type_data.xml",
        "views/halo_charge_rate_views.xml",
        "views/account_analytic_line_views.xml",
        "views/halo_work_views.xml",
        "views/helpdesk_ticket_views.xml",
        "views/menus.xml",
    ],
    "demo": [
        "demo/halo_demo.xml",
    ],
    "application": True,
    "installable": True,
}
