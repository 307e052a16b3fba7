"""The next issue, drafted from what was published since the last one went out."""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cms.models import EventPage, GoodPracticePage
from interviews.models import InterviewPage
from newsletters.models import NewsletterIndexPage, NewsletterPage


@dataclass
class NewContent:
    """What the next issue can report: pages first published after ``since``."""

    since: datetime | None
    last_sent: NewsletterPage | None
    interviews: list = field(default_factory=list)
    practices: list = field(default_factory=list)
    events: list = field(default_factory=list)
    has_upcoming_events: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.interviews or self.practices or self.events)

    def summary(self) -> str:
        parts = []
        if self.interviews:
            parts.append(
                ngettext("%(n)d new interview", "%(n)d new interviews", len(self.interviews))
                % {"n": len(self.interviews)}
            )
        if self.practices:
            parts.append(
                ngettext("%(n)d new good practice", "%(n)d new good practices", len(self.practices))
                % {"n": len(self.practices)}
            )
        if self.events:
            parts.append(
                ngettext("%(n)d new event", "%(n)d new events", len(self.events))
                % {"n": len(self.events)}
            )
        return ", ".join(parts)


@dataclass
class DraftResult:
    content: NewContent
    page: NewsletterPage | None = None
    created: bool = False


def last_sent_issue() -> NewsletterPage | None:
    return NewsletterPage.objects.filter(sent_at__isnull=False).order_by("-sent_at").first()


def pending_draft(last_sent: NewsletterPage | None) -> NewsletterPage | None:
    """A drafted issue nobody has published or sent yet, newer than the last sent one."""
    drafts = NewsletterPage.objects.filter(
        sent_at__isnull=True, live=False, first_published_at__isnull=True
    )
    if last_sent is not None:
        drafts = drafts.filter(issue_number__gt=last_sent.issue_number)
    return drafts.order_by("-issue_number").first()


def new_content(now=None) -> NewContent:
    """Pages first published since the last sent issue (everything if none was sent)."""
    now = now or timezone.now()
    last_sent = last_sent_issue()
    since = last_sent.sent_at if last_sent else None

    def published_since(queryset):
        queryset = queryset.live().filter(first_published_at__lte=now)
        if since is not None:
            queryset = queryset.filter(first_published_at__gt=since)
        return list(queryset.order_by("first_published_at", "pk"))

    return NewContent(
        since=since,
        last_sent=last_sent,
        interviews=published_since(InterviewPage.objects),
        practices=published_since(GoodPracticePage.objects),
        events=published_since(EventPage.objects),
        has_upcoming_events=EventPage.objects.live().upcoming(now).exists(),
    )


def draft_body(content: NewContent, now=None) -> list:
    now = now or timezone.now()
    body = []
    for practice in content.practices:
        body.append(
            (
                "good_practice",
                {"practice": practice, "heading": "", "text": "", "show_cover": True},
            )
        )
    reports = [event for event in content.events if (event.end or event.start) < now]
    if reports:
        body.append(
            (
                "events",
                {
                    "heading": _("Where we have been"),
                    "source": "chosen",
                    "events": reports,
                    "count": len(reports),
                },
            )
        )
    if content.has_upcoming_events:
        body.append(("events", {"heading": _("Upcoming events"), "source": "upcoming", "count": 3}))
    if content.interviews:
        if body:
            body.append(("divider", None))
        body.append(
            (
                "interview_spotlight",
                {
                    "heading": _("We put under the spotlight our interviewees!"),
                    "interviews": [{"interview": page, "quote": ""} for page in content.interviews],
                },
            )
        )
    return body


@transaction.atomic
def draft_next_issue(*, user=None, now=None) -> DraftResult:
    """Create a draft issue from the new content; none when nothing is new.

    An unsent draft made earlier is returned rather than duplicated.
    """
    content = new_content(now)
    if content.is_empty:
        return DraftResult(content=content)
    existing = pending_draft(content.last_sent)
    if existing is not None:
        return DraftResult(content=content, page=existing, created=False)
    archive = NewsletterIndexPage.objects.first()
    if archive is None:
        raise NewsletterIndexPage.DoesNotExist(_("Create a newsletter archive page first."))

    number = NewsletterPage.next_issue_number()
    template = content.last_sent or NewsletterPage.objects.order_by("-issue_number").first()
    slug = slugify(f"newsletter-{number}")
    while NewsletterPage.objects.child_of(archive).filter(slug=slug).exists():
        slug += "-draft"
    page = NewsletterPage(
        title=_("Newsletter #%(number)d") % {"number": number},
        slug=slug,
        live=False,
        issue_number=number,
        subject=_("%(sender)s newsletter #%(number)d")
        % {"sender": settings.NEWSLETTER_SENDER_NAME, "number": number},
        preheader=content.summary()[:200],
        header_title=template.header_title if template else "",
        header_subtitle=template.header_subtitle if template else "",
        banner_image=template.banner_image if template else None,
        body=draft_body(content, now),
        owner=user,
    )
    archive.add_child(instance=page)
    page.save_revision(user=user, log_action=True)
    return DraftResult(content=content, page=page, created=True)
