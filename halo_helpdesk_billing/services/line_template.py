# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Invoice-line description templates that can only read fields (no Odoo import).

A template is text with placeholders in Odoo's inline template syntax: ``{{ expression }}``
or ``{{ expression ||| default }}``. Unlike Odoo's template editor mode, an expression is
never evaluated by Python: it is parsed with :mod:`ast`, checked against a small grammar and
a fixed schema of field names, and turned into a function over plain values (``dict``,
``str``, ``date``, ``float``, ``False``) prepared from the charge by the caller. No record,
environment or Python object of the server is ever handed to a template, so there is
nothing to call a method on.

The grammar is what the default template and existing templates need, and nothing more:

- ``object.<field>`` and ``object.<relation>.<field>``: a field of the charge or of a record
  it links to, from :data:`SCHEMA` only (no ``_private`` or ``__dunder__`` name, no ``env``,
  no ``sudo``);
- string literals (``' - '``); ``+`` (joins texts); ``and`` / ``or`` / ``not`` /
  ``x if test else y`` (Python's truth rules, as before);
- two helpers: ``str(x)`` and ``format_date(x)`` (the user's date format), one argument each.

Anything else (a method call, a subscript, a comprehension, a lambda, a number, a comparison,
an unknown name) is refused by :func:`parse` with a :class:`TemplateError`, which the models
raise when a template is saved and the billing run raises for a template stored before.
"""

import ast
import re

# Odoo's inline template syntax (odoo.tools.rendering_tools.INLINE_TEMPLATE_REGEX)
INLINE_TEMPLATE_REGEX = re.compile(r"\{\{(.+?)(\|\|\|\s*(.*?))?\}\}")

# The fields a template may read: charge field -> None (a value) or the fields of the record
# it links to. The caller prepares exactly these values (see values_needed).
SCHEMA = {
    "name": None,
    "note": None,
    "date": None,
    "kind": None,
    "kind_label": None,
    "quantity": None,
    "uom_name": None,
    # how the charge was priced (minimum, increments, multipliers, price), for customers who
    # want to read it on their invoice
    "explanation": None,
    "ticket_id": ("number", "name"),
    "user_id": ("name",),
    "rate_id": ("name",),
    "product_id": ("name", "default_code"),
    "contract_id": ("name", "reference"),
    "partner_id": ("name", "ref"),
}
ROOT = "object"
FUNCTIONS = ("str", "format_date")
MAX_LENGTH = 2000
MAX_DEPTH = 12


class TemplateError(ValueError):
    """A template the service refuses. ``code`` says why (see the models' messages), ``params``
    the details (``expression``, ``name``...)."""

    def __init__(self, code, **params):
        self.code = code
        self.params = params
        super().__init__(f"{code}: {params}")


class LineTemplate:
    """A parsed template: ``render(values, format_date)`` gives the text of one charge."""

    def __init__(self, instructions, paths):
        self._instructions = instructions
        # {field: set of sub-fields} the template reads (empty set: a value or a truth test)
        self.paths = paths

    def render(self, values, format_date=str):
        """The template for one charge. ``values``: {field: value}, a linked record being a
        dict of its fields or ``False``. Values are converted as Odoo's renderer does: a false
        value gives the placeholder's default, anything else ``str(value)``."""
        helpers = {"str": str, "format_date": format_date}
        parts = []
        for literal, function, default, expression in self._instructions:
            parts.append(literal)
            if function is None:
                continue
            value = function(values, helpers) or default
            if isinstance(value, dict):
                raise TemplateError("record", expression=expression)
            if value:
                parts.append(str(value))
        return "".join(parts)


def parse(template):
    """The :class:`LineTemplate` of ``template``, or :class:`TemplateError`."""
    template = template or ""
    if len(template) > MAX_LENGTH:
        raise TemplateError("length", limit=MAX_LENGTH)
    instructions = []
    paths = {}
    position = 0
    for match in INLINE_TEMPLATE_REGEX.finditer(template):
        literal = template[position : match.start()]
        expression = match.group(1).strip()
        default = match.group(3) or ""
        position = match.end()
        function = _compile_expression(expression, paths) if expression else None
        instructions.append((literal, function, default, expression))
    if template[position:]:
        instructions.append((template[position:], None, "", ""))
    return LineTemplate(instructions, paths)


def check(template):
    """Raise :class:`TemplateError` when ``template`` cannot be used; ``None`` otherwise."""
    parse(template)


def values_needed(template):
    """{field: sub-fields} the caller must prepare for ``template`` (a parsed template)."""
    return template.paths


def _compile_expression(expression, paths):
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as err:
        raise TemplateError("syntax", expression=expression, detail=err.msg) from err
    return _Compiler(expression, paths).compile(tree.body, 0)


class _Compiler:
    """Turns an allowed expression tree into a function ``(values, helpers) -> value``."""

    def __init__(self, expression, paths):
        self.expression = expression
        self.paths = paths

    def refuse(self, code, **params):
        raise TemplateError(code, expression=self.expression, **params)

    def compile(self, node, depth, value_needed=True):
        if depth > MAX_DEPTH:
            self.refuse("complex")
        depth += 1
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, str):
                self.refuse("construct", construct=type(node.value).__name__)
            value = node.value
            return lambda values, helpers: value
        if isinstance(node, (ast.Attribute, ast.Name)):
            return self.compile_path(node, value_needed)
        if isinstance(node, ast.BoolOp):
            return self.compile_boolop(node, depth)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            operand = self.compile(node.operand, depth, value_needed=False)
            return lambda values, helpers: not operand(values, helpers)
        if isinstance(node, ast.IfExp):
            test = self.compile(node.test, depth, value_needed=False)
            body = self.compile(node.body, depth)
            orelse = self.compile(node.orelse, depth)
            return lambda values, helpers: (
                body(values, helpers) if test(values, helpers) else orelse(values, helpers)
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.compile_join(node, depth)
        if isinstance(node, ast.Call):
            return self.compile_call(node, depth)
        self.refuse("construct", construct=_describe(node))
        return None

    def compile_boolop(self, node, depth):
        operands = [self.compile(value, depth, value_needed=False) for value in node.values]
        if isinstance(node.op, ast.And):

            def and_(values, helpers):
                result = True
                for operand in operands:
                    result = operand(values, helpers)
                    if not result:
                        return result
                return result

            return and_

        def or_(values, helpers):
            result = False
            for operand in operands:
                result = operand(values, helpers)
                if result:
                    return result
            return result

        return or_

    def compile_join(self, node, depth):
        left = self.compile(node.left, depth)
        right = self.compile(node.right, depth)

        def add(values, helpers):
            first, second = left(values, helpers), right(values, helpers)
            if not (isinstance(first, str) and isinstance(second, str)):
                raise TemplateError("join", expression=self.expression)
            return first + second

        return add

    def compile_call(self, node, depth):
        if not isinstance(node.func, ast.Name):
            # object.name.upper(), object.sudo(), ...
            self.refuse("method")
        name = node.func.id
        if name not in FUNCTIONS:
            self.refuse("function", name=name)
        if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
            self.refuse("arguments", name=name)
        argument = self.compile(node.args[0], depth)
        expression = self.expression

        def call(values, helpers):
            value = argument(values, helpers)
            if isinstance(value, dict):
                raise TemplateError("record", expression=expression)
            return helpers[name](value)

        return call

    def compile_path(self, node, value_needed):
        names = []
        while isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            # object.user_id.sudo().name
            self.refuse("method")
        if not isinstance(node, ast.Name):
            # str(object.name).x, 'a'.join, object.ids[0].name...
            self.refuse("construct", construct=_describe(node))
        names.append(node.id)
        names.reverse()
        for name in names:
            if name.startswith("_"):
                self.refuse("private", name=name)
        if names[0] != ROOT:
            self.refuse("name", name=names[0])
        if len(names) == 1:
            self.refuse("record")
        field = names[1]
        if field not in SCHEMA:
            self.refuse("field", name=".".join(names[:2]))
        subfields = SCHEMA[field]
        if len(names) > 3 or (subfields is None and len(names) > 2):
            self.refuse("field", name=".".join(names))
        if len(names) == 3 and names[2] not in subfields:
            self.refuse("field", name=".".join(names))
        if value_needed and subfields is not None and len(names) == 2:
            # a linked record is only a truth test ({{ object.user_id and ... }})
            self.refuse("record")
        needed = self.paths.setdefault(field, set())
        if len(names) == 3:
            needed.add(names[2])
            sub = names[2]

            def read_sub(values, helpers):
                record = values.get(field) or False
                return record and record.get(sub, False)

            return read_sub
        return lambda values, helpers: values.get(field, False)


def _describe(node):
    kinds = {
        ast.Subscript: "subscript",
        ast.Lambda: "lambda",
        ast.Compare: "comparison",
        ast.ListComp: "comprehension",
        ast.GeneratorExp: "comprehension",
        ast.DictComp: "comprehension",
        ast.SetComp: "comprehension",
        ast.List: "list",
        ast.Tuple: "tuple",
        ast.Dict: "dict",
        ast.Set: "set",
        ast.JoinedStr: "f-string",
        ast.NamedExpr: "assignment",
        ast.Await: "await",
        ast.Yield: "yield",
        ast.YieldFrom: "yield",
        ast.Starred: "star",
        ast.BinOp: "operator",
        ast.UnaryOp: "operator",
        ast.Call: "function call",
    }
    return kinds.get(type(node), type(node).__name__)
