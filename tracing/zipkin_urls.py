"""Zipkin's collector path, /api/v2/spans (mounted by dashboard/urls.py ahead of /api/)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from .api import ZipkinSpansView

urlpatterns = [path("spans", login_not_required(ZipkinSpansView.as_view()), name="zipkin-spans")]
