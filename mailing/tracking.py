"""anymail tracking webhooks → delivery events; hard bounces and complaints suppress."""

import logging

from django.utils import timezone

from mailing import subscriptions
from mailing.models import Delivery, DeliveryEvent, Suppression
from mailing.sending.message import delivery_from_message_id

logger = logging.getLogger(__name__)

# anymail's normalised event types → ours; others (queued, deferred, …) are not stored.
KINDS = {
    "delivered": DeliveryEvent.Kind.DELIVERED,
    "bounced": DeliveryEvent.Kind.BOUNCED,
    "complained": DeliveryEvent.Kind.COMPLAINED,
    "opened": DeliveryEvent.Kind.OPENED,
    "clicked": DeliveryEvent.Kind.CLICKED,
    "unsubscribed": DeliveryEvent.Kind.UNSUBSCRIBED,
}


def find_delivery(event):
    metadata = event.metadata or {}
    delivery_id = metadata.get("delivery")
    if delivery_id and str(delivery_id).isdigit():
        found = Delivery.objects.filter(
            pk=int(delivery_id), campaign_id=metadata.get("campaign") or 0
        ).first()
        if found:
            return found
    if event.message_id:
        found = Delivery.objects.filter(provider_message_id=event.message_id).first()
        if found:
            return found
        delivery_id = delivery_from_message_id(event.message_id)
        if delivery_id:
            return Delivery.objects.get(pk=delivery_id)
    return None


def on_tracking(sender, event, esp_name, **kwargs):
    kind = KINDS.get(event.event_type)
    if kind is None:
        return
    # Suppress even when the message is not one of ours (a test send, another tool).
    if event.recipient and (
        kind == DeliveryEvent.Kind.COMPLAINED
        or (kind == DeliveryEvent.Kind.BOUNCED and _is_hard(event))
    ):
        reason = (
            Suppression.Reason.COMPLAINT
            if kind == DeliveryEvent.Kind.COMPLAINED
            else Suppression.Reason.HARD_BOUNCE
        )
        subscriptions.suppress(
            event.recipient,
            reason,
            detail=f"{esp_name}: {event.description or ''}",
            source=f"{esp_name} webhook",
        )
    delivery = find_delivery(event)
    if delivery is None:
        logger.info("%s %s event for an unknown message", esp_name, event.event_type)
        return
    if kind == DeliveryEvent.Kind.UNSUBSCRIBED and delivery.subscriber_id:
        # The ESP's own unsubscribe link or header: leave the list the message came through.
        subscriptions.unsubscribe(
            delivery.subscriber_id, delivery.mailing_list_id, source=f"{esp_name} webhook"
        )
    DeliveryEvent.objects.create(
        delivery=delivery,
        kind=kind,
        occurred_at=event.timestamp or timezone.now(),
        esp_event_id=(event.event_id or "")[:255],
        detail=(event.description or event.mta_response or "")[:2000],
        raw=_jsonable(event.esp_event),
    )


def _is_hard(event) -> bool:
    # anymail reports soft bounces as "deferred" for most ESPs; "bounced" with a 4xx
    # answer (when one is given) is still a temporary problem.
    response = (event.mta_response or "").strip()
    return response[:1] != "4"


def _jsonable(value):
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value if isinstance(value, dict) else {"event": value}
    return {"event": str(value)}
