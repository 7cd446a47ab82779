"""HTML pages: consent flow, index, organisation overview and the online invoice."""

from html import escape

_STYLE = """<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2em}td,th{border-bottom:1px solid #ddd;padding:4px 8px;
text-align:left}th{background:#f3f6f9}.num{text-align:right}.box{max-width:26em;margin:auto;padding:2em;
border:1px solid #ccd;border-radius:8px}.err{color:#b00}input[type=text],input[type=password],input[type=email]
{width:100%;padding:6px;margin:4px 0 12px}button{padding:8px 16px;margin-right:8px}</style>"""


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>%s</title>%s</head><body>%s</body></html>"
        % (escape(title), _STYLE, body)
    )


def _hidden(params: dict) -> str:
    return "".join(
        "<input type='hidden' name='%s' value='%s'>" % (escape(k), escape(v)) for k, v in params.items() if v
    )


def error_page(error: str, message: str) -> str:
    return _page(
        "Error",
        "<div class='box'><h1>Sorry, something went wrong</h1><p class='err'>%s</p>"
        "<p>%s</p></div>" % (escape(error), escape(message)),
    )


def login_page(params: dict, app_name: str, error: str = "") -> str:
    err = "<p class='err'>%s</p>" % escape(error) if error else ""
    return _page(
        "Log in to Xero (sandbox)",
        (
            "<div class='box'><h1>Log in to Xero</h1><p>Sandbox login for <b>%s</b></p>%s"
            "<form method='post'>%s<input type='hidden' name='step' value='login'>"
            "<label>Email address<input type='email' name='email' autofocus></label>"
            "<label>Password<input type='password' name='password'></label>"
            "<button type='submit'>Log in</button></form>"
            "<p><small>Demo user: demo@halo.example / demo</small></p></div>"
        )
        % (escape(app_name), err, _hidden(params)),
    )


def consent_page(params: dict, app_name: str, ticket: str, orgs: list, error: str = "") -> str:
    err = "<p class='err'>%s</p>" % escape(error) if error else ""
    boxes = "".join(
        "<div><label><input type='checkbox' name='tenant' value='%s'%s> %s</label></div>"
        % (escape(tid), " checked" if n == 0 else "", escape(name))
        for n, (tid, name) in enumerate(orgs)
    )
    scopes = "".join("<li>%s</li>" % escape(s) for s in (params.get("scope") or "").split())
    return _page(
        "Allow access",
        (
            "<div class='box'><h1>%s wants access to your Xero data</h1>%s<ul>%s</ul>"
            "<form method='post'>%s<input type='hidden' name='step' value='consent'>"
            "<input type='hidden' name='ticket' value='%s'><h3>Organisations</h3>%s<p>"
            "<button type='submit' name='action' value='allow'>Allow access</button>"
            "<button type='submit' name='action' value='cancel'>Cancel</button></p></form></div>"
        )
        % (escape(app_name), err, scopes, _hidden(params), escape(ticket), boxes),
    )


def _money(value) -> str:
    return "%.2f" % (value or 0)


def index_page(orgs: list, base: str) -> str:
    rows = "".join(
        "<tr><td><a href='%s/_sandbox/orgs/%s'>%s</a></td><td>%s</td><td class='num'>%d</td>"
        "<td class='num'>%d</td><td class='num'>%d</td></tr>"
        % (
            base,
            escape(o["tenant_id"]),
            escape(o["Name"]),
            escape(o["tenant_id"]),
            len(o["invoices"]),
            len(o["contacts"]),
            len(o["items"]),
        )
        for o in orgs
    )
    return _page(
        "Xero sandbox",
        "<h1>Xero sandbox</h1><table><tr><th>Organisation</th><th>Tenant id</th>"
        "<th>Invoices</th><th>Contacts</th><th>Items</th></tr>%s</table>"
        "<p>Control API: see xero_sandbox/README.md (<code>/_sandbox/...</code>)</p>" % rows,
    )


def _pay_form(org: dict, inv: dict, base: str) -> str:
    """*Record payment* on an approved sales invoice with something due (as in Xero's invoice screen)."""
    if inv["Type"] != "ACCREC" or inv["Status"] != "AUTHORISED" or not inv["AmountDue"]:
        return ""
    return (
        "<form method='post' action='%s/_sandbox/orgs/%s/pay' style='margin:0'>"
        "<input type='hidden' name='invoice' value='%s'>"
        "<input name='amount' placeholder='%s' aria-label='Amount' style='width:90px;margin:0'> "
        "<button type='submit' style='margin:0'>Record payment</button></form>"
        % (base, escape(org["tenant_id"]), escape(inv["InvoiceID"]), _money(inv["AmountDue"]))
    )


def org_page(org: dict, base: str, message: str = "") -> str:
    contacts = org["contacts"]
    inv_rows = "".join(
        "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class='num'>%s</td><td class='num'>%s</td>"
        "<td>%s</td></tr>"
        % (
            escape(i.get("InvoiceNumber") or ""),
            escape(i["Type"]),
            escape(contacts.get(i["ContactID"], {}).get("Name", "?")),
            escape(i.get("Reference") or ""),
            escape(i["Status"]),
            _money(i["Total"]),
            _money(i["AmountDue"]),
            _pay_form(org, i, base),
        )
        for i in sorted(org["invoices"].values(), key=lambda i: -i["UpdatedDateUTC"])
    )
    con_rows = "".join(
        "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
        % (
            escape(c["Name"]),
            escape(c.get("ContactNumber") or ""),
            escape(c.get("EmailAddress") or ""),
            escape(c["ContactStatus"]),
        )
        for c in list(contacts.values())[:200]
    )
    item_rows = "".join(
        "<tr><td>%s</td><td>%s</td><td class='num'>%s</td><td>%s</td><td>%s</td></tr>"
        % (
            escape(i["Code"]),
            escape(i.get("Name") or ""),
            _money(i.get("SalesDetails", {}).get("UnitPrice")),
            escape(i.get("SalesDetails", {}).get("AccountCode") or ""),
            escape(i.get("SalesDetails", {}).get("TaxType") or ""),
        )
        for i in list(org["items"].values())[:200]
    )
    return _page(
        org["Name"],
        (
            "<p><a href='%s/'>&larr; all organisations</a></p><h1>%s</h1><p>Tenant id <code>%s</code></p>%s"
            "<h2>Invoices (%d)</h2><table><tr><th>Number</th><th>Type</th><th>Contact</th><th>Reference</th>"
            "<th>Status</th><th class='num'>Total</th><th class='num'>Amount due</th><th>Payment</th></tr>%s</table>"
            "<h2>Contacts (%d)</h2><table><tr><th>Name</th><th>Number</th><th>Email</th><th>Status</th></tr>%s</table>"
            "<h2>Items (%d)</h2><table><tr><th>Code</th><th>Name</th><th class='num'>Unit price</th><th>Account</th>"
            "<th>Tax</th></tr>%s</table>"
        )
        % (
            base,
            escape(org["Name"]),
            escape(org["tenant_id"]),
            "<p class='message' role='status'><b>%s</b></p>" % escape(message) if message else "",
            len(org["invoices"]),
            inv_rows,
            len(contacts),
            con_rows,
            len(org["items"]),
            item_rows,
        ),
    )


def online_invoice_page(org: dict, inv: dict, contact_name: str) -> str:
    lines = "".join(
        "<tr><td>%s</td><td class='num'>%s</td><td class='num'>%s</td><td class='num'>%s</td></tr>"
        % (
            escape(li.get("Description") or ""),
            li.get("Quantity"),
            li.get("UnitAmount"),
            _money(li.get("LineAmount")),
        )
        for li in inv["LineItems"]
    )
    return _page(
        "Invoice %s" % (inv.get("InvoiceNumber") or ""),
        (
            "<h1>%s</h1><h2>Invoice %s</h2><p>To: %s<br>Date: %s<br>Due: %s<br>Status: %s</p>"
            "<table><tr><th>Description</th><th class='num'>Qty</th><th class='num'>Unit</th>"
            "<th class='num'>Amount</th></tr>%s</table><p>Subtotal %s &middot; Tax %s &middot; <b>Total %s</b>"
            " &middot; Amount due %s %s</p>"
        )
        % (
            escape(org["Name"]),
            escape(inv.get("InvoiceNumber") or ""),
            escape(contact_name),
            escape(inv.get("Date") or ""),
            escape(inv.get("DueDate") or ""),
            escape(inv["Status"]),
            lines,
            _money(inv["SubTotal"]),
            _money(inv["TotalTax"]),
            _money(inv["Total"]),
            _money(inv["AmountDue"]),
            escape(org["BaseCurrency"]),
        ),
    )
