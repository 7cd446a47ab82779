"""Fill a customer's Excel invoice template (plain Python, openpyxl; no Odoo imports).

A template is an ordinary .xlsx workbook. In its first worksheet:

* a cell holding ``{{ invoice.<field> }}`` (alone or inside text) is replaced by that header
  value, e.g. ``Invoice {{ invoice.number }}`` or ``{{ invoice.total }}``;
* the first row holding a ``{{ line.<field> }}`` placeholder is the *line row*: it is repeated
  once per invoice line (styles, number formats and row height copied), and rows below it
  move down.

A cell whose whole content is one placeholder receives the raw value (numbers stay numbers,
dates stay dates), so the template's own number formats and formulas apply. Unknown
placeholders are left empty and reported.

Placeholder values are data, never formulas: text that starts with ``=`` (a customer or a
technician named ``=HYPERLINK(...)``) is written as a text cell, and characters Excel cannot
store are dropped. A template cell holding a placeholder is therefore a text, number or date
cell once filled, even if it was written as a formula.
"""

import io
import re
from copy import copy

PLACEHOLDER = re.compile(r"\{\{\s*(invoice|line)\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")

HEADER_FIELDS = (
    "number",
    "date",
    "due_date",
    "customer",
    "customer_address",
    "reference",
    "currency",
    "untaxed",
    "tax",
    "total",
    "company",
    "run",
)
LINE_FIELDS = (
    "ticket",
    "date",
    "technician",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "tax",
)


# Characters an .xlsx cell cannot hold (openpyxl refuses them)
ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


class TemplateError(ValueError):
    """The template cannot be used (the message is meant for users)."""


def _fill(cell, template_value, scope, values, missing):
    """Write ``template_value`` with ``scope``'s placeholders replaced into ``cell``; a value
    that came from a placeholder is stored as data (a text cell, never a formula)."""
    if not isinstance(template_value, str) or "{{" not in template_value:
        cell.value = template_value  # the template's own content, formulas included
        return
    value = _substitute(template_value, scope, values, missing)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS.sub("", value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl makes any text starting with "=" a formula


def _substitute(value, scope, values, missing):
    if not isinstance(value, str) or "{{" not in value:
        return value
    whole = PLACEHOLDER.fullmatch(value.strip())
    if whole and whole.group(1) == scope:
        key = whole.group(2)
        if key not in values:
            missing.add(f"{scope}.{key}")
        return values.get(key)

    def repl(match):
        if match.group(1) != scope:
            return match.group(0)
        key = match.group(2)
        if key not in values:
            missing.add(f"{scope}.{key}")
            return ""
        result = values.get(key)
        return "" if result is None else str(result)

    return PLACEHOLDER.sub(repl, value)


def fill_template(template, header, lines):
    """Return ``(xlsx_bytes, missing_placeholders)`` for ``header`` (dict) and ``lines`` (dicts)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(template))
    except Exception as err:  # noqa: BLE001 - any unreadable upload
        raise TemplateError(f"The Excel template cannot be read: {err}") from err
    sheet = workbook.worksheets[0]
    missing = set()
    line_row = None
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and "{{" in cell.value and "line." in cell.value:
                line_row = cell.row
                break
        if line_row:
            break
    if line_row:
        template_cells = [(cell.column, cell.value, copy(cell._style)) for cell in sheet[line_row]]
        height = sheet.row_dimensions[line_row].height
        extra = max(len(lines) - 1, 0)
        if extra:
            sheet.insert_rows(line_row + 1, extra)
        if not lines:
            for column, _value, _style in template_cells:
                sheet.cell(row=line_row, column=column).value = None
        for offset, values in enumerate(lines):
            row_number = line_row + offset
            if height is not None:
                sheet.row_dimensions[row_number].height = height
            for column, value, style in template_cells:
                cell = sheet.cell(row=row_number, column=column)
                cell._style = copy(style)
                _fill(cell, value, "line", values, missing)
    for row in sheet.iter_rows():
        for cell in row:
            if line_row and line_row <= cell.row < line_row + max(len(lines), 1):
                continue
            _fill(cell, cell.value, "invoice", header, missing)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue(), sorted(missing)


def default_template():
    """The template shipped with the addon (also a model for customers' own)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Invoice"
    bold = Font(bold=True)
    sheet["A1"] = "{{ invoice.company }}"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A3"], sheet["B3"] = "Invoice", "{{ invoice.number }}"
    sheet["A4"], sheet["B4"] = "Date", "{{ invoice.date }}"
    sheet["A5"], sheet["B5"] = "Due", "{{ invoice.due_date }}"
    sheet["A6"], sheet["B6"] = "Customer", "{{ invoice.customer }}"
    sheet["A7"], sheet["B7"] = "Reference", "{{ invoice.reference }}"
    for cell in ("A3", "A4", "A5", "A6", "A7"):
        sheet[cell].font = bold
    headers = ["Ticket", "Date", "Technician", "Description", "Quantity", "Unit", "Unit price", "Amount"]
    fill = PatternFill("solid", fgColor="DDEBF7")
    for column, title in enumerate(headers, 1):
        cell = sheet.cell(row=9, column=column, value=title)
        cell.font = bold
        cell.fill = fill
    placeholders = ["ticket", "date", "technician", "description", "quantity", "unit", "unit_price", "amount"]
    for column, name in enumerate(placeholders, 1):
        cell = sheet.cell(row=10, column=column, value="{{ line.%s }}" % name)
        if name in ("unit_price", "amount"):
            cell.number_format = "#,##0.00"
        elif name == "quantity":
            cell.number_format = "0.00##"
        elif name == "date":
            cell.number_format = "yyyy-mm-dd"
        elif name == "description":
            cell.alignment = Alignment(wrap_text=True)
    sheet["G12"], sheet["H12"] = "Untaxed", "{{ invoice.untaxed }}"
    sheet["G13"], sheet["H13"] = "Tax", "{{ invoice.tax }}"
    sheet["G14"], sheet["H14"] = "Total", "{{ invoice.total }}"
    for cell in ("G12", "G13", "G14"):
        sheet[cell].font = bold
    for cell in ("H12", "H13", "H14"):
        sheet[cell].number_format = "#,##0.00"
    sheet["B4"].number_format = sheet["B5"].number_format = "yyyy-mm-dd"
    widths = {"A": 14, "B": 12, "C": 18, "D": 60, "E": 10, "F": 8, "G": 12, "H": 12}
    for column, width in widths.items():
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
