"""Deterministic demo organisations (fixed GUIDs) and synthetic bulk data."""

import uuid

NAMESPACE = uuid.UUID("6f1c1d2e-8a43-4d56-9c1e-5a1b2c3d4e5f")

#: Tenant ids tests can rely on.
UK_TENANT_ID = str(uuid.uuid5(NAMESPACE, "tenant/uk"))
NZ_TENANT_ID = str(uuid.uuid5(NAMESPACE, "tenant/nz"))
#: A tenant that is not an organisation (Xero Practice Manager): listed by /connections, no Accounting API.
PRACTICE_TENANT_ID = str(uuid.uuid5(NAMESPACE, "tenant/practice"))

#: The demo user of the consent page.
DEMO_USER = {
    "email": "demo@halo.example",
    "password": "demo",
    "first_name": "Demo",
    "last_name": "User",
    "user_id": str(uuid.uuid5(NAMESPACE, "user/demo")),
}

SEED_EPOCH = 1704067200.0  # 2024-01-01T00:00:00Z: UpdatedDateUTC of seeded records


def guid(*parts) -> str:
    """A stable GUID for a seeded record, e.g. ``guid("uk", "contact", 1)``."""
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def _tax(name, tax_type, rate, report, revenue=True, expenses=True):
    return {
        "Name": name,
        "TaxType": tax_type,
        "Status": "ACTIVE",
        "ReportTaxType": report,
        "CanApplyToAssets": True,
        "CanApplyToEquity": True,
        "CanApplyToExpenses": expenses,
        "CanApplyToLiabilities": True,
        "CanApplyToRevenue": revenue,
        "DisplayTaxRate": float(rate),
        "EffectiveRate": float(rate),
        "TaxComponents": [
            {"Name": name.split(" (")[0], "Rate": float(rate), "IsCompound": False, "IsNonRecoverable": False}
        ],
    }


UK_TAX_RATES = [
    _tax("20% (VAT on Income)", "OUTPUT2", 20, "OUTPUT", expenses=False),
    _tax("5% (VAT on Income)", "RROUTPUT", 5, "OUTPUT", expenses=False),
    _tax("Zero Rated Income", "ZERORATEDOUTPUT", 0, "OUTPUT", expenses=False),
    _tax("Exempt Income", "EXEMPTOUTPUT", 0, "EXEMPTOUTPUT", expenses=False),
    _tax("No VAT", "NONE", 0, "NONE"),
    _tax("20% (VAT on Expenses)", "INPUT2", 20, "INPUT", revenue=False),
    _tax("5% (VAT on Expenses)", "RRINPUT", 5, "INPUT", revenue=False),
    _tax("Zero Rated Expenses", "ZERORATEDINPUT", 0, "INPUT", revenue=False),
    _tax("Exempt Expenses", "EXEMPTINPUT", 0, "EXEMPTINPUT", revenue=False),
]

NZ_TAX_RATES = [
    _tax("15% GST on Income", "OUTPUT2", 15, "OUTPUT", expenses=False),
    _tax("15% GST on Expenses", "INPUT2", 15, "INPUT", revenue=False),
    _tax("Zero Rated", "ZERORATED", 0, "NONE"),
    _tax("No GST", "NONE", 0, "NONE"),
    _tax("GST on Imports", "GSTONIMPORTS", 0, "GSTONIMPORTS", revenue=False),
]

# (code, name, type, class, tax type, system account, enable payments)
_ACCOUNTS = [
    ("090", "Business Bank Account", "BANK", "ASSET", "NONE", None, False),
    ("091", "Business Savings Account", "BANK", "ASSET", "NONE", None, False),
    ("200", "Sales", "REVENUE", "REVENUE", "{out}", None, False),
    ("260", "Other Revenue", "REVENUE", "REVENUE", "{out}", None, False),
    ("270", "Interest Income", "REVENUE", "REVENUE", "NONE", None, False),
    ("280", "Consulting Services (archived)", "REVENUE", "REVENUE", "{out}", None, False),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE", "{inp}", None, False),
    ("400", "Advertising", "EXPENSE", "EXPENSE", "{inp}", None, False),
    ("429", "General Expenses", "EXPENSE", "EXPENSE", "{inp}", None, False),
    ("610", "Accounts Receivable", "CURRENT", "ASSET", "NONE", "DEBTORS", False),
    ("620", "Prepayments", "CURRENT", "ASSET", "NONE", None, True),
    ("800", "Accounts Payable", "CURRLIAB", "LIABILITY", "NONE", "CREDITORS", False),
    ("820", "{taxname}", "CURRLIAB", "LIABILITY", "NONE", "GST", False),
    ("860", "Rounding", "CURRLIAB", "LIABILITY", "NONE", "ROUNDING", False),
    ("970", "Owner A Funds Introduced", "EQUITY", "EQUITY", "NONE", None, False),
]

_UK_CONTACTS = [
    ("Acme Facilities Ltd", "accounts@acme-facilities.co.uk", "London"),
    ("Brightwater Dental Group", "finance@brightwater.example", "Bristol"),
    ("Castle & Crown Solicitors", "billing@castlecrown.example", "York"),
    ("Dunmore Logistics plc", "ap@dunmore.example", "Leeds"),
    ("Elmfield Primary Academy", "office@elmfield.example", "Norwich"),
    ("Foxglove Architects LLP", "accounts@foxglove.example", "Cambridge"),
    ("Greenway Veterinary Practice", "admin@greenwayvets.example", "Exeter"),
    ("Harbour View Hotel", "finance@harbourview.example", "Brighton"),
    ("Ironbridge Engineering", "payables@ironbridge.example", "Telford"),
    ("Juniper Marketing Studio", "hello@juniper.example", "Manchester"),
]
_NZ_CONTACTS = [
    ("Aoraki Outdoor Gear", "accounts@aoraki.example", "Christchurch"),
    ("Bay of Islands Charters", "office@boicharters.example", "Paihia"),
    ("Coromandel Coffee Roasters", "hello@ccroasters.example", "Thames"),
    ("Dunedin Print House", "ap@dunedinprint.example", "Dunedin"),
    ("Eden Terrace Physio", "admin@edenphysio.example", "Auckland"),
    ("Fiordland Lodge", "finance@fiordlandlodge.example", "Te Anau"),
    ("Greymouth Builders", "accounts@greybuild.example", "Greymouth"),
    ("Hauraki Law", "billing@haurakilaw.example", "Auckland"),
    ("Invercargill Motors", "payables@invmotors.example", "Invercargill"),
    ("Kapiti Accounting", "team@kapitiacc.example", "Paraparaumu"),
]

# (code, name, description, unit price, account, tax key "out"|"reduced"|"zero"|"exempt")
_ITEMS = [
    ("SUPPORT-HR", "Support hour", "Helpdesk support, per hour", 85.00, "200", "out"),
    ("ONSITE-HR", "On-site support hour", "On-site engineer, per hour", 120.00, "200", "out"),
    ("REMOTE-30", "Remote session (30 min)", "Remote support session, 30 minutes", 45.00, "200", "out"),
    ("PRIORITY-FEE", "Priority call-out fee", "Same-day priority call-out", 150.00, "260", "out"),
    ("MILEAGE", "Mileage", "Travel, per mile/km", 0.45, "260", "zero"),
    ("SLA-GOLD", "Gold SLA (monthly)", "Gold service level agreement, monthly", 499.00, "200", "out"),
    ("TRAINING-DAY", "Training day", "On-site training, per day", 650.00, "200", "exempt"),
    ("SPARE-PARTS", "Spare parts", "Replacement parts at cost", 1.00, "200", "reduced"),
]

_ORGS = {
    "uk": {
        "tenant_id": UK_TENANT_ID,
        "Name": "Halo Demo UK Ltd",
        "LegalName": "Halo Demo UK Limited",
        "CountryCode": "GB",
        "BaseCurrency": "GBP",
        "Version": "UK",
        "ShortCode": "!HDUK1",
        "Timezone": "GMTSTANDARDTIME",
        "TaxNumber": "GB123456789",
        "taxes": UK_TAX_RATES,
        "contacts": _UK_CONTACTS,
        "taxname": "VAT",
        "tax_keys": {
            "out": "OUTPUT2",
            "reduced": "RROUTPUT",
            "zero": "ZERORATEDOUTPUT",
            "exempt": "EXEMPTOUTPUT",
            "inp": "INPUT2",
        },
    },
    "nz": {
        "tenant_id": NZ_TENANT_ID,
        "Name": "Halo Demo NZ Limited",
        "LegalName": "Halo Demo NZ Limited",
        "CountryCode": "NZ",
        "BaseCurrency": "NZD",
        "Version": "NZ",
        "ShortCode": "!HDNZ1",
        "Timezone": "NEWZEALANDSTANDARDTIME",
        "TaxNumber": "123-456-789",
        "taxes": NZ_TAX_RATES,
        "contacts": _NZ_CONTACTS,
        "taxname": "GST",
        "tax_keys": {
            "out": "OUTPUT2",
            "reduced": "OUTPUT2",
            "zero": "ZERORATED",
            "exempt": "NONE",
            "inp": "INPUT2",
        },
    },
}


# tracking categories: (name, [(option, status)]); an archived option cannot be used on new lines
_TRACKING = [
    ("Region", [("North", "ACTIVE"), ("South", "ACTIVE"), ("East", "ARCHIVED")]),
    ("Service Line", [("Managed Services", "ACTIVE"), ("Projects", "ACTIVE")]),
]


def _tracking_category(key, name, options) -> dict:
    return {
        "TrackingCategoryID": guid(key, "tracking", name),
        "Name": name,
        "Status": "ACTIVE",
        "Options": [
            {
                "TrackingOptionID": guid(key, "tracking", name, option),
                "Name": option,
                "Status": status,
                "HasValidationErrors": False,
                "IsDeleted": False,
                "IsArchived": status == "ARCHIVED",
                "IsActive": status == "ACTIVE",
            }
            for option, status in options
        ],
    }


def other_tenants() -> dict:
    """Tenants that are not organisations, keyed by tenant id (``tenantType`` other than ORGANISATION)."""
    return {PRACTICE_TENANT_ID: {"Name": "Halo Demo Practice", "tenantType": "PRACTICEMANAGER"}}


def _stamp(rec):
    rec["UpdatedDateUTC"] = SEED_EPOCH
    return rec


def build_org(key: str) -> dict:
    """One seeded organisation as stored by :class:`xero_sandbox.state.SandboxState`."""
    spec = _ORGS[key]
    keys = spec["tax_keys"]
    org = {
        k: spec[k]
        for k in (
            "tenant_id",
            "Name",
            "LegalName",
            "CountryCode",
            "BaseCurrency",
            "Version",
            "ShortCode",
            "Timezone",
            "TaxNumber",
        )
    }
    org.update(
        created=SEED_EPOCH,
        invoice_seq=0,
        credit_note_seq=0,
        contacts={},
        items={},
        invoices={},
        credit_notes={},
        payments={},
        attachments={},
        history={},
        online={},
        PeriodLockDate=None,
        EndOfYearLockDate=None,
    )
    org["tax_rates"] = [dict(t) for t in spec["taxes"]]
    org["accounts"] = {}
    for code, name, typ, cls, tax, system, pay in _ACCOUNTS:
        acc = {
            "AccountID": guid(key, "account", code),
            "Code": code,
            "Name": name.format(taxname=spec["taxname"]),
            "Type": typ,
            "Class": cls,
            "Status": "ARCHIVED" if code == "280" else "ACTIVE",
            "TaxType": tax.format(out=keys["out"], inp=keys["inp"]),
            "EnablePaymentsToAccount": pay,
            "ShowInExpenseClaims": False,
            "BankAccountNumber": "20-00-00 12345678" if typ == "BANK" else None,
            "BankAccountType": "BANK" if typ == "BANK" else None,
            "CurrencyCode": org["BaseCurrency"] if typ == "BANK" else None,
            "SystemAccount": system,
            "ReportingCode": cls[:3],
            "HasAttachments": False,
            "AddToWatchlist": False,
        }
        org["accounts"][acc["AccountID"]] = _stamp({k: v for k, v in acc.items() if v is not None})
    for n, (name, email, city) in enumerate(spec["contacts"], 1):
        first = name.split()[0]
        contact = {
            "ContactID": guid(key, "contact", n),
            "ContactNumber": "%s-C%03d" % (key.upper(), n),
            "ContactStatus": "ACTIVE",
            "Name": name,
            "FirstName": first,
            "LastName": "Accounts",
            "EmailAddress": email,
            "IsSupplier": False,
            "IsCustomer": False,
            "DefaultCurrency": org["BaseCurrency"],
            "Addresses": [
                {
                    "AddressType": "POBOX",
                    "AddressLine1": "%d High Street" % (n * 7),
                    "City": city,
                    "Country": "United Kingdom" if key == "uk" else "New Zealand",
                },
                {"AddressType": "STREET"},
            ],
            "Phones": [
                {"PhoneType": "DEFAULT", "PhoneNumber": "555 01%02d" % n},
                {"PhoneType": "MOBILE"},
                {"PhoneType": "FAX"},
                {"PhoneType": "DDI"},
            ],
            "ContactGroups": [],
            "ContactPersons": [],
            "HasAttachments": False,
            "HasValidationErrors": False,
        }
        org["contacts"][contact["ContactID"]] = _stamp(contact)
    org["tracking"] = [_tracking_category(key, name, options) for name, options in _TRACKING]
    for code, name, desc, price, account, tax in _ITEMS:
        item = {
            "ItemID": guid(key, "item", code),
            "Code": code,
            "Name": name,
            "Description": desc,
            "IsSold": True,
            "IsPurchased": False,
            "IsTrackedAsInventory": False,
            "SalesDetails": {"UnitPrice": price, "AccountCode": account, "TaxType": keys[tax]},
            "PurchaseDetails": {},
        }
        org["items"][item["ItemID"]] = _stamp(item)
    return org


def demo_orgs() -> dict:
    """All seeded organisations keyed by tenant id."""
    orgs = {}
    for key in _ORGS:
        org = build_org(key)
        orgs[org["tenant_id"]] = org
    return orgs


def synthetic_contacts(org: dict, count: int, now: float) -> int:
    """Add ``count`` synthetic contacts (stable ids per index) to ``org``; return how many were new."""
    added = 0
    start = sum(1 for c in org["contacts"].values() if c.get("ContactNumber", "").startswith("SYN-"))
    for n in range(start + 1, start + count + 1):
        cid = guid(org["tenant_id"], "syn-contact", n)
        org["contacts"][cid] = {
            "ContactID": cid,
            "ContactNumber": "SYN-%06d" % n,
            "ContactStatus": "ACTIVE",
            "Name": "Synthetic Customer %06d" % n,
            "EmailAddress": "customer%06d@synthetic.example" % n,
            "IsSupplier": False,
            "IsCustomer": False,
            "Addresses": [],
            "Phones": [],
            "ContactGroups": [],
            "ContactPersons": [],
            "HasAttachments": False,
            "HasValidationErrors": False,
            "UpdatedDateUTC": now,
        }
        added += 1
    return added


def synthetic_items(org: dict, count: int, now: float) -> int:
    """Add ``count`` synthetic service items to ``org``; return how many were added."""
    out = next(t["TaxType"] for t in org["tax_rates"] if t["TaxType"] == "OUTPUT2")
    start = sum(1 for i in org["items"].values() if i["Code"].startswith("SYN-"))
    for n in range(start + 1, start + count + 1):
        iid = guid(org["tenant_id"], "syn-item", n)
        org["items"][iid] = {
            "ItemID": iid,
            "Code": "SYN-%06d" % n,
            "Name": "Synthetic service %06d" % n,
            "Description": "Synthetic service %06d" % n,
            "IsSold": True,
            "IsPurchased": False,
            "IsTrackedAsInventory": False,
            "SalesDetails": {"UnitPrice": float(10 + n % 90), "AccountCode": "200", "TaxType": out},
            "PurchaseDetails": {},
            "UpdatedDateUTC": now,
        }
    return count


def synthetic_documents(org: dict, invoices: int, bills: int, updated: float = SEED_EPOCH) -> int:
    """Add historical sales invoices (``HIST-000001``…, half of them PAID) and bills, last changed at
    ``updated`` (default: the seed epoch), as an established organisation has them. Returns how many."""
    contact_ids = sorted(org["contacts"])
    tax = next(t for t in org["tax_rates"] if t["TaxType"] == "OUTPUT2")
    rate = float(tax.get("EffectiveRate") or 0) / 100
    start = sum(1 for i in org["invoices"].values() if (i.get("Reference") or "").startswith("HIST-"))
    for n in range(start + 1, start + invoices + bills + 1):
        sales = n - start <= invoices
        inv_id = guid(org["tenant_id"], "hist-invoice", n)
        net = float(50 + n % 950)
        vat = round(net * rate, 2) if sales else 0.0
        paid = sales and n % 2 == 0
        day = "2023-%02d-%02d" % (1 + n % 12, 1 + n % 28)
        org["invoices"][inv_id] = {
            "InvoiceID": inv_id,
            "Type": "ACCREC" if sales else "ACCPAY",
            "InvoiceNumber": "HIST-%06d" % n if sales else "",
            "Reference": "HIST-%06d" % n,
            "ContactID": contact_ids[n % len(contact_ids)],
            "Date": day,
            "DueDate": day,
            "Status": "PAID" if paid else "AUTHORISED",
            "LineAmountTypes": "Exclusive",
            "LineItems": [
                {
                    "LineItemID": guid(org["tenant_id"], "hist-line", n),
                    "Description": "Managed services, historical document %06d" % n,
                    "Quantity": 1.0,
                    "UnitAmount": net,
                    "AccountCode": "200" if sales else "400",
                    "TaxType": "OUTPUT2" if sales else "NONE",
                    "TaxAmount": vat,
                    "LineAmount": net,
                }
            ],
            "SubTotal": net,
            "TotalTax": vat,
            "Total": round(net + vat, 2),
            "AmountPaid": round(net + vat, 2) if paid else 0.0,
            "AmountCredited": 0.0,
            "AmountDue": 0.0 if paid else round(net + vat, 2),
            "PaymentIDs": [],
            "CreditAllocations": [],
            "CurrencyCode": org["BaseCurrency"],
            "CurrencyRate": 1.0,
            "UpdatedDateUTC": updated,
        }
    return invoices + bills
