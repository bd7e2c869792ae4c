"""Runs inside the app (`manage.py shell -c`, with the deployed code), never imported by rollbook.

What undoing the migrations down to $ROLLBOOK_REVERSE_TO ([[app, migration or null], ...]) does to
the data, operation by operation, from Django's own migration plan and model states: one JSON line
after the marker, each operation with its effect —
  drops        the column or table only the newer release has goes, with its values;
  empties      a column or table the newer release removed comes back empty (old values: backup);
  converts     a column's type or constraints change back (values may not survive);
  unknown      raw SQL or Python: what it does to rows cannot be known from the plan;
  irreversible Django cannot undo it;
  schema       indexes, constraints, names, options: no row or value changes (a RenameField
               also gives its table, column and from_column: Paso 4.5 maps the names back).
"""

import json
import os

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations import operations
from django.db.migrations.executor import MigrationExecutor

MARKER = "ROLLBOOK-REVERSE-PLAN "


def place(state, app_label, model_name, field_name=None):
    """(table, column) of a model (and field) in a migration state; (None, None) when the model
    has no table of its own (proxy, unmanaged)."""
    model = state.apps.get_model(app_label, model_name)
    if model._meta.proxy or not model._meta.managed:
        return None, None
    if field_name is None:
        return model._meta.db_table, None
    field = model._meta.get_field(field_name)
    if field.many_to_many:
        return field.remote_field.through._meta.db_table, None
    return model._meta.db_table, field.column


def effect(op, app_label, before, after):
    """(effect, table, column) of undoing `op`; `before`/`after` the states around it."""
    if not op.reversible:
        return "irreversible", None, None
    if isinstance(op, (operations.RunPython, operations.RunSQL)):
        return "unknown", None, None
    if isinstance(op, operations.SeparateDatabaseAndState):
        return "unknown", None, None
    found = None
    if isinstance(op, operations.AddField):
        found = "drops", *place(after, app_label, op.model_name, op.name)
    elif isinstance(op, operations.RemoveField):
        found = "empties", *place(before, app_label, op.model_name, op.name)
    elif isinstance(op, operations.CreateModel):
        found = "drops", *place(after, app_label, op.name)
    elif isinstance(op, operations.DeleteModel):
        found = "empties", *place(before, app_label, op.name)
    elif isinstance(op, operations.AlterField):
        found = "converts", *place(after, app_label, op.model_name, op.name)
    if found is None or found[1] is None:
        return "schema", None, None
    return found


def renamed(op, app_label, before, after):
    """{"table", "column", "from_column"} of a RenameField: the column's name before and after
    (rows kept aside under the newer name go back under the older one); None otherwise."""
    if not isinstance(op, operations.RenameField):
        return None
    table, old = place(before, app_label, op.model_name, op.old_name)
    new = place(after, app_label, op.model_name, op.new_name)[1]
    if table is None or old is None or old == new:
        return None
    return {"table": table, "column": new, "from_column": old}


def main():
    targets = [tuple(t) for t in json.loads(os.environ["ROLLBOOK_REVERSE_TO"])]
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    found = []
    for migration, backwards in executor.migration_plan(targets):
        key = (migration.app_label, migration.name)
        state = executor.loader.project_state(key, at_end=False)
        for op in migration.operations:
            after = state.clone()
            op.state_forwards(migration.app_label, after)
            kind, table, column = effect(op, migration.app_label, state, after)
            found.append(
                {
                    "migration": f"{migration.app_label}.{migration.name}",
                    "operation": op.describe(),
                    "effect": kind if backwards else "forwards",
                    "table": table,
                    "column": column,
                    **(renamed(op, migration.app_label, state, after) or {}),
                }
            )
            state = after
    print(MARKER + json.dumps(found))


main()
