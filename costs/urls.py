from django.http import HttpResponse
from django.urls import path

urlpatterns = [
    path("costs/", lambda request: HttpResponse("Costs: not built yet"), name="cost-overview"),
]
