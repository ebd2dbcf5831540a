"""WebSocket consumers: authorise, join the run's group (through this process's hub), send a
snapshot, then forward events.

Origin and session are checked by the ASGI stack (AllowedHostsOriginValidator, AuthMiddleware).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db.models import QuerySet

from workflows.models import Run, Workflow
from workflows.snapshots import RUN_FIELDS, run_list_row, run_snapshot

from .events import RUNS_GROUP, run_group
from .hub import hub

UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = 4401, 4403, 4404


class _Authorised(AsyncJsonWebsocketConsumer):
    permission = "workflows.view_run"

    async def _refuse(self) -> bool:
        """Refuse with a close code the page understands (a bare 403 looks like a network error)."""
        user = self.scope.get("user")
        code = None
        if user is None or not user.is_authenticated:
            code = UNAUTHENTICATED
        elif not await database_sync_to_async(user.has_perm)(self.permission):
            code = FORBIDDEN
        if code is None:
            return False
        await self.accept()
        await self.close(code=code)
        return True

    # Frames that arrive while a snapshot is being read wait for it: sent before the snapshot,
    # the browser would drop them (it has no sequence number yet) and could miss a change.
    _held: list[str] | None = None

    async def send_frame(self, text: str) -> None:
        if self._held is not None:
            self._held.append(text)
        else:
            await self.send(text_data=text)

    async def send_after(self, first: str | dict) -> None:
        """Send a snapshot, then whatever was held while it was built."""
        held, self._held = self._held or [], None
        if isinstance(first, dict):
            await self.send_json(first)
        else:
            await self.send(text_data=first)
        for text in held:
            await self.send(text_data=text)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await hub.leave(self.group, self)


class RunConsumer(_Authorised):
    async def connect(self) -> None:
        if await self._refuse():
            return
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        if not await database_sync_to_async(Run.objects.filter(pk=self.run_id).exists)():
            await self.accept()
            await self.close(code=NOT_FOUND)
            return
        # Join before reading the snapshot: nothing committed after the read can be missed.
        self.group = run_group(self.run_id)
        self._held = []
        await hub.join(self.group, self)
        await self.accept()
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        if self._held is None:
            self._held = []
        snapshot = await database_sync_to_async(run_snapshot)(self.run_id)
        if snapshot is None:  # deleted since the socket opened
            self._held = None
            await self.close(code=NOT_FOUND)
            return
        await self.send_after(snapshot)

    async def receive_json(self, content: dict, **kwargs) -> None:
        if content.get("action") == "resync":
            await self.send_snapshot()


class RunListConsumer(_Authorised):
    """Run status changes for the run list and the overview; the page renders rows itself.

    The page names what it shows in the query string (`?runs=3,2,1&workflow=etl&status=failed`);
    the snapshot carries those runs' current state and the newest runs its filters match, so a
    page that was away (or loaded just before its socket joined) catches up without a reload.
    """

    async def connect(self) -> None:
        if await self._refuse():
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.group = RUNS_GROUP
        self._held = []
        await hub.join(self.group, self)  # before the read, as for a run page
        await self.accept()
        await self.send_after(await database_sync_to_async(run_list_snapshot)(query))


NEWEST_RUNS = 50  # the run list's first page
SHOWN_RUNS = 200  # how many of the page's own rows a snapshot refreshes, at most


def run_list_snapshot(query: dict[str, list[str]]) -> dict[str, Any]:
    """Every run as the list's live events describe it, each with the seq it is current to.

    Two keyset reads (by primary key, and newest first on a created_at index): no COUNT, and as
    fast with 100,000 runs as with ten.
    """
    rows = Run.objects.values(*RUN_FIELDS, "workflow_id", "workflow__name")
    shown = _run_ids(_last(query, "runs"))
    found = list(_matching(rows, query).order_by("-created_at", "-id")[:NEWEST_RUNS])
    if shown:
        found += rows.filter(pk__in=shown)
    runs = {row["id"]: _list_row(row) for row in found}
    return {"type": "snapshot", "runs": list(runs.values())}


def _last(query: dict[str, list[str]], key: str) -> str:
    return (query.get(key) or [""])[-1].strip()


def _run_ids(text: str) -> list[int]:
    parts = text.split(",")[:SHOWN_RUNS]
    return [int(p) for p in parts if p.isascii() and p.isdigit() and len(p) < 19]


def _matching(rows: QuerySet, query: dict[str, list[str]]) -> QuerySet:
    """The run list's own filters (a workflow's id or name, one status)."""
    workflow, status = _last(query, "workflow"), _last(query, "status")
    if workflow:
        if workflow.isascii() and workflow.isdigit() and len(workflow) < 19:
            rows = rows.filter(workflow_id=int(workflow))
        else:  # resolved first, so the read below stays on the (workflow, created_at) index
            pk = Workflow.objects.filter(name=workflow).values_list("pk", flat=True).first()
            rows = rows.filter(workflow_id=pk) if pk is not None else rows.none()
    if status:
        rows = rows.filter(status=status) if status in dict(Run.STATUSES) else rows.none()
    return rows


def _list_row(row: dict[str, Any]) -> dict[str, Any]:
    fields = {k: row[k] for k in RUN_FIELDS}
    fields["message"] = fields["message"][:200]  # the page shows 90 characters of it
    return {
        "kind": "run",
        **run_list_row(fields),
        "seq": row["last_seq"],
        "workflow": row["workflow_id"],
        "workflow_name": row["workflow__name"],
    }
