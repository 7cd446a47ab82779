# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""SQL copies of stored rows, and when they are refused.

A copy is a row the ORM never saw: a stored computed field that follows a column of the copied
model is not recomputed for it. The fields of ``account`` and ``analytic`` are recomputed by
the copy itself (``account.move._halo_bulk_add_lines`` hands the invoice's own fields back to
the ORM and runs Odoo's sync; the tests compare the copies with ORM-made lines column by
column), and ours are ours. Any other module's stored computed field that depends on a column
of ``account.move.line`` or ``account.analytic.line`` makes :func:`refusal` refuse the copy:
the lines are then made by the ORM, as without this addon.
"""

import logging
import weakref

from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Modules whose stored computed fields on or over the copied models the copy keeps right
SAFE_MODULES = frozenset(
    (
        "account",
        "analytic",
        "halo_helpdesk_billing",
        # its stored computes on analytic lines follow their task, project and employee, which
        # copies never carry (account.move.line._halo_analytic_copyable), and their partner, that
        # of the journal item, the same on every line of one invoice
        "hr_timesheet",
    )
)

# refusal per registry and model, worked out (and logged) once per registry:
# {id(registry): (weak reference to the registry, {model name: reason or None})}
_REFUSALS = {}


def _refusals(registry):
    entry = _REFUSALS.get(id(registry))
    if entry is None or entry[0]() is not registry:
        entry = _REFUSALS[id(registry)] = (weakref.ref(registry), {})
    return entry[1]


def forget(registry):
    """Work the refusals of ``registry`` out again (and log them) on their next use."""
    _REFUSALS.pop(id(registry), None)


def foreign_dependents(registry, model_name, safe_modules=SAFE_MODULES):
    """The stored computed fields, of any model, that depend on a stored field of
    ``model_name`` and are defined or extended by a module outside ``safe_modules`` (or by no
    module: a custom field)."""
    found = {}
    for field in registry[model_name]._fields.values():
        if not field.store:
            continue
        for dependent in registry.get_dependent_fields(field):
            modules = set(dependent._modules or ())
            if dependent.store and dependent.compute and (not modules or not modules <= safe_modules):
                found[str(dependent)] = dependent
    return [found[name] for name in sorted(found)]


def refusal(env, model_name):
    """Why rows of ``model_name`` may not be copied in this registry (the foreign stored
    computed fields, see :func:`foreign_dependents`), or ``None``. Logged once per registry."""
    registry = env.registry
    refusals = _refusals(registry)
    if model_name not in refusals:
        fields = foreign_dependents(registry, model_name)
        reason = None
        if fields:
            reason = ", ".join(f"{field} ({', '.join(field._modules) or 'custom'})" for field in fields)
            _logger.warning(
                "Bulk copy of %s lines refused, the ORM makes them: stored computed fields of other "
                "modules depend on their columns: %s",
                model_name,
                reason,
            )
        refusals[model_name] = reason
    return refusals[model_name]


def insert_row_copies(model, prototype_ids, own_values, returning=()):
    """One INSERT … SELECT of copies of stored rows of ``model``: each copy takes every stored
    column of its prototype but the ones in ``own_values``.

    The prototypes are read once into a materialised CTE (a join planned on stale statistics
    went quadratic).

    :param prototype_ids: the prototype of each copy, in the order of the copies
    :param own_values: ``{column: [value of each copy]}``, values converted for the column
    :param returning: columns of the new rows to return
    :return: the ``returning`` values of the new rows
    """
    columns = [
        fname for fname, field in model._fields.items() if field.store and field.column_type and fname != "id"
    ]
    own = [fname for fname in columns if fname in own_values]
    model.env.cr.execute(
        SQL(
            """WITH p AS MATERIALIZED (SELECT * FROM %(table)s WHERE id = ANY(%(prototype_ids)s))
           INSERT INTO %(table)s (%(columns)s)
           SELECT %(select)s
             FROM unnest(%(prototypes)s::int[], %(arrays)s) WITH ORDINALITY AS v(prototype, %(own)s, position)
             JOIN p ON p.id = v.prototype
         ORDER BY v.position
         %(returning)s""",
            table=SQL.identifier(model._table),
            prototype_ids=list(set(prototype_ids)),
            columns=SQL(", ").join(SQL.identifier(fname) for fname in columns),
            select=SQL(", ").join(
                SQL("v.%s", SQL.identifier(fname))
                if fname in own_values
                else SQL("p.%s", SQL.identifier(fname))
                for fname in columns
            ),
            prototypes=list(prototype_ids),
            arrays=SQL(", ").join(
                SQL("%s::%s[]", own_values[fname], SQL(model._fields[fname].column_type[1].split("(")[0]))
                for fname in own
            ),
            own=SQL(", ").join(SQL.identifier(fname) for fname in own),
            returning=SQL("RETURNING %s", SQL(", ").join(SQL.identifier(fname) for fname in returning))
            if returning
            else SQL(),
        )
    )
    return model.env.cr.fetchall() if returning else []
