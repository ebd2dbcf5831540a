"""URLs of the REST API, mounted at /api/ by dashboard/urls.py (names live in the "api" namespace)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from . import api, api_runs

app_name = "api"

router = SimpleRouter()
router.register("workflows", api.WorkflowViewSet, basename="workflow")
router.register("runs", api_runs.RunViewSet, basename="run")
router.register("taskruns", api_runs.TaskRunViewSet, basename="taskrun")


def public(patterns: list) -> list:
    """Let API requests past LoginRequiredMiddleware: DRF's authentication and role permissions
    decide, so a client without credentials gets 401 JSON instead of a redirect to the login page.
    (DRF >= 3.15 marks its own views so already; this also covers the plain JSON 404 view.)"""
    for pattern in patterns:
        login_not_required(pattern.callback)
    return patterns


urlpatterns = public(
    [
        path("token/", api.TokenView.as_view(), name="token"),
        *router.urls,
        re_path(r"^.*$", api.not_found, name="not-found"),
    ]
)
