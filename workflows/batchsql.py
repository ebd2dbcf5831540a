"""Batch SQL for the recorder's hot path: many rows per statement, values prepared cheaply."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import orjson
from django.db import models

from .models import LogLine, Run, TaskAttempt, TaskRun

ATTEMPT_COLUMNS = (
    "taskrun", "number", "command", "ready_at", "started_at", "pid", "host", "status", "finished_at",
    "exit_code", "signal", "wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "error", "retry_delay",
)  # fmt: skip
ATTEMPT_END = ATTEMPT_COLUMNS[7:]
ATTEMPT_DEFAULTS = {"error": ""}
# Field types whose values _prep passes through (or converts) exactly as get_db_prep_save would.
_PLAIN_TYPES = frozenset({
    "AutoField", "BigAutoField", "BigIntegerField", "BooleanField", "CharField", "FloatField", "ForeignKey",
    "IntegerField", "PositiveBigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField",
    "SlugField", "SmallIntegerField", "TextField",
})  # fmt: skip


# Python types written as they are (exactly these: bool and str subclasses take the field's own path).
_AS_IS = frozenset({int, float, str})


def json_text(value: Any) -> str:
    """JSON text of a value, as a JSONField stores it (json.loads reads it back the same), from
    orjson: a cost record's lines took 6.4 µs with json.dumps, 0.6 with it. Whatever orjson
    refuses (an int beyond 64 bits) is json.dumps's to write or refuse, as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


_SECONDS: dict[int, str] = {}  # a second's text as SQLite stores it, by Unix second


def sqlite_datetime(value: datetime) -> str:
    """What Django's SQLite backend stores for a datetime: naive UTC text, microseconds when not
    zero. The text of each second is kept, so a run's many times (an attempt has three) cost an
    addition instead of `replace` and `str` (about 4 µs a value here, 1.8 this way)."""
    second = int(value.timestamp() // 1)
    text = _SECONDS.get(second)
    if text is None:
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        text = _SECONDS[second] = str(value.astimezone(UTC).replace(tzinfo=None, microsecond=0))
    micro = value.microsecond
    return f"{text}.{micro:06d}" if micro else text


class Dumped:
    """A JSON value serialised once and written as is by HotSql: the same value on many rows
    (a run's rates on each of its cost records) is not serialised again for each."""

    __slots__ = ("text", "value")

    def __init__(self, value: Any):
        self.value, self.text = value, json_text(value)


class HotSql:
    """Statements for the recorder's hot path: a batch per statement.

    Per event, the ORM's Python work (compiling the query, building instances, converting
    each value) costs several times SQLite's own; in a busy run that is what slows tasks down.
    So each model's statement and each field's converter are worked out once per connection
    vendor and kept (`_plan`), and values are converted by those, not by the field's full path.
    """

    _plans: dict[tuple[str, Any], tuple[str, list[tuple[str, Any, Callable[[Any], Any]]]]] = {}
    _plans_lock = threading.Lock()

    def __init__(self, conn: Any):
        # The real connection, not django.db.connection's proxy: each attribute read through the
        # proxy looks the connection up in a context-local store.
        self.conn = getattr(conn, "_connections", None) and conn._connections[conn._alias] or conn
        self.q = self.conn.ops.quote_name
        self.sqlite = self.conn.vendor == "sqlite"
        statements = self._plans.get((self.conn.vendor, "statements"))
        if statements is None:
            statements = (
                self._insert(LogLine, ("run", "taskrun", "attempt", "lineno", "stream", "ts", "text")),
                self._insert(TaskAttempt, ATTEMPT_COLUMNS),
            )
            with self._plans_lock:
                self._plans[(self.conn.vendor, "statements")] = statements  # type: ignore[assignment]
        self.insert_lines_sql, self.insert_attempts_sql = statements

    def execute(self, cursor: Any, sql: str, params: list[Any]) -> None:
        """cursor.execute(sql, params) for a statement with %s placeholders and no other `%`.

        Django's SQLite cursor turns each %s into ? with a regular expression, about 1 µs a
        placeholder: a batch of 12 cost records (300 values) took 50 µs, a run's 500 new task
        rows 3 ms, and a 500-task run's records some 30 ms in all. Here a plain replace does it
        and the statement goes to SQLite's own cursor, inside Django's error translation (the
        same exceptions). Where something watches the queries (a debug log, an execute wrapper
        such as a test's query counter), they go the usual way, to be seen."""
        conn = self.conn
        if not self.sqlite or conn.queries_logged or conn.execute_wrappers:
            cursor.execute(sql, params)
            return
        conn.validate_no_broken_transaction()
        with conn.wrap_database_errors:
            sqlite3.Cursor.execute(cursor.cursor, sql.replace("%s", "?"), params)

    @staticmethod
    def _column(model: Any, name: str) -> str:
        return model._meta.get_field(name).column

    def _insert(self, model: Any, names: tuple[str, ...]) -> str:
        cols = ", ".join(self.q(self._column(model, n)) for n in names)
        return f"INSERT INTO {self.q(model._meta.db_table)} ({cols}) VALUES ({', '.join(['%s'] * len(names))})"

    def _prep(self, model: Any, name: str, value: Any) -> Any:
        if value is None or type(value) in _AS_IS:
            return value
        if isinstance(value, datetime):
            # What Django's backends store, without its per-value checks: naive UTC text on SQLite.
            return sqlite_datetime(value) if self.sqlite else value
        return model._meta.get_field(name).get_db_prep_save(value, connection=self.conn)

    def converter(self, model: Any, field: Any) -> Callable[[Any], Any]:
        """A cheap stand-in for field.get_db_prep_save, for the field types the hot path writes."""
        conn, name = self.conn, field.name
        if isinstance(field, models.JSONField) and field.encoder is None:
            if self.sqlite:  # what Django's JSONField stores on SQLite: JSON text
                return lambda value: (
                    None if value is None else value.text if type(value) is Dumped else json_text(value)
                )
            adapt = conn.ops.adapt_json_value
            return lambda value: None if value is None else adapt(value.value if type(value) is Dumped else value, None)
        if isinstance(field, models.BooleanField):  # a bool is stored as it is, by both backends
            return lambda value: (
                value if value is None or type(value) is bool else field.get_db_prep_save(value, connection=conn)
            )
        if type(field) is models.DateField:  # a date: what the backend's adapter makes of it
            adapt_date, prep = conn.ops.adapt_datefield_value, self._prep
            return lambda value: adapt_date(value) if type(value) is date else prep(model, name, value)
        if isinstance(field, (models.DateTimeField, models.DateField, models.TimeField)) or (
            field.get_internal_type() in _PLAIN_TYPES
        ):
            prep = self._prep
            return lambda value: value if value is None or type(value) in _AS_IS else prep(model, name, value)
        return lambda value: field.get_db_prep_save(value, connection=conn)

    def _plan(self, model: Any) -> tuple[str, list[tuple[str, Any, Callable[[Any], Any], Any]]]:
        """A model's INSERT and, per column: attname, its default as stored (None when the
        default is a callable, like timezone.now: that one is asked for each row), converter,
        and the field (for that callable default)."""
        key = (self.conn.vendor, model)
        plan = self._plans.get(key)
        if plan is None:
            fields = [f for f in model._meta.concrete_fields if not f.primary_key]
            columns = []
            for f in fields:
                convert = self.converter(model, f)
                # A class (dict, list) makes an empty value: stored once. A function (timezone.now): per row.
                fresh = f.has_default() and callable(f.default) and not isinstance(f.default, type)
                columns.append((f.attname, None if fresh else convert(f.get_default()), convert, f if fresh else None))
            plan = (self._insert(model, tuple(f.name for f in fields)), columns)
            with self._plans_lock:
                self._plans[key] = plan
        return plan

    # Each statement below writes a whole batch: executemany would cross into SQLite (and give
    # up the GIL) once per row, and in a busy run every crossing waits for the task threads.
    CHUNK = 400

    def _insert_rows(self, cursor: Any, statement: str, rows: list[list[Any]]) -> None:
        if not rows:
            return
        head, values = statement.split(" VALUES ", 1)
        for start in range(0, len(rows), self.CHUNK):
            chunk = rows[start : start + self.CHUNK]
            self.execute(cursor, f"{head} VALUES {', '.join([values] * len(chunk))}", [v for row in chunk for v in row])

    def _update_rows(self, cursor: Any, model: Any, keys: tuple[str, ...], names: tuple[str, ...], rows: list) -> None:
        """UPDATE ... FROM a VALUES list (SQLite 3.33+, PostgreSQL): one statement for many rows."""
        q, table = self.q, self.q(model._meta.db_table)
        cols = [*keys, *names]
        aliases = [f"c{i}" for i in range(len(cols))]

        def value(i: int, name: str) -> str:
            if self.sqlite:
                return f"v.{aliases[i]}"
            # PostgreSQL types a VALUES column from its contents (text, for an all-NULL one).
            db_type = model._meta.get_field(name.removesuffix("_id")).db_type(self.conn)
            return f"CAST(v.{aliases[i]} AS {db_type})"

        sets = ", ".join(f"{q(self._column(model, n))} = {value(len(keys) + i, n)}" for i, n in enumerate(names))
        match = " AND ".join(f"{table}.{q(k)} = {value(i, k)}" for i, k in enumerate(keys))
        row_sql = "(" + ", ".join(["%s"] * len(cols)) + ")"
        for start in range(0, len(rows), self.CHUNK):
            chunk = rows[start : start + self.CHUNK]
            self.execute(
                cursor,
                f"WITH v({', '.join(aliases)}) AS (VALUES {', '.join([row_sql] * len(chunk))}) "
                f"UPDATE {table} SET {sets} FROM v WHERE {match}",
                [x for row in chunk for x in row],
            )

    def insert_rows(self, cursor: Any, model: Any, rows: list[dict[str, Any]]) -> None:
        """Insert dicts of field values keyed by attname (`run_id` for a foreign key); fields not
        in a row get their model default."""
        statement, columns = self._plan(model)
        self._insert_rows(
            cursor,
            statement,
            [
                [
                    convert(row[name]) if name in row else stored if fresh is None else convert(fresh.get_default())
                    for name, stored, convert, fresh in columns
                ]
                for row in rows
            ],
        )

    def insert_instance(self, cursor: Any, instance: Any) -> None:
        """Insert an unsaved model instance with one statement and set its primary key, as
        instance.save() would: for rows written as a run starts, where the ORM's save (~0.35 ms
        in a busy worker, measured) sits between the run and its first task."""
        model = type(instance)
        statement, columns = self._plan(model)
        values = [convert(getattr(instance, name)) for name, _, convert, _ in columns]
        if self.conn.features.can_return_columns_from_insert:
            self.execute(cursor, f"{statement} RETURNING {self.q(model._meta.pk.column)}", values)
            pk = cursor.fetchone()[0]
        else:  # pragma: no cover - SQLite before 3.35
            self.execute(cursor, statement, values)
            pk = cursor.lastrowid
        instance.pk = pk
        instance._state.adding, instance._state.db = False, self.conn.alias

    def upsert_add(self, cursor: Any, model: Any, keys: tuple[str, ...], names: tuple[str, ...],
                   sums: tuple[str, ...], rows: list[tuple]) -> None:  # fmt: skip
        """INSERT ... ON CONFLICT (keys) DO UPDATE SET s = s + excluded.s for each of `sums`
        (SQLite and PostgreSQL): running totals, many rows in one statement. A row is the values
        of keys, names and sums, in that order."""
        if not rows:
            return
        key = (self.conn.vendor, model, keys, names, sums)
        plan = self._plans.get(key)
        if plan is None:
            q, table = self.q, self.q(model._meta.db_table)
            fields = [
                model._meta.get_field(n.removesuffix("_id") if n.endswith("_id") else n) for n in (*keys, *names, *sums)
            ]
            columns = [field.column for field in fields]
            sets = ", ".join(f"{q(c)} = {table}.{q(c)} + excluded.{q(c)}" for c in columns[len(keys) + len(names) :])
            sql = (f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) VALUES %s "
                   f"ON CONFLICT ({', '.join(q(c) for c in columns[: len(keys)])}) DO UPDATE SET {sets}")  # fmt: skip
            plan = (sql, [("", None, self.converter(model, f), None) for f in fields])
            with self._plans_lock:
                self._plans[key] = plan
        sql, columns = plan
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"
        params = [convert(value) for row in rows for (_n, _d, convert, _f), value in zip(columns, row, strict=True)]
        self.execute(cursor, sql.replace("VALUES %s", "VALUES " + ", ".join([one] * len(rows)), 1), params)

    def select_rows(self, cursor: Any, model: Any, field: str, value: Any) -> list[dict[str, Any]]:
        """`model.objects.filter(<field>=value).values()`, the same dicts in the same order, for
        about half the cost: the statement and each column's converters are worked out once, not
        per query and per row (a run's task rows, read as it starts: 100 in 0.5 ms instead of
        1.4, 500 in 2.5 ms instead of 4.1, measured here)."""
        key = (self.conn.vendor, model, "select", field)
        plan = self._plans.get(key)
        if plan is None:
            conn, table = self.conn, model._meta.db_table
            fields = list(model._meta.concrete_fields)
            names = [f.attname for f in fields]
            converting = []
            for index, f in enumerate(fields):
                col = f.get_col(table)
                converters = conn.ops.get_db_converters(col) + f.get_db_converters(conn)
                if converters:
                    # An empty JSON object (most task rows' outputs) needs no decoder.
                    plain_json = isinstance(f, models.JSONField) and f.decoder is None
                    converting.append((index, col, converters, plain_json))
            where = self.q(model._meta.get_field(field).column)
            order = ", ".join(
                self.q((model._meta.pk if name.lstrip("-") == "pk" else model._meta.get_field(name.lstrip("-"))).column)
                + (" DESC" if name.startswith("-") else "")
                for name in [*model._meta.ordering, "pk"]  # then by id: values() leaves ties to the database
            )
            sql = (f"SELECT {', '.join(self.q(f.column) for f in fields)} FROM {self.q(table)} "
                   f"WHERE {where} = %s ORDER BY {order}")  # fmt: skip
            plan = (sql, (names, converting))
            with self._plans_lock:
                self._plans[key] = plan  # type: ignore[assignment]
        sql, (names, converting) = plan  # type: ignore[misc]
        self.execute(cursor, sql, [value])
        conn, rows = self.conn, []
        for raw in cursor.fetchall():
            row = list(raw)
            for index, col, converters, plain_json in converting:
                item = row[index]
                if item is None:  # NULL stays None through every converter of Django's own fields
                    continue
                if plain_json and item == "{}":
                    row[index] = {}
                    continue
                for convert in converters:
                    item = convert(item, col, conn)
                row[index] = item
            rows.append(dict(zip(names, row, strict=True)))
        return rows

    def insert_lines(self, cursor: Any, rows: list[tuple]) -> None:
        self._insert_rows(cursor, self.insert_lines_sql, [list(row) for row in rows])

    def _field_converters(self, model: Any) -> dict[str, Callable[[Any], Any]]:
        """Each concrete field's converter, by name (and by attname for a foreign key)."""
        key = (self.conn.vendor, model, "converters")
        converters = self._plans.get(key)
        if converters is None:
            converters = {}
            for f in model._meta.concrete_fields:
                converters[f.name] = converters[f.attname] = self.converter(model, f)
            with self._plans_lock:
                self._plans[key] = converters  # type: ignore[assignment]
        return converters  # type: ignore[return-value]

    def _attempt_converters(self) -> list[tuple[str, Any, Callable[[Any], Any]]]:
        key = (self.conn.vendor, "attempt columns")
        columns = self._plans.get(key)
        if columns is None:
            columns = [
                (n, ATTEMPT_DEFAULTS.get(n), self.converter(TaskAttempt, TaskAttempt._meta.get_field(n)))
                for n in ATTEMPT_COLUMNS
            ]
            with self._plans_lock:
                self._plans[key] = columns  # type: ignore[assignment]
        return columns  # type: ignore[return-value]

    def insert_attempts(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        columns = self._attempt_converters()
        self._insert_rows(
            cursor,
            self.insert_attempts_sql,
            [[convert(row.get(n, default)) for n, default, convert in columns] for row in rows],
        )

    def finish_attempts(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        ends = self._attempt_converters()[len(ATTEMPT_COLUMNS) - len(ATTEMPT_END) :]
        self._update_rows(
            cursor,
            TaskAttempt,
            ("taskrun_id", "number"),
            ATTEMPT_END,
            [[row["taskrun"], row["number"], *(convert(row[n]) for n, _d, convert in ends)] for row in rows],
        )

    def update_tasks(self, cursor: Any, updates: list[tuple[int, dict[str, Any]]]) -> None:
        """One statement per set of changed columns (usually one or two per batch)."""
        groups: dict[tuple[str, ...], list[list[Any]]] = {}
        convert = self._field_converters(TaskRun)
        for pk, fields in updates:
            names = tuple(sorted(fields))
            groups.setdefault(names, []).append([pk, *(convert[n](fields[n]) for n in names)])
        for names, rows in groups.items():
            self._update_rows(cursor, TaskRun, ("id",), names, rows)

    def allocate_seqs(self, cursor: Any, run_id: int, count: int, run_fields: dict[str, Any]) -> list[int]:
        if not count:
            return []
        names = list(run_fields)
        sets = "".join(f", {self.q(self._column(Run, n))} = %s" for n in names)
        self.execute(
            cursor,
            f"UPDATE {self.q(Run._meta.db_table)} SET {self.q('last_seq')} = {self.q('last_seq')} + %s{sets} "
            f"WHERE {self.q('id')} = %s RETURNING {self.q('last_seq')}",
            [count, *(self._prep(Run, n, run_fields[n]) for n in names), run_id],
        )
        last = cursor.fetchone()[0]
        return list(range(last - count + 1, last + 1))
