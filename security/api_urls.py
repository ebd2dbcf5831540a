"""The security API, mounted at /api/security/ by dashboard/urls.py."""

from django.contrib.auth.decorators import login_not_required
from rest_framework.routers import SimpleRouter

from . import api, provider_api

router = SimpleRouter()
router.register("scans", api.ScanViewSet, basename="security-scan")
router.register("findings", api.FindingViewSet, basename="security-finding")
router.register("gates", api.GateViewSet, basename="security-gate")
router.register("providers", provider_api.ProviderViewSet, basename="security-provider")
router.register("secret-reads", provider_api.SecretReadViewSet, basename="security-secret-read")

urlpatterns = router.urls
for pattern in urlpatterns:
    # DRF authenticates (token or session) and answers 401/403 as JSON, not with a login redirect.
    login_not_required(pattern.callback)
