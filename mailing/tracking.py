"""anymail tracking webhooks → delivery events; bounces and complaints go to ``mailing.bounces``.

anymail normalises twelve ESPs' webhooks into one ``AnymailTrackingEvent``; this module
maps each back to its delivery (metadata, else the provider's or our Message-ID) and
hands every bounce, deferral, rejection and complaint to ``bounces.handle``, with the
ESP's own soft/hard word where anymail folds it into ``bounced``.
"""

import logging

from django.utils import timezone

from mailing import bounces, subscriptions
from mailing.models import Delivery, DeliveryEvent
from mailing.sending.message import delivery_from_message_id

logger = logging.getLogger(__name__)

# anymail's normalised event types → ours; others (queued, sent, …) are not stored.
KINDS = {
    "delivered": DeliveryEvent.Kind.DELIVERED,
    "bounced": DeliveryEvent.Kind.BOUNCED,
    "rejected": DeliveryEvent.Kind.BOUNCED,
    "complained": DeliveryEvent.Kind.COMPLAINED,
    "opened": DeliveryEvent.Kind.OPENED,
    "clicked": DeliveryEvent.Kind.CLICKED,
    "unsubscribed": DeliveryEvent.Kind.UNSUBSCRIBED,
}
# Events that report a message that did not (yet) arrive: the bounce policy decides.
BOUNCE_EVENTS = {"bounced", "deferred", "rejected", "complained"}

# SparkPost's bounce classes (its "Bounce Classification Codes").
SPARKPOST_CLASSES = {
    **dict.fromkeys(("10", "30", "90"), "hard"),
    **dict.fromkeys(("20", "21", "22", "23", "24", "40", "70"), "soft"),
    **dict.fromkeys(("25", "50", "51", "52", "53", "54"), "policy"),
}
SOFT, HARD = "soft", "hard"


def _dig(raw, *keys):
    for key in keys:
        raw = raw.get(key) if isinstance(raw, dict) else None
    return raw


def _sparkpost(raw):
    events = _dig(raw, "msys")
    event = next(iter(events.values()), {}) if isinstance(events, dict) and events else {}
    return SPARKPOST_CLASSES.get(str(_dig(event, "bounce_class") or ""), "")


def _word(value, soft, hard):
    return SOFT if value in soft else HARD if value in hard else ""


# The ESP's own soft/hard word, where anymail reports both as "bounced".
HINTS = {
    "Postmark": lambda raw: _word(
        _dig(raw, "Type"), {"SoftBounce", "Transient", "DnsError"}, {"HardBounce"}
    ),
    "Brevo": lambda raw: _word(_dig(raw, "event"), {"soft_bounce"}, {"hard_bounce"}),
    "SendinBlue": lambda raw: _word(_dig(raw, "event"), {"soft_bounce"}, {"hard_bounce"}),
    "Mandrill": lambda raw: _word(_dig(raw, "event"), {"soft_bounce"}, {"hard_bounce"}),
    "MailerSend": lambda raw: _word(_dig(raw, "data", "type"), {"soft_bounced"}, {"hard_bounced"}),
    "Amazon SES": lambda raw: _word(
        _dig(raw, "bounce", "bounceType"), {"Transient", "Undetermined"}, {"Permanent"}
    ),
    "Resend": lambda raw: _word(
        _dig(raw, "data", "bounce", "type"), {"Transient", "Undetermined"}, {"Permanent"}
    ),
    "Mailjet": lambda raw: (
        "" if _dig(raw, "event") != "bounce" else HARD if _dig(raw, "hard_bounce") else SOFT
    ),
    "SparkPost": _sparkpost,
    # SendGrid's bounce "type": "blocked" is the receiver refusing (often for a while),
    # which anymail does not tell apart from a bounce.
    "SendGrid": lambda raw: (
        {"blocked": "policy", "bounce": HARD}.get(_dig(raw, "type"), "")
        if _dig(raw, "event") == "bounce"
        else ""
    ),
    "Postal": lambda raw: _word(_dig(raw, "payload", "status"), {"SoftFail"}, {"HardFail"}),
}
# ESPs whose "failed" event is the receiving server's permanent refusal (Postal's
# MessageDeliveryFailed, status HardFail): a bounce, not an API error.
FAILED_IS_BOUNCE = {"Postal"}


def _id(value) -> int | None:
    """A positive integer id from webhook metadata, or None (``campaign=abc``)."""
    value = str(value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def find_delivery(event):
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    delivery_id, campaign_id = _id(metadata.get("delivery")), _id(metadata.get("campaign"))
    if delivery_id and campaign_id:
        found = Delivery.objects.filter(pk=delivery_id, campaign_id=campaign_id).first()
        if found:
            return found
    message_id = str(event.message_id or "")[:255]
    if message_id:
        # One provider id may cover a whole batch (SparkPost's transmission id).
        matches = Delivery.objects.filter(provider_message_id=message_id)
        if event.recipient:
            matches = matches.filter(subscriber__email__iexact=event.recipient)
        found = matches.first()
        if found:
            return found
        delivery_id = delivery_from_message_id(message_id)
        if delivery_id:
            return Delivery.objects.get(pk=delivery_id)
    return None


def _words(raw) -> str:
    """The ESP's own words in a raw event when anymail found no description (Mailjet's
    ``error``, Mandrill's ``bounce_description``)."""
    for keys in (("error",), ("msg", "bounce_description")):
        value = _dig(raw, *keys)
        if isinstance(value, str) and value:
            return value
    return ""


def report_of(event, esp_name, delivery, event_type) -> bounces.Report:
    """The bounce report an anymail event stands for."""
    hint = HINTS.get(esp_name, lambda raw: "")(event.esp_event)
    return bounces.Report(
        recipient=event.recipient or "",
        event=event_type,
        reject_reason=event.reject_reason or "",
        hint=hint,
        description=str(event.description or _words(event.esp_event)),
        mta_response=str(event.mta_response or ""),
        source=f"{esp_name} webhook",
        delivery_id=delivery.pk if delivery else None,
        occurred_at=event.timestamp,
    )


def on_tracking(sender, event, esp_name, **kwargs):
    event_type = event.event_type
    if event_type == "failed" and esp_name in FAILED_IS_BOUNCE:
        event_type = "bounced"
    kind = KINDS.get(event_type)
    if event_type == "rejected" and event.reject_reason == "unsubscribed":
        # The ESP would not send: the reader unsubscribed through the ESP itself.
        kind = DeliveryEvent.Kind.UNSUBSCRIBED
    if kind is None and event_type not in BOUNCE_EVENTS:
        return
    delivery = find_delivery(event)
    if event_type in BOUNCE_EVENTS and event.reject_reason != "unsubscribed":
        # Even when the message is not one of ours (a test send, another tool).
        bounces.handle(report_of(event, esp_name, delivery, event_type))
    if delivery is None:
        logger.info("%s %s event for an unknown message", esp_name, event.event_type)
        return
    if kind == DeliveryEvent.Kind.UNSUBSCRIBED and delivery.subscriber_id:
        # The ESP's own unsubscribe link or header: leave the list the message came through.
        subscriptions.unsubscribe(
            delivery.subscriber_id, delivery.mailing_list_id, source=f"{esp_name} webhook"
        )
    if kind is None:
        return  # a deferral: counted as a soft bounce, not an event of the delivery
    DeliveryEvent.objects.create(
        delivery=delivery,
        kind=kind,
        occurred_at=event.timestamp or timezone.now(),
        esp_event_id=str(event.event_id or "")[:255],
        detail=str(event.description or event.mta_response or "")[:2000],
        raw=_jsonable(event.esp_event),
    )


def _jsonable(value):
    """The ESP's payload as JSON we can store (a dict; anything else as text)."""
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return {"event": str(value)[:10000]}
    return value if isinstance(value, dict) else {"event": value}
