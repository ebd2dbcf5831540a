"""The tracing API, mounted at /api/tracing/ (names in the "tracing-api" namespace)."""

from django.contrib.auth.decorators import login_not_required
from rest_framework.routers import SimpleRouter

from . import api

app_name = "tracing-api"

router = SimpleRouter()
router.register("traces", api.TraceViewSet, basename="trace")
router.register("spans", api.SpanViewSet, basename="span")

# Anything else under /api/tracing/ falls through to the API's own JSON 404.
urlpatterns = list(router.urls)
for pattern in urlpatterns:  # DRF authenticates these (401 JSON), not the login page's redirect
    login_not_required(pattern.callback)
