"""Newsletter issues as Wagtail pages, composed from blocks that reference site pages."""

from django.conf import settings
from django.db import models
from django.http import Http404, HttpResponse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.api import APIField
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


class NewsletterIndexPage(IndexPage):
    """The archive of issues: the site lists those that were sent."""

    subpage_types = ["newsletters.NewsletterPage"]

    class Meta:
        verbose_name = _("newsletter archive")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["issues"] = (
            NewsletterPage.objects.child_of(self)
            .live()
            .filter(sent_at__isnull=False)
            .order_by("-issue_number")
        )
        return context


class NewsletterPage(Page):
    issue_number = models.PositiveIntegerField(unique=True, default=next_issue_number)
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
    ]

    parent_page_types = ["newsletters.NewsletterIndexPage"]
    subpage_types = []

    preview_modes = [("email", _("Email")), ("text", _("Plain text"))]
    default_preview_mode = "email"

    class Meta:
        verbose_name = _("newsletter issue")

    def __str__(self):
        return f"#{self.issue_number} {self.title}" if self.issue_number else self.title

    def with_content_json(self, content):
        # sent_at belongs to the page, not to a revision: publishing a revision saved before
        # the send must not make the issue unsent again.
        page = super().with_content_json(content)
        page.sent_at = self.sent_at
        return page

    def serve(self, request, *args, **kwargs):
        """The issue on the site once it was sent: the email without any personal data."""
        from newsletters.rendering import personalise, render_email

        if self.sent_at is None:
            raise Http404("This issue has not been sent yet.")
        rendered = render_email(self, extra_context={"web_copy": True})
        html = personalise(rendered.html, {}, html=True)
        return HttpResponse(html, content_type=f"text/html; charset={settings.DEFAULT_CHARSET}")

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
