"""Per-file results keyed on content hashes, so an unchanged file is never scanned twice.

A key is the file's SHA-256 plus a digest of everything else that decides the result (the
tool's version, its rules, the baseline): change any of them and the old entries simply stop
matching. Results are stored without the file's path, so a file that moved is still a hit.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class ResultCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS results (tool TEXT, key TEXT, data TEXT, PRIMARY KEY (tool, key))")

    def get_many(self, tool: str, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, data FROM results WHERE tool = ? AND key IN ({marks})",  # noqa: S608 - only ? marks
                    [tool, *chunk],
                )
                found.update((key, json.loads(data)) for key, data in rows)
        return found

    def put_many(self, tool: str, items: dict[str, Any]) -> None:
        if not items:
            return
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO results (tool, key, data) VALUES (?, ?, ?)",
                [(tool, key, json.dumps(value)) for key, value in items.items()],
            )
            self._db.execute("COMMIT")

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM results")

    def close(self) -> None:
        with self._lock:
            self._db.close()
