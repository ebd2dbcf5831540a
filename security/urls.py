from django.http import HttpResponse
from django.urls import path

urlpatterns = [
    path("findings/", lambda request: HttpResponse("Findings: not built yet"), name="finding-list"),
    path("providers/", lambda request: HttpResponse("Secret providers: not built yet"), name="provider-list"),
]
