"""The `environment` label value, folded the same way by every source.

Argo workflows (a parameter), ArgoCD applications (a label) and PostgreSQL audit rows
(metadata->>'environment') all carry a free-text environment. Label values must stay
bounded, so each source folds it with the one rule below against its configured
allow-list (the operations guide's dev, staging, production unless configured):

- an allow-listed value is kept as it is (case-sensitive: `Production` is not `production`);
- any other value becomes `other`;
- a missing value (absent, null or empty) becomes `unknown`.

The audit source folds inside its SQL query (so a table with a million distinct values
still returns a handful of rows); `SQL_FOLD` below is that same rule written as SQL, and
the tests feed the same values through every source.
"""

from __future__ import annotations

from collections.abc import Collection

from exporter.labelvalues import OTHER, UNKNOWN


def fold_environment(value: str | None, allowed: Collection[str]) -> str:
    if not value:
        return UNKNOWN
    return value if value in allowed else OTHER


# `fold_environment` as SQL, for psycopg's sql.SQL(...).format(env=<the expression>), with
# the named parameters from `sql_params`.
SQL_FOLD = (
    "CASE WHEN {env} IS NULL OR {env} = '' THEN %(unknown)s"
    " WHEN {env} = ANY(%(envs)s) THEN {env} ELSE %(other)s END"
)


def sql_params(allowed: Collection[str]) -> dict[str, object]:
    return {"envs": list(allowed), "other": OTHER, "unknown": UNKNOWN}
