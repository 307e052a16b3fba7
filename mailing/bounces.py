"""Bounces: classified once, acted on by policy (listmonk's shape).

Every report that a message did not arrive (an ESP webhook, the receiving server's
SMTP answer, a DSN read from the bounce mailbox) comes in as a ``Report`` through
``handle``, the one entry point. It becomes one ``Bounce`` typed hard, soft, complaint
or policy, and the policy for that type decides: hard bounces and complaints suppress
the address, soft bounces are counted and suppress only past ``BOUNCE_SOFT_THRESHOLD``
within ``BOUNCE_SOFT_WINDOW_DAYS``, and a receiver's policy block is only recorded, so
a full mailbox or a spam filter never removes a reader on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mailing import subscriptions
from mailing.models import (
    Bounce,
    Delivery,
    DeliveryEvent,
    Subscriber,
    SubscriberEvent,
    Suppression,
    email_hash,
)

Type = Bounce.Type


@dataclass(frozen=True)
class Report:
    """One report of a message that did not arrive, as its source gave it.

    ``event``: anymail's normalised event type (``bounced``, ``deferred``, ``rejected``,
    ``complained``); an SMTP answer or a DSN reports ``bounced`` or ``deferred``.
    ``reject_reason``: anymail's (``invalid``, ``bounced``, ``timed_out``, ``blocked``,
    ``spam``, ``other``), when there is one; on a bounce, ``spam`` is the receiver's
    filter (a policy block), not a complaint.
    ``hint``: the source's own word for the kind when the normalised event folds it away
    (``"soft"``, ``"hard"`` or ``"policy"``; e.g. Postmark's SoftBounce is ``bounced``).
    ``description``, ``mta_response``: the provider's and the receiving server's words.
    """

    recipient: str
    event: str = "bounced"
    reject_reason: str = ""
    hint: str = ""
    description: str = ""
    mta_response: str = ""
    source: str = ""
    delivery_id: int | None = None
    occurred_at: datetime | None = None


# RFC 3463 enhanced status code (class.subject.detail) anywhere in the text.
ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# A basic SMTP reply code, e.g. "smtp;550" or "452 Mailbox full".
BASIC = re.compile(r"(?<![\d.])([45])\d\d(?![\d.])")
# Words of reports that carry no code at all (Brevo's "Mailbox full").
SOFT_WORDS = re.compile(
    r"mailbox (is )?full|quota|insufficient (system )?storage|temporar|try again|greylist"
    r"|timed? ?out|deferred|too many connections|rate limit",
    re.IGNORECASE,
)
POLICY_WORDS = re.compile(
    r"blocked|block ?list|black ?list|spam|policy|reputation|dmarc|not authorized",
    re.IGNORECASE,
)


def handle(report: Report) -> Bounce | None:
    """Classify ``report`` into one Bounce, act on it by policy, and return it."""
    if not report.recipient:
        return None
    kind, status = _classify(report)
    delivery = _delivery(report.delivery_id)
    subscriber = _subscriber(report.recipient, delivery)
    reason = _redact(
        " ".join(part for part in (report.description, report.mta_response) if part),
        report.recipient,
    )[:2000]
    bounce = Bounce.objects.create(
        email_hash=email_hash(report.recipient),
        subscriber=subscriber,
        delivery=delivery,
        type=kind,
        action=Bounce.Action.RECORDED,
        status=status,
        reason=reason,
        source=report.source[:100],
        occurred_at=report.occurred_at or timezone.now(),
    )
    bounce.action = _act(bounce, report.recipient, subscriber)
    Bounce.objects.filter(pk=bounce.pk).update(action=bounce.action)
    return bounce


SMTP_SOURCE = "SMTP answer"


def refused(delivery_id: int, address: str, answer: str) -> Bounce | None:
    """The receiving server answered 5xx at RCPT or DATA: a bounce of that delivery,
    classified by its enhanced status code like any other report."""
    with transaction.atomic():
        bounce = handle(
            Report(
                recipient=address,
                event="bounced",
                mta_response=answer,
                source=SMTP_SOURCE,
                delivery_id=delivery_id,
            )
        )
        if bounce is not None:
            record_event(bounce, {"source": SMTP_SOURCE, "answer": bounce.reason})
    return bounce


def record_event(bounce: Bounce, raw: dict) -> DeliveryEvent | None:
    """The bounce as an event of its delivery (the campaign's report counts these)."""
    if bounce.delivery_id is None:
        return None
    return DeliveryEvent.objects.create(
        delivery_id=bounce.delivery_id,
        kind=DeliveryEvent.Kind.BOUNCED,
        occurred_at=bounce.occurred_at,
        detail=" ".join(w for w in (bounce.type, bounce.status, bounce.reason) if w)[:2000],
        raw=raw,
    )


def _classify(report: Report) -> tuple[str, str]:
    """(Bounce.Type, enhanced status code or "") of one report."""
    text = f"{report.mta_response or ''} {report.description or ''}"
    enhanced = ENHANCED.search(text)
    status = ".".join(enhanced.groups()) if enhanced else ""
    if report.event == "complained":
        return Type.COMPLAINT, status
    # "spam" on a bounce: the receiver's filter refused it, nobody complained.
    if report.reject_reason in {"blocked", "spam"} or report.hint == "policy":
        return Type.POLICY, status
    if enhanced and enhanced.group(1) != "2":
        if enhanced.group(1) == "4":
            return Type.SOFT, status
        return (Type.POLICY if enhanced.group(2) == "7" else Type.HARD), status
    if report.hint in {"soft", "hard"}:
        return (Type.SOFT if report.hint == "soft" else Type.HARD), status
    if report.event == "deferred" or report.reject_reason == "timed_out":
        return Type.SOFT, status
    basic = BASIC.search(text)
    if basic:
        return (Type.SOFT if basic.group(1) == "4" else Type.HARD), status
    if SOFT_WORDS.search(text):
        return Type.SOFT, status
    if POLICY_WORDS.search(text):
        return Type.POLICY, status
    if report.reject_reason in {"invalid", "bounced"}:
        return Type.HARD, status
    # Nothing says it is permanent: count it, do not remove the reader for it.
    return Type.SOFT, status


def _act(bounce: Bounce, address: str, subscriber: Subscriber | None) -> str:
    """What the policy for this type does: suppress, count, or only record."""
    words = " ".join(w for w in (str(bounce.get_type_display()), bounce.status, bounce.reason) if w)
    detail = f"{bounce.source}: {words}"
    if bounce.type == Type.POLICY:
        _history(subscriber, bounce)
        return Bounce.Action.RECORDED
    if bounce.type == Type.COMPLAINT:
        subscriptions.suppress(
            address, Suppression.Reason.COMPLAINT, detail=detail, source=bounce.source
        )
        return Bounce.Action.SUPPRESSED
    if bounce.type == Type.HARD:
        threshold, window = setting("BOUNCE_HARD_THRESHOLD", 1), None
        reason = Suppression.Reason.HARD_BOUNCE
    else:
        threshold = setting("BOUNCE_SOFT_THRESHOLD", 3)
        window = timedelta(days=setting("BOUNCE_SOFT_WINDOW_DAYS", 30))
        reason = Suppression.Reason.SOFT_BOUNCES
    # This bounce is the first of its kind at least: a threshold of 1 needs no count.
    if threshold <= 0 or (threshold > 1 and _count(bounce, window) < threshold):
        _history(subscriber, bounce)
        return Bounce.Action.COUNTED
    if bounce.type == Type.SOFT:
        _history(subscriber, bounce)
        detail = f"{threshold} soft bounces; last: {detail}"
    # The subscriber already read, when it is this address's (saves looking it up again).
    mine = subscriber is not None and subscriber.email_hash == bounce.email_hash
    subscriptions.suppress(
        subscriber if mine else address, reason, detail=detail, source=bounce.source
    )
    return Bounce.Action.SUPPRESSED


def _count(bounce: Bounce, window: timedelta | None) -> int:
    """Bounces of this type for this address (within ``window``), one per message: an ESP
    that reports every retry of one message counts once."""
    rows = Bounce.objects.filter(email_hash=bounce.email_hash, type=bounce.type)
    if window is not None:
        rows = rows.filter(occurred_at__gte=bounce.occurred_at - window)
    messages = rows.exclude(delivery=None).values("delivery_id").distinct().count()
    return messages + rows.filter(delivery=None).count()


def _history(subscriber: Subscriber | None, bounce: Bounce) -> None:
    if subscriber is None:
        return
    subscriptions.record_event(
        subscriber,
        SubscriberEvent.Kind.BOUNCED,
        source=bounce.source,
        detail={
            "type": bounce.type,
            "status": bounce.status,
            "reason": bounce.reason[:500],
            "delivery": bounce.delivery_id,
        },
    )


def _delivery(delivery_id: int | None) -> Delivery | None:
    if not delivery_id:
        return None
    return Delivery.objects.filter(pk=delivery_id).first()


def _subscriber(address: str, delivery: Delivery | None) -> Subscriber | None:
    if delivery is not None and delivery.subscriber_id:
        return Subscriber.objects.filter(pk=delivery.subscriber_id).first()
    return Subscriber.objects.filter(email_hash=email_hash(address)).first()


def _redact(text: str, address: str) -> str:
    """The provider's words without the address: history outlives an erasure."""
    return re.sub(re.escape(address), "[recipient]", text or "", flags=re.IGNORECASE)


def setting(name: str, default: int) -> int:
    return getattr(settings, name, default)
