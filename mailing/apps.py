from django.apps import AppConfig


class MailingConfig(AppConfig):
    name = "mailing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from anymail.signals import tracking
        from django_q.signals import post_spawn

        from mailing import subscriptions, tasks, welcome
        from mailing import tracking as tracking_handlers
        from mailing.admin import pages

        pages.add_panels()

        subscriptions.subscriptions_confirmed.connect(
            welcome.on_confirmed, dispatch_uid="mailing.welcome"
        )
        tracking.connect(tracking_handlers.on_tracking, dispatch_uid="mailing.tracking")
        post_spawn.connect(tasks.on_worker_spawn, dispatch_uid="mailing.dispatch_on_spawn")
