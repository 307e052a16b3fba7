"""Newsletter issues as Wagtail pages, composed from blocks that reference site pages."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from cms.models import IndexPage
from newsletters.blocks import NewsletterBodyBlock


class NewsletterIndexPage(IndexPage):
    """The archive of issues."""

    subpage_types = ["newsletters.NewsletterPage"]

    class Meta:
        verbose_name = _("newsletter archive")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["issues"] = NewsletterPage.objects.child_of(self).live().order_by("-issue_number")
        return context


class NewsletterPage(Page):
    issue_number = models.PositiveIntegerField(unique=True)
    subject = models.CharField(
        max_length=200, help_text=_("The subject line subscribers see in their inbox.")
    )
    preheader = models.CharField(
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

    content_panels = Page.content_panels + [
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
    ]

    parent_page_types = ["newsletters.NewsletterIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("newsletter issue")
