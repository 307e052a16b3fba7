"""Subscription flows as plain functions: views, commands, the admin and the sending
pipeline call these; none of them talks to HTTP.

Public API (other modules may rely on these names):

- ``subscribe(email, lists, ...)``: signup with consent record; double opt-in.
- ``confirm(subscriber, mailing_list=None, ...)``: pending → confirmed; twice is harmless.
- ``unsubscribe(subscriber, mailing_list=None, source=...)``: from one list or all.
- ``update_preferences(subscriber, ...)``: lists, name, language.
- ``export_data(subscriber)``: everything held about a person, as a JSON-ready dict.
- ``erase(subscriber, ...)``: remove personal data, keep a one-way hash as suppression.
- ``suppress(address_or_subscriber, reason, ...)`` / ``is_suppressed(address)``.
- ``record_event(subscriber, kind, ...)``: append to a subscriber's history.
- ``send_confirmation(subscriber_id, list_ids)``: the django-q2 task body.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email

from mailing import tokens
from mailing.models import (
    MailingList,
    Subscriber,
    SubscriberEvent,
    Subscription,
    Suppression,
    email_hash,
)
from mailing.sending.message import site_domain
from newsletters.rendering import render_mjml

logger = logging.getLogger(__name__)

Kind = SubscriberEvent.Kind
ACTIVE_STATUSES = (Subscription.Status.PENDING, Subscription.Status.CONFIRMED)

#: Sent after ``erase`` with ``subscriber_id``: other apps scrub copies they hold.
subscriber_erased = Signal()
# Subscriptions confirmed (``subscriber_id``, ``list_ids``): mailing.welcome sends the
# lists' welcome emails (connected in MailingConfig.ready; the sending side imports this
# module, not the other way round).
subscriptions_confirmed = Signal()


def clean_email(address: str) -> str:
    """email-validator's normalised form of the address (IDNA domain, NFC, lower-case
    domain), or ValidationError if its syntax is wrong (no DNS lookup)."""
    address = (address or "").strip()
    if not address or len(address) > 320:
        raise ValidationError(_("Enter a valid email address."), code="invalid")
    try:
        normalised = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(_("Enter a valid email address."), code="invalid") from exc
    if len(normalised) > 254:
        raise ValidationError(_("Enter a valid email address."), code="invalid")
    return normalised


#: Characters a name may not hold: they would break the headers and the plain text it
#: is written into (control characters, including CR and LF, and Unicode line breaks).
_NAME_BREAKERS = {"\u2028", "\u2029"}


def clean_name(value: str) -> str:
    """A display name on one line, trimmed, at most 200 characters; ValidationError else."""
    value = (value or "").strip()
    if any(unicodedata.category(c) == "Cc" or c in _NAME_BREAKERS for c in value):
        raise ValidationError(
            _("A name cannot hold line breaks or control characters."), code="name"
        )
    if len(value) > 200:
        raise ValidationError(_("A name has at most 200 characters."), code="name")
    return value


def language_code(value: str) -> str | None:
    """A LANGUAGES code for ``value`` ("fr", "FR-be", "fr_FR" → "fr"); None when unknown."""
    value = (value or "").strip().lower().replace("_", "-")
    if not value:
        return ""
    known = {code for code, _name in settings.LANGUAGES}
    for candidate in (value, value.split("-")[0]):
        if candidate in known:
            return candidate
    return None


# --- history and suppressions -------------------------------------------------------


def record_event(
    subscriber: Subscriber | int,
    kind: str,
    *,
    mailing_list: MailingList | int | None = None,
    source: str = "",
    ip_address: str | None = None,
    detail: dict | None = None,
) -> SubscriberEvent:
    """Append one event (a ``SubscriberEvent.Kind``) to a subscriber's history.

    :param detail: JSON-able facts; never the address or the name (erasure keeps events).
    """
    return SubscriberEvent.objects.create(
        subscriber_id=getattr(subscriber, "pk", subscriber),
        mailing_list_id=getattr(mailing_list, "pk", mailing_list),
        kind=kind,
        source=source[:100],
        ip_address=ip_address or None,
        detail=detail or {},
    )


def is_suppressed(address: str) -> bool:
    return Suppression.is_suppressed(address)


def suppress(
    target: Subscriber | str, reason: str, *, detail: str = "", source: str = ""
) -> Suppression:
    """Never mail this address again (a ``Suppression.Reason``); logs it in the history.

    ``target`` is a Subscriber or a bare address (e.g. from a bounce webhook). A bounce
    or complaint is recorded as that kind of event, anything else as ``suppressed``.
    """
    if isinstance(target, Subscriber):
        subscriber, address = target, target.email
    else:
        address = target
        subscriber = Subscriber.objects.filter(email_hash=email_hash(address)).first()
    suppression = Suppression.add(address, reason, detail)
    if subscriber is not None:
        kind = {
            Suppression.Reason.HARD_BOUNCE: Kind.BOUNCED,
            Suppression.Reason.COMPLAINT: Kind.COMPLAINED,
        }.get(reason, Kind.SUPPRESSED)
        record_event(subscriber, kind, source=source, detail={"reason": reason})
    return suppression


def unsuppress(address: str) -> int:
    """Lift a suppression added by mistake; erased addresses stay suppressed."""
    deleted, _rows = (
        Suppression.objects.filter(email_hash=email_hash(address))
        .exclude(reason=Suppression.Reason.ERASED)
        .delete()
    )
    return deleted


# --- signup and confirmation -----------------------------------------------------------


@dataclass
class SubscribeResult:
    subscriber: Subscriber | None
    #: subscriptions created or renewed and waiting for the confirmation link
    pending: list[Subscription] = field(default_factory=list)
    #: subscriptions confirmed straight away (single opt-in lists, or ``confirmed=True``)
    confirmed: list[Subscription] = field(default_factory=list)
    suppressed: bool = False
    confirmation_queued: bool = False


def subscribe(
    email: str,
    lists: Iterable[MailingList],
    *,
    name: str = "",
    language: str = "",
    source: str = "",
    ip_address: str | None = None,
    consent_text: str = "",
    confirmed: bool = False,
    send_confirmation_email: bool = True,
    welcome: bool | None = None,
    topics: Iterable[str] = (),
) -> SubscribeResult:
    """Subscribe an address to lists, recording when, from where and under which wording.

    Lists with double opt-in get a pending subscription and one confirmation email
    (queued on commit) for all of them; others are confirmed at once, as is everything
    when ``confirmed`` is true (an editor vouching for consent). A suppressed address is
    left alone. Name, language and ``topics`` (known topic slugs, ``mailing.topics``) are
    only taken for a new subscriber, so that nobody can rename an existing subscriber by
    signing them up again. Subscriptions confirmed here get the list's welcome email
    when ``welcome`` says so (by default: when the list has no double opt-in and the
    person signed up themselves, not ``confirmed``).
    """
    clean_email(email)  # refuses what is not an address; the model stores the normal form
    lists = list(lists)
    # The spelling as typed also goes in: a suppression older than the normal form only
    # knows its hash.
    if Suppression.is_suppressed(email):
        return SubscribeResult(subscriber=None, suppressed=True)
    now = timezone.now()
    result = SubscribeResult(subscriber=None)
    with transaction.atomic():
        subscriber = _get_or_create_subscriber(
            email, name=name, language=language, topics=sorted(set(topics))
        )
        result.subscriber = subscriber
        if subscriber.status != Subscriber.Status.ACTIVE:
            result.suppressed = True
            return result
        existing = {
            s.mailing_list_id: s
            for s in Subscription.objects.select_for_update().filter(
                subscriber=subscriber, mailing_list__in=lists
            )
        }
        for mailing_list in lists:
            subscription = existing.get(mailing_list.pk)
            if subscription is not None and subscription.status == Subscription.Status.CONFIRMED:
                continue
            direct = confirmed or not mailing_list.double_opt_in
            if subscription is not None and subscription.status == Subscription.Status.PENDING:
                if direct:
                    _mark_confirmed(subscription, now, source, ip_address)
                    result.confirmed.append(subscription)
                else:
                    result.pending.append(subscription)
                continue
            subscription = subscription or Subscription(
                subscriber=subscriber, mailing_list=mailing_list
            )
            subscription.status = (
                Subscription.Status.CONFIRMED if direct else Subscription.Status.PENDING
            )
            subscription.created_at = now
            subscription.pending_since = None  # waiting since created_at
            subscription.confirmed_at = now if direct else None
            subscription.unsubscribed_at = None
            subscription.source = source[:100]
            subscription.ip_address = ip_address or None
            subscription.consent_text = consent_text or mailing_list.consent_text
            try:
                with transaction.atomic():
                    subscription.save()
            except IntegrityError:  # a concurrent signup created it first: theirs stands
                continue
            record_event(
                subscriber,
                Kind.SUBSCRIBED,
                mailing_list=mailing_list,
                source=source,
                ip_address=ip_address,
                detail={"status": subscription.status},
            )
            if direct:
                record_event(
                    subscriber,
                    Kind.CONFIRMED,
                    mailing_list=mailing_list,
                    source=source,
                    ip_address=ip_address,
                    detail={"without_double_opt_in": True},
                )
                result.confirmed.append(subscription)
            else:
                result.pending.append(subscription)
        if result.confirmed and (not confirmed if welcome is None else welcome):
            subscriptions_confirmed.send(
                sender=Subscriber,
                subscriber_id=subscriber.pk,
                list_ids=[s.mailing_list_id for s in result.confirmed],
            )
        if result.pending and send_confirmation_email:
            queue_confirmation(subscriber.pk, [s.mailing_list_id for s in result.pending])
            result.confirmation_queued = True
    return result


def _get_or_create_subscriber(
    typed: str, *, name: str, language: str, topics: list[str] | None = None
) -> Subscriber:
    """The subscriber of this address however it is spelt; a new one keeps the spelling
    typed for display (``Subscriber.save`` stores the normal form)."""
    same = Subscriber.objects.filter(email_hash=email_hash(typed)).order_by("pk")
    found = same.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Subscriber.objects.create(
                email=typed.strip(),
                name=name[:200],
                language=language_code(language) or "en",
                topics=topics or [],
            )
    except IntegrityError:  # a concurrent signup of the same address won the race
        return same.first()


def _mark_confirmed(subscription, now, source, ip_address):
    subscription.status = Subscription.Status.CONFIRMED
    subscription.confirmed_at = now
    subscription.save(update_fields=["status", "confirmed_at"])
    record_event(
        subscription.subscriber_id,
        Kind.CONFIRMED,
        mailing_list=subscription.mailing_list_id,
        source=source,
        ip_address=ip_address,
    )


def queue_confirmation(subscriber_id: int, list_ids: list[int]) -> None:
    """Send the confirmation email from the worker once the signup is committed."""
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task(
            "mailing.subscriptions.send_confirmation",
            subscriber_id,
            list(list_ids),
            task_name=f"confirm-subscriber-{subscriber_id}",
        )
    )


def send_confirmation(subscriber_id: int, list_ids: list[int]) -> bool:
    """Task: email the double opt-in link for the still pending lists; False if none.

    At most ``SUBSCRIPTION_RATE_PER_ADDRESS`` per ``SUBSCRIPTION_RATE_WINDOW`` reach one
    person, counted in their history (so every worker process and every spelling of
    the address share one count): nobody can flood someone's inbox through the form.
    """
    with transaction.atomic():
        # The row lock makes two workers confirming the same person count one by one.
        subscriber = Subscriber.objects.select_for_update().filter(pk=subscriber_id).first()
        if subscriber is None or subscriber.status != Subscriber.Status.ACTIVE:
            return False
        if Suppression.is_suppressed(subscriber.email) or _confirmations_used_up(subscriber):
            return False
        pending = list(
            MailingList.objects.filter(
                pk__in=list_ids,
                subscriptions__subscriber=subscriber,
                subscriptions__status=Subscription.Status.PENDING,
            ).order_by("name")
        )
        if not pending:
            return False
        build_confirmation_email(subscriber, pending).send()
        record_event(
            subscriber,
            Kind.CONFIRMATION_SENT,
            mailing_list=pending[0] if len(pending) == 1 else None,
            detail={"lists": [m.slug for m in pending]},
        )
    return True


def _confirmations_used_up(subscriber: Subscriber) -> bool:
    since = timezone.now() - timedelta(seconds=settings.SUBSCRIPTION_RATE_WINDOW)
    sent = SubscriberEvent.objects.filter(
        subscriber=subscriber, kind=Kind.CONFIRMATION_SENT, created_at__gte=since
    ).count()
    return sent >= settings.SUBSCRIPTION_RATE_PER_ADDRESS


def build_confirmation_email(subscriber: Subscriber, lists: list[MailingList]):
    """The double opt-in message: MJML in the newsletter's look, plus plain text."""
    list_id = lists[0].pk if len(lists) == 1 else None
    sender = lists[0] if len(lists) == 1 and lists[0].from_email else None
    context = {
        "subscriber": subscriber,
        "lists": lists,
        "confirm_url": tokens.confirm_url(subscriber.pk, list_id),
        "sender_name": settings.NEWSLETTER_SENDER_NAME,
        "postal_address": settings.NEWSLETTER_POSTAL_ADDRESS,
        "expires_days": max(
            1,
            getattr(settings, "SUBSCRIPTION_CONFIRM_MAX_AGE", tokens.CONFIRM_MAX_AGE) // 86400,
        ),
    }
    with translation.override(subscriber.language or settings.LANGUAGE_CODE):
        subject = _("Please confirm your subscription to %(name)s") % {
            "name": lists[0].name if len(lists) == 1 else settings.NEWSLETTER_SENDER_NAME
        }
        context["subject"] = subject
        html = render_mjml("mailing/email/confirm.mjml", context)
        text = render_to_string("mailing/email/confirm.txt", context)
    from_email = (
        f"{sender.from_name or settings.NEWSLETTER_SENDER_NAME} <{sender.from_email}>"
        if sender
        else settings.DEFAULT_FROM_EMAIL
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=from_email,
        to=[subscriber.email],
        reply_to=[sender.reply_to] if sender and sender.reply_to else None,
        # Django would name the machine (often "localhost"); receivers score that down.
        headers={"Message-ID": make_msgid(domain=site_domain())},
    )
    message.attach_alternative(html, "text/html")
    return message


def confirm(
    subscriber: Subscriber,
    mailing_list: MailingList | int | None = None,
    *,
    source: str = "confirmation link",
    ip_address: str | None = None,
) -> int:
    """Confirm the pending subscriptions (of one list, or all); returns how many changed.

    Only pending subscriptions move, so confirming twice, or after unsubscribing,
    changes nothing.
    """
    if subscriber.status != Subscriber.Status.ACTIVE:
        return 0
    pending = Subscription.objects.filter(subscriber=subscriber, status=Subscription.Status.PENDING)
    if mailing_list is not None:
        pending = pending.filter(mailing_list=mailing_list)
    now = timezone.now()
    changed = 0
    confirmed_lists = []
    with transaction.atomic():
        for subscription in pending.select_for_update():
            # Conditional UPDATE: a concurrent click of the same link confirms once.
            if (
                Subscription.objects.filter(
                    pk=subscription.pk, status=Subscription.Status.PENDING
                ).update(status=Subscription.Status.CONFIRMED, confirmed_at=now)
                == 1
            ):
                changed += 1
                if subscription.confirmed_at is None:  # not a re-confirmation
                    confirmed_lists.append(subscription.mailing_list_id)
                record_event(
                    subscriber,
                    Kind.CONFIRMED,
                    mailing_list=subscription.mailing_list_id,
                    source=source,
                    ip_address=ip_address,
                )
        if confirmed_lists:
            subscriptions_confirmed.send(
                sender=Subscriber, subscriber_id=subscriber.pk, list_ids=confirmed_lists
            )
    return changed


# --- leaving and preferences ------------------------------------------------------------


def unsubscribe(
    subscriber: Subscriber | int,
    mailing_list: MailingList | int | None = None,
    *,
    source: str = "",
    ip_address: str | None = None,
) -> int:
    """Unsubscribe from one list, or from every list when ``mailing_list`` is None.

    Safe to call repeatedly and from any process (the sending pipeline calls it for
    one-click unsubscribes and complaints); returns how many subscriptions changed.

    :param subscriber: a Subscriber or its primary key
    :param mailing_list: a MailingList or its primary key; None for all lists
    :param source: where it came from, e.g. "one-click", "preferences", "complaint"
    """
    subscriber_id = getattr(subscriber, "pk", subscriber)
    active = Subscription.objects.filter(subscriber_id=subscriber_id, status__in=ACTIVE_STATUSES)
    if mailing_list is not None:
        active = active.filter(mailing_list_id=getattr(mailing_list, "pk", mailing_list))
    now = timezone.now()
    with transaction.atomic():
        list_ids = list(active.values_list("mailing_list_id", flat=True))
        changed = Subscription.objects.filter(
            subscriber_id=subscriber_id, mailing_list_id__in=list_ids, status__in=ACTIVE_STATUSES
        ).update(status=Subscription.Status.UNSUBSCRIBED, unsubscribed_at=now)
        SubscriberEvent.objects.bulk_create(
            SubscriberEvent(
                subscriber_id=subscriber_id,
                mailing_list_id=list_id,
                kind=Kind.UNSUBSCRIBED,
                created_at=now,
                source=source[:100],
                ip_address=ip_address or None,
            )
            for list_id in list_ids
        )
    return changed


def lists_for_preferences(subscriber: Subscriber) -> list[tuple[MailingList, str | None]]:
    """Public lists and any list the subscriber is on, with its subscription status."""
    statuses = dict(
        Subscription.objects.filter(subscriber=subscriber).values_list("mailing_list_id", "status")
    )
    lists = MailingList.objects.filter(is_public=True) | MailingList.objects.filter(
        pk__in=[pk for pk, status in statuses.items() if status in ACTIVE_STATUSES]
    )
    return [(m, statuses.get(m.pk)) for m in lists.distinct().order_by("name")]


def update_preferences(
    subscriber: Subscriber,
    *,
    lists: Iterable[MailingList] | None = None,
    name: str | None = None,
    language: str | None = None,
    source: str = "preferences",
    ip_address: str | None = None,
    consent_text: str = "",
    topics: Iterable[str] | None = None,
    country: str | None = None,
) -> dict:
    """Change name, language, topics (known slugs), country and chosen lists; returns what
    changed.

    ``lists`` is the full choice: lists left out are unsubscribed, public lists added
    are confirmed at once (the link came by email, which proves the address).
    Internal lists can be left but not joined.
    """
    changes: dict = {}
    with transaction.atomic():
        fields = []
        if name is not None and clean_name(name) != subscriber.name:
            subscriber.name = clean_name(name)
            fields.append("name")
        if language is not None:
            code = language_code(language)
            if code is None:
                raise ValidationError(_("Choose a language from the list."), code="language")
            if code and code != subscriber.language:
                subscriber.language = code
                fields.append("language")
        if topics is not None and sorted(set(topics)) != subscriber.topics:
            subscriber.topics = sorted(set(topics))
            fields.append("topics")
        if country is not None and country != subscriber.country:
            subscriber.country = country
            fields.append("country")
        if fields:
            subscriber.save(update_fields=[*fields, "updated_at"])
            changes["fields"] = fields
        if lists is not None:
            chosen = {m.pk: m for m in lists}
            current = {
                m.pk for m, status in lists_for_preferences(subscriber) if status in ACTIVE_STATUSES
            }
            joined = [m for pk, m in chosen.items() if pk not in current and m.is_public]
            left = [pk for pk in current if pk not in chosen]
            for list_id in left:
                unsubscribe(subscriber, list_id, source=source, ip_address=ip_address)
            if joined:
                subscribe(
                    subscriber.email,
                    joined,
                    source=source,
                    ip_address=ip_address,
                    consent_text=consent_text,
                    confirmed=True,
                )
            if joined or left:
                changes["joined"] = sorted(m.slug for m in joined)
                changes["left"] = sorted(
                    MailingList.objects.filter(pk__in=left).values_list("slug", flat=True)
                )
        if changes:
            record_event(
                subscriber,
                Kind.PREFERENCES_CHANGED,
                source=source,
                ip_address=ip_address,
                detail=changes,
            )
    return changes


# --- GDPR -------------------------------------------------------------------------------


def export_data(subscriber: Subscriber, *, record: bool = True) -> dict:
    """Everything held about a subscriber (GDPR art. 15 and 20), JSON-ready."""

    def when(value):
        return value.isoformat() if value else None

    data = {
        "email": subscriber.email,
        "email_as_typed": subscriber.email_as_typed,
        "name": subscriber.name,
        "language": subscriber.language,
        "status": subscriber.status,
        "attributes": subscriber.attributes,
        "topics": subscriber.topics,
        "country": str(subscriber.country or ""),
        "created_at": when(subscriber.created_at),
        "updated_at": when(subscriber.updated_at),
        "suppressed": Suppression.is_suppressed(subscriber.email),
        "subscriptions": [
            {
                "list": s.mailing_list.slug,
                "list_name": s.mailing_list.name,
                "status": s.status,
                "subscribed_at": when(s.created_at),
                "confirmed_at": when(s.confirmed_at),
                "unsubscribed_at": when(s.unsubscribed_at),
                "source": s.source,
                "ip_address": s.ip_address,
                "consent_text": s.consent_text,
            }
            for s in subscriber.subscriptions.select_related("mailing_list").order_by("pk")
        ],
        "history": [
            {
                "event": e.kind,
                "at": when(e.created_at),
                "list": e.mailing_list.slug if e.mailing_list else None,
                "source": e.source,
                "ip_address": e.ip_address,
                "detail": e.detail,
            }
            for e in subscriber.events.select_related("mailing_list").order_by("created_at", "pk")
        ],
    }
    if record:
        record_event(subscriber, Kind.EXPORTED, source="data export")
    return data


def erase(subscriber: Subscriber, *, source: str = "") -> None:
    """Remove a subscriber's personal data; the address stays only as a suppression hash.

    The row remains, anonymised, so that campaign statistics keep their counts; the
    history keeps what happened and when, without IP addresses.
    """
    with transaction.atomic():
        Suppression.add(subscriber.email, Suppression.Reason.ERASED)
        Subscription.objects.filter(subscriber=subscriber, status__in=ACTIVE_STATUSES).update(
            status=Subscription.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now()
        )
        Subscription.objects.filter(subscriber=subscriber).update(ip_address=None)
        SubscriberEvent.objects.filter(subscriber=subscriber).update(ip_address=None)
        subscriber.email = f"erased-{subscriber.pk}@erased.invalid"
        subscriber.email_as_typed = ""
        subscriber.name = ""
        subscriber.language = ""
        subscriber.attributes = {}
        subscriber.topics, subscriber.country = [], ""
        subscriber.status = Subscriber.Status.ERASED
        subscriber.save()
        record_event(subscriber, Kind.ERASED, source=source)
        transaction.on_commit(
            lambda: subscriber_erased.send(sender=Subscriber, subscriber_id=subscriber.pk)
        )
