"""The costs REST API, mounted at /api/costs/ (names in the "costs-api" namespace)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

app_name = "costs-api"

router = SimpleRouter()
router.register("catalogues", api.CatalogueViewSet, basename="catalogue")
router.register("records", api.CostRecordViewSet, basename="record")
router.register("budgets", api.BudgetViewSet, basename="budget")
router.register("overrides", api.OverrideViewSet, basename="override")

urlpatterns = [
    path("rollups/", api.RollupView.as_view(), name="rollups"),
    path("runs/<int:run_id>/", api.RunCostView.as_view(), name="run"),
    *router.urls,
]
# DRF authenticates these itself (token or session): no redirect to the login page, 401 JSON instead.
for pattern in urlpatterns:
    login_not_required(pattern.callback)
