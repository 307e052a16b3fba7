"""The digest that drafts itself: on a list's rhythm (``DigestSchedule``), the next issue is
drafted from what was published since the last send (``newsletters.drafting``), and the
editors are told, in the admin (the page's history and the dashboard) and by email.

Nothing goes out unless the list's schedule says to send drafts that pass the checks;
then the draft is published and scheduled like an editor's send, and only when the
email checks have nothing to say about it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.log_actions import log

from mailing import campaigns
from mailing.models import Campaign, DigestSchedule
from newsletters import drafting
from newsletters.checks import check_issue

logger = logging.getLogger(__name__)

LOG_ACTION = "mailing.digest_drafted"


@dataclass
class DigestRun:
    schedule: DigestSchedule
    draft: drafting.DraftResult | None = None
    campaign: Campaign | None = None
    # Why a draft was not sent on its own: the checks' messages.
    held_back: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)

    @property
    def page(self):
        return self.draft.page if self.draft else None

    def summary(self) -> str:
        if self.page is None:
            return _("Nothing new was published since the last issue: no draft.")
        if self.campaign is not None:
            return _("Drafted #%(number)d and scheduled it for sending.") % {
                "number": self.page.issue_number
            }
        if self.draft.created:
            return _("Drafted #%(number)d; it waits for an editor.") % {
                "number": self.page.issue_number
            }
        return _("A draft (#%(number)d) was already waiting for an editor.") % {
            "number": self.page.issue_number
        }


def run_due(now=None) -> list[DigestRun]:
    """Every enabled schedule whose time came: claim it (a conditional UPDATE, so two
    workers never run one twice), move it to its next time, then run it."""
    now = now or timezone.now()
    runs = []
    due = DigestSchedule.objects.filter(enabled=True, next_run_at__lte=now).select_related(
        "mailing_list", "notify_group"
    )
    for schedule in due:
        claimed = DigestSchedule.objects.filter(
            pk=schedule.pk, next_run_at=schedule.next_run_at
        ).update(next_run_at=schedule.next_run(now), last_run_at=now)
        if not claimed:
            continue
        try:
            result = run(schedule, now=now)
        except Exception as exc:  # noqa: BLE001 - one list's failure must not stop the others
            logger.exception("digest of list %s failed", schedule.mailing_list_id)
            DigestSchedule.objects.filter(pk=schedule.pk).update(last_result=str(exc)[:255])
            continue
        DigestSchedule.objects.filter(pk=schedule.pk).update(last_result=result.summary()[:255])
        runs.append(result)
    return runs


def run(schedule: DigestSchedule, *, now=None) -> DigestRun:
    """Draft the next issue for this list; send it when allowed and clean; tell the editors."""
    result = DigestRun(schedule=schedule, draft=drafting.draft_next_issue(now=now))
    page = result.page
    if page is None:
        return result
    if schedule.auto_send and result.draft.created:
        auto_send(result)
    log(
        instance=page,
        action=LOG_ACTION,
        data={
            "list": schedule.mailing_list.name,
            "campaign": result.campaign.pk if result.campaign else None,
            "held_back": result.held_back,
        },
    )
    result.notified = notify(result)
    return result


def auto_send(result: DigestRun) -> None:
    """Publish and schedule the fresh draft when the email checks find nothing."""
    page = result.page
    draft = page.get_latest_revision_as_object()
    result.held_back = [check.message for check in check_issue(draft)]
    if result.held_back:
        return
    with transaction.atomic():
        page.get_latest_revision().publish(log_action=True)
        page.refresh_from_db()
        campaign = campaigns.create(page, [result.schedule.mailing_list])
        campaigns.schedule(campaign)
    result.campaign = campaign


def editors(schedule: DigestSchedule):
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    if schedule.notify_group_id:
        return users.filter(groups=schedule.notify_group_id)
    return users.filter(is_superuser=True)


def edit_url(page) -> str:
    return settings.WAGTAILADMIN_BASE_URL.rstrip("/") + reverse(
        "wagtailadmin_pages:edit", args=[page.pk]
    )


def notify(result: DigestRun) -> list[str]:
    """One email per editor to tell, with the link to the draft; returns the addresses."""
    page = result.page
    addresses = sorted(set(editors(result.schedule).values_list("email", flat=True)))
    if not addresses:
        return []
    content = result.draft.content
    lines = [
        result.summary(),
        "",
        _("List: %(list)s") % {"list": result.schedule.mailing_list.name},
        _("New since the last issue: %(summary)s") % {"summary": content.summary() or "—"},
        "",
    ]
    if result.held_back:
        lines += [_("Not sent on its own, because the email checks say:")]
        lines += [f"- {message}" for message in result.held_back] + [""]
    if result.campaign is not None:
        lines.append(_("It goes out to the list now; follow it in the admin:"))
    else:
        lines.append(_("Review, publish and send it:"))
    lines.append(edit_url(page))
    subject = (
        _("Newsletter #%(number)d was sent on its own")
        if result.campaign is not None
        else _("Newsletter #%(number)d is drafted and waits for you")
    ) % {"number": page.issue_number}
    for address in addresses:
        EmailMultiAlternatives(
            subject=subject,
            body="\n".join(lines) + "\n",
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
        ).send()
    return addresses
