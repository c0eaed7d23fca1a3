"""Fast bulk loading of plain rows (demo data, and later imports and `registry load`).

PostgreSQL gets COPY; SQLite gets the driver's executemany with ready-made values. Both skip
SQLAlchemy's per-row work, which dominates at millions of rows. Column defaults that the
models compute in Python (timestamps, version) are filled in here, once per batch.
"""
from __future__ import annotations

import json
from operator import itemgetter
from datetime import timezone

from sqlalchemy import Table, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _defaults(table: Table) -> dict:
    """Python-side column defaults, evaluated once for the batch (one timestamp for all rows)."""
    out = {}
    for column in table.c:
        default = column.default
        if default is None:
            continue
        if default.is_scalar:
            out[column.name] = default.arg
        elif default.is_callable:
            out[column.name] = default.arg(None)  # SQLAlchemy wraps zero-argument callables
    return out


class JsonText(str):
    """A JSON column's value already serialized: written as it is."""

    __slots__ = ()


def _json(v):
    if v is None:
        return None
    if type(v) is JsonText:
        return str(v)  # a plain str for the driver
    return json.dumps(v, ensure_ascii=False)


def _to_sqlite(column):
    """A converter for one column's values, chosen once from its type (not per value)."""
    type_name = type(column.type).__name__
    if type_name in ("UTCDateTime", "DateTime"):
        def convert(v):
            if v is None:
                return None
            if v.tzinfo is not None:
                v = v.astimezone(timezone.utc).replace(tzinfo=None)
            return v.strftime(_SQLITE_DATETIME)
        return convert
    if type_name == "Date":
        return lambda v: v.isoformat() if v is not None else None
    if type_name == "Boolean":
        return lambda v: int(v) if v is not None else None
    if type_name == "JSON":
        return _json
    return None


def _to_pg(column):
    if type(column.type).__name__ == "JSON":
        return _json
    return None


def copy_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts keyed by column name) into ``table`` in one bulk operation."""
    if not rows:
        return
    defaults = _defaults(table)
    first = rows[0]
    # The first row's columns, then the defaulted ones it lacks: values() gives them in this order.
    columns = ([c for c in table.c if c.name in first]
               + [c for c in table.c if c.name not in first and c.name in defaults])
    names = [c.name for c in columns]
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    raw = connection.connection.driver_connection
    converters = [(_to_pg if postgres else _to_sqlite)(c) for c in columns]
    # Defaults are converted once; row values through their column's converter.
    fixed = {n: (conv(defaults[n]) if conv else defaults[n]) for n, conv in zip(names, converters) if n in defaults}
    plan = list(zip(names, converters))

    def values_of_any(row):
        return [(conv(row[n]) if conv else row[n]) if n in row else fixed.get(n) for n, conv in plan]

    # Most batches are rows with the keys of the first: read those with one C-level getter,
    # convert only the columns that need it, and append the defaults already converted.
    keys = [n for n in names if n in first]
    take = itemgetter(*keys) if len(keys) > 1 else (lambda row: tuple(row[k] for k in keys))
    tail = tuple(fixed.get(n) for n in names[len(keys):])
    convert = [(i, conv) for i, (_, conv) in enumerate(plan[:len(keys)]) if conv]

    def values(row):
        if not keys or len(row) != len(keys):  # other keys than the first row's, or names that are no column
            return values_of_any(row)
        try:
            got = take(row)
        except KeyError:
            return values_of_any(row)
        if convert:
            got = list(got)
            for i, conv in convert:
                got[i] = conv(got[i])
            return (*got, *tail)
        return got + tail

    quoted = ", ".join(f'"{n}"' for n in names)
    if postgres:
        with raw.cursor() as cursor:
            with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(values(row))
    else:
        marks = ", ".join("?" for _ in names)
        raw.executemany(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', [values(r) for r in rows])


def one_of(session: Session, column, values, item_type):
    """``column IN values``; on PostgreSQL ``column = ANY(array)``, one parameter: an IN list of
    3,000 meter ids was 3,000 parameters to adapt, send and parse (the meters query took 30 ms
    a batch, 10 as an array)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(item_type)))
    return column.in_(values)
