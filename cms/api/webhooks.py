"""Publish webhooks: tell the external sites what changed so they can revalidate.

Each event goes to every URL of CONTENT_WEBHOOK_URLS as a JSON POST whose body is signed
with HMAC-SHA256 under CONTENT_WEBHOOK_SECRET:

    X-Content-Signature: sha256=<hex digest of the raw body>

A delivery row is written in the editor's transaction and a django-q2 task posts it
after commit; failures retry with exponential backoff and end as `failed` rows in the
admin (Settings → Webhook deliveries) and an error in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import timedelta

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from cms.api.models import WebhookDelivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Content-Signature"
EVENT_HEADER = "X-Content-Event"
DELIVERY_HEADER = "X-Content-Delivery"


def sign(body: bytes, secret: str | None = None) -> str:
    secret = settings.CONTENT_WEBHOOK_SECRET if secret is None else secret
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, signature: str, secret: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(body, secret), signature or "")


def page_event(page, change: str, **extra) -> dict:
    """The JSON a front end receives: enough to revalidate without calling back."""
    from wagtail.models import Locale

    from cms.api.representation import Context, detail_url

    ctx = Context()
    url_path = ctx.frontend_path(page.url_path) if page.url_path else None
    locale = Locale.objects.filter(pk=page.locale_id).values_list("language_code", flat=True)
    return {
        "event": f"page.{change}",
        "change": change,
        "id": page.pk,
        "type": page._meta.label,
        # The page's language, and the key its translations share.
        "locale": locale.first(),
        "translation_key": str(page.translation_key) if page.translation_key else None,
        "slug": page.slug,
        "url_path": url_path,
        "html_url": ctx.frontend_url(page.url_path) if page.url_path else None,
        "detail_url": detail_url(page.pk) if change != "deleted" else None,
        "occurred_at": timezone.now(),
        **extra,
    }


def emit(event: dict) -> list[int]:
    """Record one delivery per configured URL and post them once the transaction commits."""
    urls = settings.CONTENT_WEBHOOK_URLS
    if not urls:
        return []
    payload = json.loads(json.dumps(event, cls=DjangoJSONEncoder))
    ids = [
        WebhookDelivery.objects.create(url=url, event=payload["event"], payload=payload).pk
        for url in urls
    ]

    def enqueue():
        from django_q.tasks import async_task

        for pk in ids:
            try:
                async_task("cms.api.tasks.deliver_webhook", pk, group="content-webhooks")
            except Exception:  # the broker being down must never fail a publish
                logger.exception("Could not queue webhook delivery %s", pk)

    transaction.on_commit(enqueue)
    return ids


def backoff(attempt: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at one hour (base from CONTENT_WEBHOOK_BACKOFF)."""
    return timedelta(seconds=min(settings.CONTENT_WEBHOOK_BACKOFF * 2 ** (attempt - 1), 3600))


def deliver(delivery_id: int) -> WebhookDelivery | None:
    """Post one delivery once; on failure record why and schedule the next attempt."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status in {
        WebhookDelivery.Status.DELIVERED,
        WebhookDelivery.Status.FAILED,
    }:
        return delivery
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"{settings.WAGTAIL_SITE_NAME}-cms-webhooks/1",
        SIGNATURE_HEADER: sign(body),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
    }
    delivery.attempts += 1
    try:
        response = requests.post(
            delivery.url, data=body, headers=headers, timeout=settings.CONTENT_WEBHOOK_TIMEOUT
        )
        delivery.last_status_code = response.status_code
        ok = 200 <= response.status_code < 300
        delivery.last_error = "" if ok else f"HTTP {response.status_code}: {response.text[:500]}"
    except requests.RequestException as e:
        ok = False
        delivery.last_status_code = None
        delivery.last_error = f"{type(e).__name__}: {e}"[:1000]

    if ok:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
    elif delivery.attempts >= settings.CONTENT_WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
        logger.error(
            "Webhook %s to %s failed after %d attempts: %s",
            delivery.event,
            delivery.url,
            delivery.attempts,
            delivery.last_error,
        )
    else:
        delivery.status = WebhookDelivery.Status.RETRYING
        delivery.next_attempt_at = timezone.now() + backoff(delivery.attempts)
        logger.warning(
            "Webhook %s to %s failed (attempt %d), retrying at %s: %s",
            delivery.event,
            delivery.url,
            delivery.attempts,
            delivery.next_attempt_at.isoformat(),
            delivery.last_error,
        )
    delivery.save()
    if delivery.status == WebhookDelivery.Status.RETRYING:
        schedule_retry(delivery)
    return delivery


def schedule_retry(delivery: WebhookDelivery) -> None:
    """A one-off django-q2 schedule runs the next attempt at its time."""
    from django_q.models import Schedule

    Schedule.objects.create(
        name=f"webhook-{delivery.pk}-attempt-{delivery.attempts + 1}",
        func="cms.api.tasks.deliver_webhook",
        args=repr(delivery.pk),
        schedule_type=Schedule.ONCE,
        repeats=1,
        next_run=delivery.next_attempt_at,
    )
