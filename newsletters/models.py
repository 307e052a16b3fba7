"""Newsletter issues as Wagtail pages, composed from blocks that reference site pages."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpResponse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.api import APIField
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from cms.models import IndexPage
from newsletters.blocks import NewsletterBodyBlock
from newsletters.panels import EmailChecksPanel
from newsletters.validators import single_line


def next_issue_number() -> int:
    """The number after the highest issue so far: what an editor adding an issue starts with."""
    return NewsletterPage.next_issue_number()


class NewsletterIndexPage(RoutablePageMixin, IndexPage):
    """The archive of issues: the site lists those sent to a public list, with a feed."""

    subpage_types = ["newsletters.NewsletterPage"]
    FEED_ITEMS = 50

    class Meta:
        verbose_name = _("newsletter archive")

    def archived_issues(self):
        return (
            NewsletterPage.objects.child_of(self)
            .live()
            .public()
            .filter(public_sent_at__isnull=False)
            .order_by("-public_sent_at", "-issue_number")
        )

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["issues"] = self.archived_issues()
        return context

    @path("feed/", name="feed")
    def feed(self, request):
        """RSS 2.0 of the archived issues, newest first."""
        from newsletters.archive import issues_feed

        return issues_feed(self, request, self.archived_issues()[: self.FEED_ITEMS])


class NewsletterPage(Page):
    # 0: an issue outside the numbered series (a list's welcome email), banded "Welcome".
    # Unique per locale (``clean``: the locale lives on Wagtail's page table, out of reach
    # of a constraint here): an issue's translations carry its number.
    issue_number = models.PositiveIntegerField(
        db_index=True,
        default=next_issue_number,
        help_text=_("0 for a welcome email, outside the numbered issues."),
    )
    subject = models.CharField(
        max_length=200,
        validators=[single_line],
        help_text=_("The subject line subscribers see in their inbox."),
    )
    preheader = models.CharField(
        validators=[single_line],
        max_length=200,
        blank=True,
        help_text=_("The preview text shown after the subject in most inboxes."),
    )
    header_title = models.CharField(max_length=255, blank=True)
    header_subtitle = models.CharField(max_length=255, blank=True)
    banner_image = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = StreamField(NewsletterBodyBlock(), blank=True)
    # Set by the sending pipeline when a campaign of this issue finishes; the next-issue
    # draft collects what was published since the latest one.
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, editable=False)
    # Set with sent_at when the campaign went to public lists only: the issue is in the
    # archive, its feed and the API's sent date, and search engines may index it.
    public_sent_at = models.DateTimeField(
        _("sent to a public list at"), null=True, blank=True, editable=False
    )

    content_panels = Page.content_panels + [
        EmailChecksPanel(heading=_("Email checks")),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("issue_number"), FieldPanel("subject")]),
                FieldPanel("preheader"),
            ],
            heading=_("Inbox"),
        ),
        MultiFieldPanel(
            [FieldPanel("header_title"), FieldPanel("header_subtitle"), FieldPanel("banner_image")],
            heading=_("Header"),
        ),
        FieldPanel("body"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("subject"),
        index.SearchField("body"),
        index.FilterField("issue_number"),
        index.FilterField("sent_at"),
        index.FilterField("public_sent_at"),
    ]
    # The content API's fields (cms.api.representation), in the order the JSON shows them.
    api_fields = [
        APIField("issue_number"),
        APIField("subject"),
        APIField("preheader"),
        APIField("header_title"),
        APIField("header_subtitle"),
        APIField("banner_image"),
        APIField("body"),
        # When it went to a public list (null until then, and for internal-only issues):
        # a front end builds its archive from `?type=newsletters.NewsletterPage&sent=true`.
        APIField("public_sent_at"),
    ]

    parent_page_types = ["newsletters.NewsletterIndexPage"]
    subpage_types = []

    preview_modes = [("email", _("Email")), ("text", _("Plain text"))]
    default_preview_mode = "email"

    class Meta:
        verbose_name = _("newsletter issue")

    def __str__(self):
        return f"#{self.issue_number} {self.title}" if self.issue_number else self.title

    def clean(self):
        super().clean()
        taken = NewsletterPage.objects.filter(
            issue_number=self.issue_number, locale_id=self.locale_id
        ).exclude(pk=self.pk)
        # Translations share their number; welcome emails (0) are outside the series.
        if self.issue_number and taken.exclude(translation_key=self.translation_key).exists():
            raise ValidationError(
                {"issue_number": _("Another issue in this language has this number.")}
            )

    def with_content_json(self, content):
        # sent_at belongs to the page, not to a revision: publishing a revision saved before
        # the send must not make the issue unsent again.
        page = super().with_content_json(content)
        page.sent_at = self.sent_at
        page.public_sent_at = self.public_sent_at
        return page

    def mark_sent(self, when, *, public: bool) -> None:
        """A campaign of this issue finished (called by the sending pipeline): the first
        one dates the issue; the first to public lists only also puts it in the archive."""
        changed = NewsletterPage.objects.filter(pk=self.pk, sent_at__isnull=True).update(
            sent_at=when
        )
        if public:
            changed += NewsletterPage.objects.filter(
                pk=self.pk, public_sent_at__isnull=True
            ).update(public_sent_at=when)
        if changed:
            from cms.api.models import ContentVersion

            self.refresh_from_db(fields=["sent_at", "public_sent_at"])
            ContentVersion.bump()  # the API's sent date and the archive changed

    def serve(self, request, *args, **kwargs):
        """The issue on the site once it was sent: the email without any personal data."""
        from newsletters.rendering import personalise, render_email

        if self.sent_at is None:
            raise Http404("This issue has not been sent yet.")
        rendered = render_email(self, extra_context={"web_copy": True})
        html = personalise(rendered.html, {}, html=True)
        response = HttpResponse(html, content_type=f"text/html; charset={settings.DEFAULT_CHARSET}")
        if self.public_sent_at is None:
            # Sent to an internal list: readable by link, never in search results.
            response["X-Robots-Tag"] = "noindex, nofollow"
            response.content = html.replace(
                "<head>", '<head><meta name="robots" content="noindex, nofollow">', 1
            )
        return response

    def serve_preview(self, request, mode_name):
        """The email as a subscriber gets it, with the editor as the recipient."""
        from newsletters.rendering import personalise, render_email

        rendered = render_email(self)
        user = getattr(request, "user", None)
        values = {
            "name": (user.get_full_name() or user.get_username()) if user else "",
            "email": getattr(user, "email", "") or "",
            "unsubscribe_url": "#unsubscribe",
            "preferences_url": "#preferences",
            "web_url": "#view-in-browser",
        }
        if mode_name == "text":
            body = personalise(rendered.text, values)
            return HttpResponse(body, content_type="text/plain; charset=utf-8")
        html = personalise(rendered.html, values, html=True)
        return HttpResponse(html, content_type=f"text/html; charset={settings.DEFAULT_CHARSET}")

    @classmethod
    def next_issue_number(cls) -> int:
        latest = cls.objects.aggregate(models.Max("issue_number"))["issue_number__max"]
        return (latest or 0) + 1
