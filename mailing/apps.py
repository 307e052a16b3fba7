from django.apps import AppConfig


class MailingConfig(AppConfig):
    name = "mailing"
    default_auto_field = "django.db.models.BigAutoField"
