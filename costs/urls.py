"""Costs pages: the overview with its charts, the CSV export, budgets and overrides."""

from django.urls import path

from . import views

urlpatterns = [
    path("costs/", views.overview, name="cost-overview"),
    path("costs/export.csv", views.export_csv, name="cost-export"),
    path("costs/budgets/", views.budget_create, name="cost-budget-create"),
    path("costs/budgets/<int:pk>/delete/", views.budget_delete, name="cost-budget-delete"),
    path("costs/overrides/", views.override_create, name="cost-override-create"),
]
