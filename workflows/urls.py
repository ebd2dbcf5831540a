from django.urls import path

from . import views

urlpatterns = [
    path("workflows/", views.workflow_list, name="workflow-list"),
    path("workflows/new/", views.workflow_create, name="workflow-create"),
    path("workflows/<int:pk>/", views.workflow_detail, name="workflow-detail"),
    path("workflows/<int:pk>/edit/", views.workflow_edit, name="workflow-edit"),
    path("workflows/<int:pk>/run/", views.workflow_trigger, name="workflow-trigger"),
    path("runs/", views.run_list, name="run-list"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
    path("runs/<int:pk>/rerun/", views.run_rerun, name="run-rerun"),
]
