"""Signups from the API, taken out of the request.

The request only validates the input and counts the caller's IP address; everything
that depends on the address (is it known, pending, confirmed, suppressed, erased, over
its confirmation limit?) happens here, in the worker. So the answer does the same work
for every address, and its timing tells nothing about who is subscribed.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from mailing import subscriptions
from mailing.models import MailingList
from mailing.topics import clean_topics

TASK = "mailing.tasks.process_signup"


def queue_signup(
    *,
    email: str,
    lists: list[MailingList],
    name: str = "",
    language: str = "",
    consent_text: str = "",
    source: str = "",
    ip_address: str | None = None,
    topics: list[str] = (),
) -> None:
    """Hand a validated signup to the worker once the current transaction commits."""
    from django_q.tasks import async_task

    payload = {
        "email": email,
        "lists": [m.pk for m in lists],
        "name": name,
        "language": language,
        "consent_text": consent_text,
        "source": source,
        "ip_address": ip_address,
        "topics": list(topics),
    }
    # save=False: a done signup leaves no copy of the address in django-q's task history.
    transaction.on_commit(lambda: async_task(TASK, payload, task_name="signup", save=False))


def process_signup(payload: dict) -> bool:
    """The task body: subscribe, which queues the confirmation email when one is due.

    True when a confirmation was queued. Lists made internal or deleted since the
    request are skipped, as is an address the validator refuses by now.
    """
    lists = list(MailingList.objects.filter(pk__in=payload["lists"], is_public=True))
    if not lists:
        return False
    try:
        result = subscriptions.subscribe(
            payload["email"],
            lists,
            name=payload.get("name") or "",
            language=payload.get("language") or "",
            source=payload.get("source") or "",
            ip_address=payload.get("ip_address"),
            consent_text=payload.get("consent_text") or "",
            # Checked again: a topic may have gone since the request.
            topics=clean_topics(payload.get("topics") or [])[0],
        )
    except ValidationError:
        return False
    return result.confirmation_queued
