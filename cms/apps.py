from django.apps import AppConfig


class CmsConfig(AppConfig):
    name = "cms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from cms.api.signal_handlers import register_signal_handlers

        register_signal_handlers()
