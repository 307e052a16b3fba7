from django.apps import AppConfig


class PenelopeConfig(AppConfig):
    """The project package as an app, for its ``seed_demo`` command; it has no models."""

    name = "penelope"
