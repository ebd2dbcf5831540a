"""Huey on SQLite that wakes its consumer at once when this process enqueues.

Stock SqliteHuey workers poll an idle queue with a back-off growing to 10 s. Here dequeue
waits on a condition that enqueue signals, so a run queued by the server starts at once; a
run queued by another process (the CLI) is found by a poll at most `poll_interval` later.
"""

from __future__ import annotations

import threading

from huey import SqliteHuey
from huey.storage import SqliteStorage


class WakeableSqliteStorage(SqliteStorage):
    # blocking=True tells huey's worker loop not to add its own back-off sleep.
    blocking = True
    poll_interval = 0.5

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._wakeup = threading.Condition()
        self._pending = 0

    def enqueue(self, data, priority=None):
        super().enqueue(data, priority)
        with self._wakeup:
            self._pending += 1
            self._wakeup.notify()

    def dequeue(self):
        data = super().dequeue()
        if data is not None:
            return data
        with self._wakeup:
            if self._pending == 0:
                self._wakeup.wait(self.poll_interval)
            self._pending = max(0, self._pending - 1)
        return super().dequeue()


class EmbeddedHuey(SqliteHuey):
    storage_class = WakeableSqliteStorage
