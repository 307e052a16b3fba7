"""The interview series: personalities from the clusters and networks world."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from modelcluster.contrib.taggit import ClusterTaggableManager
from modelcluster.fields import ParentalKey
from taggit.models import TaggedItemBase
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.api import APIField
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from cms.localisation import LocalisedReferencesMixin
from cms.models import IndexPage, PreviewMixin
from cms.visibility import visible_pages
from interviews.blocks import InterviewBodyBlock


class InterviewIndexPage(IndexPage):
    subpage_types = ["interviews.InterviewPage"]

    class Meta:
        verbose_name = _("interview index")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["interviews"] = (
            visible_pages(InterviewPage.objects.child_of(self))
            .select_related("organisation", "portrait")
            .order_by("-date", "-first_published_at")
        )
        return context


class InterviewPageTag(TaggedItemBase):
    content_object = ParentalKey(
        "interviews.InterviewPage", related_name="tagged_items", on_delete=models.CASCADE
    )


class InterviewPage(LocalisedReferencesMixin, PreviewMixin, Page):
    interviewee_name = models.CharField(max_length=255)
    role = models.CharField(
        max_length=255, help_text=_("The interviewee's position, e.g. “Project manager”.")
    )
    organisation = models.ForeignKey(
        "cms.Organisation", on_delete=models.PROTECT, related_name="interviews"
    )
    country = CountryField(blank=True)
    portrait = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pull_quote = models.TextField(
        help_text=_("The short quote a newsletter spotlights (without quotation marks).")
    )
    intro = RichTextField(blank=True, features=["bold", "italic", "link"])
    body = StreamField(InterviewBodyBlock(), blank=True)
    date = models.DateField(_("interview date"), default=timezone.localdate)
    tags = ClusterTaggableManager(through=InterviewPageTag, blank=True, verbose_name=_("topics"))

    content_panels = Page.content_panels + [
        MultiFieldPanel(
            [
                FieldPanel("interviewee_name"),
                FieldRowPanel([FieldPanel("role"), FieldPanel("organisation")]),
                FieldRowPanel([FieldPanel("country"), FieldPanel("date")]),
                FieldPanel("portrait"),
            ],
            heading=_("Interviewee"),
        ),
        FieldPanel("pull_quote"),
        FieldPanel("intro"),
        FieldPanel("body"),
        FieldPanel("tags"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("interviewee_name", boost=2),
        index.AutocompleteField("interviewee_name"),
        index.SearchField("role"),
        index.SearchField("pull_quote"),
        index.SearchField("intro"),
        index.SearchField("body"),
        index.RelatedFields("organisation", [index.SearchField("name")]),
        index.FilterField("country"),
        index.FilterField("date"),
    ]
    # The content API's fields (cms.api.representation), in the order the JSON shows them.
    api_fields = [
        APIField("interviewee_name"),
        APIField("role"),
        APIField("organisation"),
        APIField("country"),
        APIField("date"),
        APIField("portrait"),
        APIField("pull_quote"),
        APIField("intro"),
        APIField("body"),
        APIField("tags"),
    ]

    parent_page_types = ["interviews.InterviewIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("interview")

    @property
    def role_line(self):
        """“Project manager at AMBIT”: how newsletters introduce the interviewee."""
        return _("%(role)s at %(organisation)s") % {
            "role": self.role,
            "organisation": self.organisation.short_name or self.organisation.name,
        }
