from django.http import HttpResponse
from django.urls import path

urlpatterns = [
    path("traces/", lambda request: HttpResponse("Traces: not built yet"), name="trace-list"),
]
