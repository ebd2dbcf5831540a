"""ASGI entry point: HTTP through Django, WebSockets through Channels (authenticated, origin-checked)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django.setup()

import asyncio  # noqa: E402

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

from dashboard import events  # noqa: E402
from dashboard.routing import websocket_urlpatterns  # noqa: E402

django_app = get_asgi_application()


class _ServerLoop:
    """Hands the server's event loop to the event publisher on the first connection."""

    def __init__(self, app):
        self.app = app
        self.loop = None

    async def __call__(self, scope, receive, send):
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            self.loop = loop
            events.use_server_loop(loop)
        return await self.app(scope, receive, send)


application = _ServerLoop(
    ProtocolTypeRouter(
        {
            "http": django_app,
            "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)
