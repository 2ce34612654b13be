"""Fast creation of an organization's schema by copying the migrated template schema.

django-tenants' generic `clone_schema` (a large PL/pgSQL function) took ~1.9 s per schema on an
empty database and grew with the number of schemas already there (~6 s at 60) because it scans
catalogs across every schema. This copy does only what our tables need, reading the catalogue of
the template schema alone (indexed by its namespace oid), so its cost stays flat as organizations
grow:

1. `CREATE TABLE new.t (LIKE template.t INCLUDING ALL)` for each table: columns, defaults,
   NOT NULL and CHECK constraints, indexes, identity columns (with sequences of their own).
2. Copy the template's rows (django_migrations, content types, permissions) so the new schema
   is known to be fully migrated.
3. Move each identity sequence past the copied ids.
4. Add the foreign keys last, as `pg_get_constraintdef` renders them for the template with the
   template on the search path (so referenced tables are unqualified and resolve in the new schema).

Everything runs in the caller's transaction: a failure leaves no half-made schema.
"""

from __future__ import annotations

import re

from django.db import connection

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _quoted(name: str) -> str:
    if not _SCHEMA_NAME.match(name):
        raise ValueError(f"not a schema name we create: {name!r}")
    return f'"{name}"'


def schema_clone(*, source: str, target: str) -> None:
    source_q, target_q = _quoted(source), _quoted(target)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            [source],
        )
        tables = [row[0] for row in cursor.fetchall()]
        # Foreign keys rendered with the template first on the search path: unqualified names.
        cursor.execute(f"SET LOCAL search_path TO {source_q}, public")
        cursor.execute(
            "SELECT c.relname, con.conname, pg_get_constraintdef(con.oid) FROM pg_constraint con "
            "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND con.contype = 'f' ORDER BY c.relname, con.conname",
            [source],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND a.attidentity IN ('a', 'd') AND NOT a.attisdropped",
            [source],
        )
        identity_columns = cursor.fetchall()

        cursor.execute(f"CREATE SCHEMA {target_q}")
        cursor.execute(f"SET LOCAL search_path TO {target_q}, public")
        for table in tables:
            cursor.execute(f'CREATE TABLE {target_q}."{table}" (LIKE {source_q}."{table}" INCLUDING ALL)')
        for table in tables:
            cursor.execute(f'INSERT INTO {target_q}."{table}" SELECT * FROM {source_q}."{table}"')
        for table, column in identity_columns:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                f'COALESCE((SELECT max("{column}") FROM {target_q}."{table}"), 0) + 1, false)',
                [f'{target_q}."{table}"', column],
            )
        for table, name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {target_q}."{table}" ADD CONSTRAINT "{name}" {definition}')
        cursor.execute("SET LOCAL search_path TO public")
    connection.set_schema_to_public()
