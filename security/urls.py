from django.urls import path

from . import provider_views, views

urlpatterns = [
    path("findings/", views.finding_list, name="finding-list"),
    path("findings/triage/", views.finding_triage, name="finding-triage"),
    path("findings/<int:pk>/", views.finding_detail, name="finding-detail"),
    path("scans/", views.scan_list, name="scan-list"),
    path("scans/<int:pk>/", views.scan_detail, name="scan-detail"),
    path("scans/<int:pk>/sbom/", views.scan_sbom, name="scan-sbom"),
    path("scans/<int:pk>/sbom.cdx.json", views.scan_sbom_download, name="scan-sbom-download"),
    path("scans/<int:pk>/scan.sarif", views.scan_sarif_download, name="scan-sarif-download"),
    path("providers/", provider_views.provider_list, name="provider-list"),
    path("providers/new/", provider_views.provider_create, name="provider-create"),
    path("providers/test/", provider_views.provider_test, name="provider-test-new"),
    path("providers/<int:pk>/", provider_views.provider_detail, name="provider-detail"),
    path("providers/<int:pk>/edit/", provider_views.provider_edit, name="provider-edit"),
    path("providers/<int:pk>/delete/", provider_views.provider_delete, name="provider-delete"),
    path("providers/<int:pk>/test/", provider_views.provider_test, name="provider-test"),
    path("providers/<int:pk>/paths/", provider_views.provider_paths, name="provider-paths"),
    path("providers/<int:pk>/write/", provider_views.provider_write, name="provider-write"),
]
