"""django-q2 entry points of the cms app; they take primary keys and re-fetch."""

from django.core.management import call_command

from cms.api import webhooks


def deliver_webhook(delivery_id: int) -> str:
    """Post one webhook delivery (retries are scheduled by `webhooks.deliver`)."""
    delivery = webhooks.deliver(delivery_id)
    return delivery.status if delivery else "missing"


def publish_scheduled() -> None:
    """Wagtail's scheduled publishing, run every minute by the `cms.publish_scheduled`
    schedule: revisions whose go-live time has come are published, pages past their
    expiry unpublished (each firing the usual signals: content version, webhooks)."""
    call_command("publish_scheduled", verbosity=0)
