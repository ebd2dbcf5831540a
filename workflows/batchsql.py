"""Batch SQL for the recorder's hot path: many rows per statement, values prepared cheaply."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .models import LogLine, Run, TaskAttempt, TaskRun

ATTEMPT_COLUMNS = (
    "taskrun", "number", "command", "ready_at", "started_at", "pid", "host", "status", "finished_at",
    "exit_code", "signal", "wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "error", "retry_delay",
)  # fmt: skip
ATTEMPT_END = ATTEMPT_COLUMNS[7:]
ATTEMPT_DEFAULTS = {"error": ""}


class HotSql:
    """Statements for the recorder's hot path: a batch per statement.

    Per event, the ORM's Python work (compiling the query, building instances, converting
    each value) costs several times SQLite's own; in a busy run that is what slows tasks down.
    """

    def __init__(self, conn: Any):
        self.conn = conn
        self.q = conn.ops.quote_name
        self.sqlite = conn.vendor == "sqlite"
        self.insert_lines_sql = self._insert(LogLine, ("run", "taskrun", "attempt", "lineno", "stream", "ts", "text"))
        self.insert_attempts_sql = self._insert(TaskAttempt, ATTEMPT_COLUMNS)

    @staticmethod
    def _column(model: Any, name: str) -> str:
        return model._meta.get_field(name).column

    def _insert(self, model: Any, names: tuple[str, ...]) -> str:
        cols = ", ".join(self.q(self._column(model, n)) for n in names)
        return f"INSERT INTO {self.q(model._meta.db_table)} ({cols}) VALUES ({', '.join(['%s'] * len(names))})"

    def _prep(self, model: Any, name: str, value: Any) -> Any:
        if value is None or isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return value
        if isinstance(value, datetime):
            # What Django's backends store, without its per-value checks: naive UTC text on SQLite.
            return str(value.astimezone(UTC).replace(tzinfo=None)) if self.sqlite else value
        return model._meta.get_field(name).get_db_prep_save(value, connection=self.conn)

    # Each statement below writes a whole batch: executemany would cross into SQLite (and give
    # up the GIL) once per row, and in a busy run every crossing waits for the task threads.
    CHUNK = 400

    def _insert_rows(self, cursor: Any, statement: str, rows: list[list[Any]]) -> None:
        if not rows:
            return
        head, values = statement.split(" VALUES ", 1)
        for start in range(0, len(rows), self.CHUNK):
            chunk = rows[start : start + self.CHUNK]
            cursor.execute(f"{head} VALUES {', '.join([values] * len(chunk))}", [v for row in chunk for v in row])

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
            cursor.execute(
                f"WITH v({', '.join(aliases)}) AS (VALUES {', '.join([row_sql] * len(chunk))}) "
                f"UPDATE {table} SET {sets} FROM v WHERE {match}",
                [x for row in chunk for x in row],
            )

    def insert_rows(self, cursor: Any, model: Any, rows: list[dict[str, Any]]) -> None:
        """Insert dicts of field values; unnamed fields get their model default."""
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        defaults = {f.name: f.get_default() for f in fields}
        statement = self._insert(model, tuple(f.name for f in fields))
        prep = self._prep
        self._insert_rows(
            cursor,
            statement,
            [[prep(model, f.name, row.get(f.name, defaults[f.name])) for f in fields] for row in rows],
        )

    def insert_lines(self, cursor: Any, rows: list[tuple]) -> None:
        self._insert_rows(cursor, self.insert_lines_sql, [list(row) for row in rows])

    def insert_attempts(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        prep = self._prep
        self._insert_rows(
            cursor,
            self.insert_attempts_sql,
            [[prep(TaskAttempt, n, row.get(n, ATTEMPT_DEFAULTS.get(n))) for n in ATTEMPT_COLUMNS] for row in rows],
        )

    def finish_attempts(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        prep = self._prep
        self._update_rows(
            cursor,
            TaskAttempt,
            ("taskrun_id", "number"),
            ATTEMPT_END,
            [[row["taskrun"], row["number"], *(prep(TaskAttempt, n, row[n]) for n in ATTEMPT_END)] for row in rows],
        )

    def update_tasks(self, cursor: Any, updates: list[tuple[int, dict[str, Any]]]) -> None:
        """One statement per set of changed columns (usually one or two per batch)."""
        groups: dict[tuple[str, ...], list[list[Any]]] = {}
        for pk, fields in updates:
            names = tuple(sorted(fields))
            groups.setdefault(names, []).append([pk, *(self._prep(TaskRun, n, fields[n]) for n in names)])
        for names, rows in groups.items():
            self._update_rows(cursor, TaskRun, ("id",), names, rows)

    def allocate_seqs(self, cursor: Any, run_id: int, count: int, run_fields: dict[str, Any]) -> list[int]:
        if not count:
            return []
        names = list(run_fields)
        sets = "".join(f", {self.q(self._column(Run, n))} = %s" for n in names)
        cursor.execute(
            f"UPDATE {self.q(Run._meta.db_table)} SET {self.q('last_seq')} = {self.q('last_seq')} + %s{sets} "
            f"WHERE {self.q('id')} = %s RETURNING {self.q('last_seq')}",
            [count, *(self._prep(Run, n, run_fields[n]) for n in names), run_id],
        )
        last = cursor.fetchone()[0]
        return list(range(last - count + 1, last + 1))
