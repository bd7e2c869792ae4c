"""Runs inside the app (`manage.py shell -c`, with the deployed code), never imported by rollbook.

A readable label for rows named by key. $ROLLBOOK_ROW_KEYS is {table: [key, ...]}, each key as the
record names it (an integer, or a key's JSON text); one JSON line after the marker answers
{table: {key: label}}: the model's own __str__ of each row found, on one line. Left out: tables no
model maps, models without a __str__ of their own (Django's "Order object (7)" says nothing the
key does not), keys of several columns, rows not found, and a model or row the app cannot read.
"""

import json
import os

from django.apps import apps
from django.db import models

MARKER = "ROLLBOOK-ROW-LABELS "
WIDTH = 80  # a label longer than this is cut


def labels(model, given):
    """{key as given: label} of the rows of `model` whose keys are `given` ({str(pk): key})."""
    found = {}
    for row in model._base_manager.filter(pk__in=list(given)):  # every row, whatever the manager
        try:
            text = " ".join(str(row).split())
        except Exception:
            continue
        if str(row.pk) in given and text:
            found[given[str(row.pk)]] = text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"
    return found


def main():
    wanted = json.loads(os.environ["ROLLBOOK_ROW_KEYS"])
    answer = {}
    for model in apps.get_models(include_auto_created=True):
        table = model._meta.db_table
        if table not in wanted or model._meta.proxy or model.__str__ is models.Model.__str__:
            continue
        given = {}
        for key in wanted[table]:
            try:
                value = json.loads(key) if isinstance(key, str) else key
            except ValueError:  # not a key's JSON text: nothing to look up
                continue
            if not isinstance(value, (list, dict)):
                given[str(value)] = key
        try:
            found = labels(model, given)
        except Exception:
            continue
        if found:
            answer[table] = found
    print(MARKER + json.dumps(answer))


main()
