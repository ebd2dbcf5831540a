from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated

from . import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("overview/stats/", views.overview_stats_json, name="overview-stats"),
    path("login/", login_not_required(auth_views.LoginView.as_view()), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    # Both need a login (a session or a token): even the API's shape is not public.
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]), name="api-schema"),
    path("api/docs/", login_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/security/", include("security.api_urls")),
    path("api/costs/", include("costs.api_urls")),
    path("api/tracing/", include("tracing.api_urls")),
    path("api/v2/", include("tracing.zipkin_urls")),  # Zipkin's collector path, for tasks' own spans
    path("api/", include("workflows.api_urls")),
    path("", include("workflows.urls")),
    path("", include("security.urls")),
    path("", include("costs.urls")),
    path("", include("tracing.urls")),
]
