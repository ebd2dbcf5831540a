from django.urls import path

from . import views

urlpatterns = [
    path("workflows/", views.workflow_list, name="workflow-list"),
    path("workflows/<int:pk>/", views.workflow_detail, name="workflow-detail"),
    path("runs/", views.run_list, name="run-list"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
]
