"""Workflow and run pages."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from .models import Run, Workflow


def workflow_list(request):
    return HttpResponse("workflows")


def workflow_detail(request, pk):
    return HttpResponse(get_object_or_404(Workflow, pk=pk).name)


def run_list(request):
    return HttpResponse("runs")


def run_detail(request, pk):
    return HttpResponse(str(get_object_or_404(Run, pk=pk)))
