from django.urls import path

from newsletters import views

app_name = "newsletters"

urlpatterns = [
    path("newsletters/<slug:key>/", views.web_version, name="web_version"),
]
