from django.urls import path

from . import views

urlpatterns = [
    path("traces/", views.trace_list, name="trace-list"),
    path("traces/compare/", views.trace_compare, name="trace-compare"),
    path("traces/<str:trace_id>/", views.trace_detail, name="trace-detail"),
]
