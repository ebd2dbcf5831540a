"""WebSocket consumers: authorise, join the run's group (through this process's hub), send a
snapshot, then forward events.

Origin and session are checked by the ASGI stack (AllowedHostsOriginValidator, AuthMiddleware).
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from workflows.models import Run
from workflows.snapshots import run_snapshot

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
    """Run status changes for the run list and the overview; the page renders rows itself."""

    async def connect(self) -> None:
        if await self._refuse():
            return
        self.group = RUNS_GROUP
        await hub.join(self.group, self)
        await self.accept()
        await self.send_json({"type": "snapshot"})
