"""Line-description templates: what they render, and everything they refuse.

The renderer used to evaluate each placeholder as Python with the charge record as
``object``. These tests render the templates in use (the default one, the documented one and
the ones of the tests) both ways, the old way with Python's ``eval`` over stand-ins that
behave like Odoo records (an empty link is false and its fields are ``False``), and check
that the text is the same byte for byte.
"""

import itertools
from datetime import date

import pytest
from _loader import load_service

lt = load_service("line_template")

# res_company.DEFAULT_LINE_TEMPLATE (the models are not importable here)
DEFAULT = (
    "{{ object.ticket_id.number or '' }} {{ object.ticket_id.name or '' }} - "
    "{{ object.kind_label }}{{ object.date and (' ' + str(object.date)) or '' }}"
    "{{ object.user_id and (' - ' + object.user_id.name) or '' }}: {{ object.name or '' }}"
)
IN_USE = [
    DEFAULT,
    # readme/USAGE.md
    "{{ object.ticket_id.number }} {{ object.user_id.name }}: {{ object.name }}",
    # tests/test_billing_run.py
    "[{{ object.ticket_id.number }}] {{ object.user_id.name }} - {{ object.rate_id.name ||| no rate}}"
    " - {{ format_date(object.date) }}",
]


def uk_date(value):
    return value.strftime("%d/%m/%Y") if value else ""


class _Record:
    """Stands in for an Odoo record in the old renderer: fields as attributes, an empty
    recordset false with every field ``False``."""

    def __init__(self, **fields):
        self._fields = fields

    def __getattr__(self, name):
        return self._fields.get(name, False)

    def __bool__(self):
        return bool(self._fields)


def old_render(template, record):
    """The previous renderer (Python evaluation of each placeholder), for comparison."""
    out = []
    for literal, expression, default in _old_parse(template):
        out.append(literal)
        if expression:
            value = eval(expression, {"object": record, "format_date": uk_date})  # noqa: S307  # pylint: disable=eval-used
            value = value or default
            if value:
                out.append(str(value))
    return "".join(out)


def _old_parse(text):
    groups, position = [], 0
    for match in lt.INLINE_TEMPLATE_REGEX.finditer(text):
        groups.append((text[position : match.start()], match.group(1).strip(), match.group(3) or ""))
        position = match.end()
    if text[position:]:
        groups.append((text[position:], "", ""))
    return groups


def charges():
    """Charges with every combination of empty and filled fields the templates read."""
    tickets = [False, {"number": "HT0042", "name": "Printer jams"}, {"number": "HT0043", "name": False}]
    users = [False, {"name": "Terry Tech"}]
    rates = [False, {"name": "On-site"}]
    dates = [False, date(2026, 7, 7)]
    names = [False, "Replaced the fuser", "Ünïcödé – “quotes” {{ not a placeholder }}"]
    for ticket, user, rate, day, name in itertools.product(tickets, users, rates, dates, names):
        yield {
            "kind_label": "Labour",
            "date": day,
            "name": name,
            "ticket_id": ticket,
            "user_id": user,
            "rate_id": rate,
        }


def as_values(charge):
    return {key: (dict(value, id=1) if isinstance(value, dict) else value) for key, value in charge.items()}


def as_record(charge):
    return _Record(
        **{
            key: (
                _Record(**value) if isinstance(value, dict) else (_Record() if key.endswith("_id") else value)
            )
            for key, value in charge.items()
        }
    )


@pytest.mark.parametrize("template", IN_USE)
def test_templates_in_use_render_byte_for_byte_as_before(template):
    parsed = lt.parse(template)
    for charge in charges():
        assert parsed.render(as_values(charge), uk_date) == old_render(template, as_record(charge)), charge


def test_default_template_worked_out():
    parsed = lt.parse(DEFAULT)
    values = {
        "ticket_id": {"id": 7, "number": "HT0042", "name": "Printer jams"},
        "kind_label": "Labour",
        "date": date(2026, 7, 7),
        "user_id": {"id": 3, "name": "Terry"},
        "name": "Fuser",
    }
    assert parsed.render(values) == "HT0042 Printer jams - Labour 2026-07-07 - Terry: Fuser"
    values = {"ticket_id": False, "kind_label": "Mileage", "date": False, "user_id": False, "name": False}
    assert parsed.render(values) == "  - Mileage: "


def test_the_template_says_which_values_it_needs():
    parsed = lt.parse(DEFAULT)
    assert lt.values_needed(parsed) == {
        "ticket_id": {"number", "name"},
        "kind_label": set(),
        "date": set(),
        "user_id": {"name"},
        "name": set(),
    }


def test_default_value_and_conditional():
    # as in Odoo, the default runs up to the closing braces (a space before them is kept)
    parsed = lt.parse(
        "{{ object.rate_id.name ||| no rate}}|{{ 'night' if object.note else 'day' }}"
        "|{{ not object.quantity }}"
    )
    assert parsed.render({"rate_id": False, "note": False, "quantity": 0.0}) == "no rate|day|True"
    assert (
        parsed.render({"rate_id": {"id": 1, "name": "Remote"}, "note": "x", "quantity": 1.5})
        == "Remote|night|"
    )


def test_literal_text_without_placeholders_is_kept():
    assert lt.parse("Support  ").render({}) == "Support  "
    assert lt.parse("").render({}) == ""
    assert lt.parse(None).render({}) == ""


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        # what the issue demonstrated, and its variants
        ("object.sudo()", "method"),
        ("object.user_id.sudo().write({'groups_id': [4]})", "method"),
        ("object.user_id.sudo().name", "method"),
        ("object.sudo().env.ref('base.group_system')", "method"),
        ("str(object.name).upper", "construct"),
        ("object.env", "field"),
        ("object.env.user", "field"),
        ("env['res.users']", "construct"),
        ("object.__class__", "private"),
        ("object.ticket_id.__class__.__mro__", "private"),
        ("object._source()", "method"),
        ("object._name", "private"),
        ("user.name", "name"),
        ("ctx", "name"),
        ("__import__('os')", "function"),
        ("getattr(object, 'env')", "function"),
        ("eval('1')", "function"),
        ("object.name.upper()", "method"),
        ("'{}'.format(object)", "method"),
        ("str(object.name, 'utf-8')", "arguments"),
        ("str()", "arguments"),
        ("format_date(value=object.date)", "arguments"),
        ("str(*object.name)", "arguments"),
        # fields outside the schema (money, configuration) and too-deep paths
        ("object.amount", "field"),
        ("object.unit_price", "field"),
        ("object.partner_id.halo_line_template", "field"),
        ("object.ticket_id.partner_id.name", "field"),
        ("object.ticket_id.number.real", "field"),
        ("object.name.x", "field"),
        ("object.run_id.company_id.name", "field"),
        # other Python
        ("object.name[0]", "construct"),
        ("[x for x in 'ab']", "construct"),
        ("lambda: 1", "construct"),
        ("object.quantity > 1", "construct"),
        ("object.quantity * 1000000", "construct"),
        ("1", "construct"),
        ("f'{object.name}'", "construct"),
        ("(x := 1)", "construct"),
        ("{'a': 1}", "construct"),
        ("object.ticket_id + 1", "record"),
        ("object.name + 1", "construct"),
        # a record is not a value
        ("object", "record"),
        ("object.user_id", "record"),
        ("str(object.user_id)", "record"),
        ("' ' + object.ticket_id", "record"),
        # broken
        ("object.ticket_id.number +", "syntax"),
        ("object.", "syntax"),
    ],
)
def test_everything_else_is_refused_at_parse_time(expression, code):
    with pytest.raises(lt.TemplateError) as caught:
        lt.parse("Before {{ %s }} after" % expression)
    assert caught.value.code == code, caught.value.params
    assert caught.value.params["expression"] == expression


def test_too_long_and_too_deep_are_refused():
    with pytest.raises(lt.TemplateError) as caught:
        lt.parse("x" * (lt.MAX_LENGTH + 1))
    assert caught.value.code == "length"
    deep = "' '" + " + (' '" * 20 + ")" * 20
    with pytest.raises(lt.TemplateError) as caught:
        lt.parse("{{ %s }}" % deep)
    assert caught.value.code == "complex"


def test_a_record_reached_through_or_is_refused_when_rendered():
    parsed = lt.parse("{{ object.user_id or 'nobody' }}")
    assert parsed.render({"user_id": False}) == "nobody"
    with pytest.raises(lt.TemplateError) as caught:
        parsed.render({"user_id": {"id": 3, "name": "Terry"}})
    assert caught.value.code == "record"


def test_joining_text_with_a_non_text_value_is_refused():
    parsed = lt.parse("{{ ' ' + object.date }}")
    with pytest.raises(lt.TemplateError) as caught:
        parsed.render({"date": date(2026, 7, 7)})
    assert caught.value.code == "join"
    assert lt.parse("{{ ' ' + str(object.date) }}").render({"date": date(2026, 7, 7)}) == " 2026-07-07"


def test_values_are_read_from_the_prepared_dicts_only():
    """Attribute names are looked up as keys of the plain values, never with getattr: a value
    that happens to be an object with attributes exposes nothing."""

    class Secret:
        name = "leaked"

    parsed = lt.parse("{{ object.user_id.name ||| none}}")
    assert parsed.render({"user_id": {"id": 1}}) == "none"
    with pytest.raises(AttributeError):
        parsed.render({"user_id": Secret()})


def test_check_accepts_every_documented_field():
    for field, subfields in lt.SCHEMA.items():
        if subfields is None:
            lt.check("{{ object.%s }}" % field)
        else:
            for sub in subfields:
                lt.check("{{ object.%s.%s }}" % (field, sub))
