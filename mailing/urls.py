"""Signup API, hosted subscriber pages and their JSON twins, and the web copy of campaigns."""

from django.urls import path

from mailing import redirects, views

app_name = "mailing"

urlpatterns = [
    path("api/subscriptions/", views.signup_api, name="signup_api"),
    path("api/subscriptions/confirm/<str:token>/", views.confirm_api, name="confirm_api"),
    path(
        "api/subscriptions/unsubscribe/<str:token>/",
        views.unsubscribe_api,
        name="unsubscribe_api",
    ),
    path(
        "api/subscriptions/preferences/<str:token>/",
        views.preferences_api,
        name="preferences_api",
    ),
    path("api/subscriptions/preferences/<str:token>/data/", views.data_api, name="data_api"),
    path("api/subscriptions/preferences/<str:token>/erase/", views.erase_api, name="erase_api"),
    path("subscriptions/confirm/<str:token>/", views.confirm_page, name="confirm"),
    path("subscriptions/unsubscribe/<str:token>/", views.unsubscribe_page, name="unsubscribe"),
    path("subscriptions/preferences/<str:token>/", views.preferences_page, name="preferences"),
    path(
        "subscriptions/preferences/<str:token>/data/",
        views.preferences_data,
        name="preferences_data",
    ),
    path("subscriptions/preferences/<str:token>/erase/", views.erase_page, name="erase"),
    path("newsletters/<slug:key>/", views.web_version, name="web_version"),
    path("newsletters/test/<str:token>/", views.test_copy, name="test_copy"),
    path("subscriptions/test/<slug:what>/", views.test_link, name="test_link"),
    path("t/o/<str:token>.gif", redirects.open_pixel, name="track_open"),
    path("t/<str:token>/", redirects.click, name="track_click"),
]
