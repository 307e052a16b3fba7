"""django-q2 entry points of the cms app; they take primary keys and re-fetch."""

from cms.api import webhooks


def deliver_webhook(delivery_id: int) -> str:
    """Post one webhook delivery (retries are scheduled by `webhooks.deliver`)."""
    delivery = webhooks.deliver(delivery_id)
    return delivery.status if delivery else "missing"
