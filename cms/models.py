"""The site's shared content: users, organisations, the home page, good practices, events."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from modelcluster.contrib.taggit import ClusterTaggableManager
from modelcluster.fields import ParentalKey
from taggit.models import TaggedItemBase
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.api import APIField
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Orderable, Page, PageManager, TranslatableMixin
from wagtail.query import PageQuerySet
from wagtail.search import index
from wagtail.snippets.models import register_snippet
from wagtail_headless_preview.models import HeadlessPreviewMixin

from cms.blocks import BodyBlock
from cms.localisation import LocalisedReferencesMixin
from cms.visibility import visible_pages


class User(AbstractUser):
    """The project's user model, swappable from the first migration."""

    class Meta:
        db_table = "cms_user"


@register_snippet
class Organisation(TranslatableMixin, index.Indexed, models.Model):
    """A cluster, company, university or network, shared by interviews, practices and events.

    Translatable (wagtail-localize): its name and description can read differently in each
    language; the French translation of an interview points at the French organisation.
    """

    name = models.CharField(max_length=255)
    short_name = models.CharField(
        max_length=80, blank=True, help_text=_("Acronym used in running text, e.g. “AMBIT”.")
    )
    country = CountryField(blank=True)
    website = models.URLField(blank=True)
    logo = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.TextField(blank=True)

    panels = [
        FieldPanel("name"),
        FieldRowPanel([FieldPanel("short_name"), FieldPanel("country")]),
        FieldPanel("website"),
        FieldPanel("logo"),
        FieldPanel("description"),
    ]
    search_fields = [
        index.SearchField("name"),
        index.SearchField("short_name"),
        index.AutocompleteField("name"),
        index.FilterField("country"),
        index.FilterField("locale"),
    ]

    class Meta(TranslatableMixin.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "locale"], name="cms_organisation_name_locale")
        ]

    def __str__(self):
        return self.name


class PreviewMixin(HeadlessPreviewMixin):
    """Preview on the external site when one is configured, else with the CMS's templates.

    With `FRONTEND_PREVIEW_URL` set (by default when `FRONTEND_URL` is),
    wagtail-headless-preview sends the preview to the site's preview route with a token,
    and the CMS's own templates stay a second preview mode. Without it nothing would
    answer there, so the CMS's templates are the only mode, with a note saying how to
    preview on a real site.
    """

    CMS_TEMPLATES = "cms"

    @property
    def preview_modes(self):
        if not settings.FRONTEND_PREVIEW_URL:
            return [("", _("CMS templates"))]
        return [("", _("Website")), (self.CMS_TEMPLATES, _("CMS templates"))]

    def serve_preview(self, request, mode_name):
        if settings.FRONTEND_PREVIEW_URL and mode_name != self.CMS_TEMPLATES:
            return super().serve_preview(request, mode_name)
        request.cms_template_preview = True
        # Past HeadlessPreviewMixin: Wagtail's own preview renders the page's template.
        return super(HeadlessPreviewMixin, self).serve_preview(request, mode_name)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        if getattr(request, "cms_template_preview", False):
            context["preview_note"] = {"website": settings.FRONTEND_PREVIEW_URL}
        return context

    def get_preview_template(self, request, mode_name):
        template = super().get_preview_template(request, mode_name)
        try:
            get_template(template)
        except TemplateDoesNotExist:
            # A page type the CMS has no template for still previews, plainly.
            return "cms/preview_plain.html"
        return template


class HomePage(LocalisedReferencesMixin, PreviewMixin, Page):
    """The site root: an introduction and the sections below it."""

    intro = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = Page.content_panels + [FieldPanel("intro")]
    search_fields = Page.search_fields + [index.SearchField("intro")]
    api_fields = [APIField("intro")]

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = [
        "interviews.InterviewIndexPage",
        "cms.GoodPracticeIndexPage",
        "cms.EventIndexPage",
        "newsletters.NewsletterIndexPage",
    ]
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["sections"] = visible_pages(self.get_children())
        return context


class IndexPage(LocalisedReferencesMixin, PreviewMixin, Page):
    """Common shape of the section pages that list their children."""

    intro = RichTextField(blank=True, features=["bold", "italic", "link"])

    content_panels = Page.content_panels + [FieldPanel("intro")]
    api_fields = [APIField("intro")]
    parent_page_types = ["cms.HomePage"]
    max_count = 1

    class Meta:
        abstract = True


# Good practices -------------------------------------------------------------------


class GoodPracticeIndexPage(IndexPage):
    subpage_types = ["cms.GoodPracticePage"]

    class Meta:
        verbose_name = _("good practice index")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        practices = visible_pages(GoodPracticePage.objects.child_of(self))
        context["practices"] = practices.select_related("organisation")
        return context


class GoodPracticePageTag(TaggedItemBase):
    content_object = ParentalKey(
        "cms.GoodPracticePage", related_name="tagged_items", on_delete=models.CASCADE
    )


class GoodPracticePage(LocalisedReferencesMixin, PreviewMixin, Page):
    date = models.DateField(_("publication date"), default=timezone.localdate)
    summary = models.TextField(help_text=_("One or two sentences shown in listings and emails."))
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="good_practices",
    )
    country = CountryField(blank=True)
    cover_image = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = StreamField(BodyBlock(), blank=True)
    tags = ClusterTaggableManager(through=GoodPracticePageTag, blank=True, verbose_name=_("topics"))

    content_panels = Page.content_panels + [
        FieldPanel("summary"),
        FieldRowPanel([FieldPanel("date"), FieldPanel("country")]),
        FieldPanel("organisation"),
        FieldPanel("cover_image"),
        FieldPanel("body"),
        InlinePanel("documents", label=_("Downloadable documents"), heading=_("Documents")),
        InlinePanel("links", label=_("External links"), heading=_("External links")),
        FieldPanel("tags"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("summary"),
        index.SearchField("body"),
        index.RelatedFields("organisation", [index.SearchField("name")]),
        index.FilterField("country"),
        index.FilterField("date"),
    ]
    # The content API's fields (cms.api.representation), in the order the JSON shows them.
    api_fields = [
        APIField("date"),
        APIField("summary"),
        APIField("organisation"),
        APIField("country"),
        APIField("cover_image"),
        APIField("body"),
        APIField("documents"),
        APIField("links"),
        APIField("tags"),
    ]

    parent_page_types = ["cms.GoodPracticeIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("good practice")

    @property
    def main_document(self):
        first = self.documents.select_related("document").first()
        return first.document if first else None


class GoodPracticeDocument(Orderable):
    page = ParentalKey(GoodPracticePage, on_delete=models.CASCADE, related_name="documents")
    document = models.ForeignKey("wagtaildocs.Document", on_delete=models.CASCADE, related_name="+")
    label = models.CharField(
        max_length=120, blank=True, help_text=_("Button text, e.g. “Download the handbook”.")
    )

    panels = [FieldPanel("document"), FieldPanel("label")]

    def __str__(self):
        return self.label or self.document.title


class GoodPracticeLink(Orderable):
    page = ParentalKey(GoodPracticePage, on_delete=models.CASCADE, related_name="links")
    title = models.CharField(max_length=255)
    url = models.URLField()

    panels = [FieldPanel("title"), FieldPanel("url")]

    def __str__(self):
        return self.title


# Events ---------------------------------------------------------------------------


class EventIndexPage(IndexPage):
    subpage_types = ["cms.EventPage"]

    class Meta:
        verbose_name = _("event index")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        events = visible_pages(EventPage.objects.child_of(self)).select_related("organiser")
        context["upcoming_events"] = events.upcoming()
        context["past_events"] = events.past()
        return context


class EventPageQuerySet(PageQuerySet):
    """Upcoming means not finished yet; an event in progress is still upcoming."""

    def upcoming(self, now=None):
        now = now or timezone.now()
        return self.filter(
            models.Q(end__gte=now) | models.Q(end__isnull=True, start__gte=now)
        ).order_by("start")

    def past(self, now=None):
        now = now or timezone.now()
        return self.filter(
            models.Q(end__lt=now) | models.Q(end__isnull=True, start__lt=now)
        ).order_by("-start")


class EventPageManager(PageManager.from_queryset(EventPageQuerySet)):
    pass


class EventPageTag(TaggedItemBase):
    content_object = ParentalKey(
        "cms.EventPage", related_name="tagged_items", on_delete=models.CASCADE
    )


class EventPage(LocalisedReferencesMixin, PreviewMixin, Page):
    start = models.DateTimeField(help_text=_("Start date and time, in the site's time zone."))
    end = models.DateTimeField(null=True, blank=True)
    is_online = models.BooleanField(_("online event"), default=False)
    venue = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=120, blank=True)
    country = CountryField(blank=True)
    organiser = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    registration_url = models.URLField(blank=True)
    recording_url = models.URLField(blank=True)
    participant_count = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("How many took part, for reports after the event.")
    )
    summary = models.TextField(help_text=_("One or two sentences shown in listings and emails."))
    body = StreamField(BodyBlock(), blank=True)
    cover_image = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = ClusterTaggableManager(through=EventPageTag, blank=True, verbose_name=_("topics"))

    objects = EventPageManager()

    content_panels = Page.content_panels + [
        FieldPanel("summary"),
        MultiFieldPanel(
            [FieldRowPanel([FieldPanel("start"), FieldPanel("end")])], heading=_("When")
        ),
        MultiFieldPanel(
            [
                FieldPanel("is_online"),
                FieldPanel("venue"),
                FieldRowPanel([FieldPanel("city"), FieldPanel("country")]),
            ],
            heading=_("Where"),
        ),
        FieldPanel("organiser"),
        MultiFieldPanel(
            [
                FieldPanel("registration_url"),
                FieldPanel("recording_url"),
                FieldPanel("participant_count"),
            ],
            heading=_("Registration and report"),
        ),
        FieldPanel("cover_image"),
        FieldPanel("body"),
        FieldPanel("tags"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("summary"),
        index.SearchField("body"),
        index.SearchField("city"),
        index.RelatedFields("organiser", [index.SearchField("name")]),
        index.FilterField("start"),
        index.FilterField("end"),
        index.FilterField("country"),
        index.FilterField("is_online"),
    ]
    # The content API's fields (cms.api.representation), in the order the JSON shows them.
    api_fields = [
        APIField("start"),
        APIField("end"),
        APIField("is_online"),
        APIField("venue"),
        APIField("city"),
        APIField("country"),
        APIField("location"),
        APIField("organiser"),
        APIField("registration_url"),
        APIField("recording_url"),
        APIField("participant_count"),
        APIField("summary"),
        APIField("cover_image"),
        APIField("body"),
        APIField("tags"),
    ]

    parent_page_types = ["cms.EventIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = _("event")
        indexes = [models.Index(fields=["start"])]

    def clean(self):
        super().clean()
        errors = {}
        if self.start and self.end and self.end < self.start:
            errors["end"] = _("The event cannot end before it starts.")
        if not self.is_online and not self.city:
            errors["city"] = _("Give the city, or tick “online event”.")
        if errors:
            raise ValidationError(errors)

    @property
    def is_upcoming(self):
        return (self.end or self.start) >= timezone.now()

    @property
    def is_past(self):
        return not self.is_upcoming

    @property
    def location(self):
        if self.is_online:
            return str(_("Online"))
        return ", ".join(part for part in (self.venue, self.city, self.country.name) if part)


# The content API's own state (content version, webhook deliveries) lives in the cms app.
from cms.api.models import ContentVersion, WebhookDelivery  # noqa: E402, F401
