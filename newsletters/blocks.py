"""Blocks an editor composes a newsletter issue from.

Every block renders twice from one context: MJML (``Meta.template``) and plain text
(the same template name ending in ``.txt``). Blocks that reference pages re-read those
pages when the issue is rendered, so fixing a typo on an interview fixes the next issue.
Pages an email may not show (unpublished, private or expired: ``shown``) are left out
and reported; ``newsletters.checks`` lists the reports.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.images.blocks import ImageChooserBlock
from wagtail.models import Page

from cms.links import frontend_url, site_url

EMAIL_RICH_TEXT_FEATURES = ["bold", "italic", "link", "document-link", "ol", "ul"]
BLOCK_PREVIEW_TEMPLATE = "newsletters/email/block_preview.html"


def text_template(mjml_template: str) -> str:
    """The plain-text twin of an MJML block template."""
    return mjml_template.removesuffix(".mjml") + ".txt"


def report(context, message) -> None:
    """Record a problem an editor should fix; ``check_issue`` shows them."""
    problems = (context or {}).get("email_problems")
    if problems is not None and message not in problems:
        problems.append(str(message))


def shown(queryset, now=None):
    """The pages of ``queryset`` an email may show or link to: live, outside any view
    restriction, and not past their ``expire_at`` (which takes effect here even before
    Wagtail's scheduled unpublishing has run)."""
    now = now or timezone.now()
    return (
        queryset.live()
        .public()
        .filter(models.Q(expire_at__isnull=True) | models.Q(expire_at__gt=now))
    )


def hidden_reason(page, now=None) -> str:
    """Why an email may not show ``page`` (re-read now): "unpublished" (or deleted),
    "expired", "private", or "" when it may."""
    now = now or timezone.now()
    page = Page.objects.filter(pk=page.pk).only("live", "expire_at", "path", "depth").first()
    if page is None or not page.live:
        return "unpublished"
    if page.expire_at is not None and page.expire_at <= now:
        return "expired"
    if page.get_view_restrictions().exists():
        return "private"
    return ""


# What the checks panel says about a page left out, and about a link left out, by reason.
LEFT_OUT = {
    "unpublished": _("“%(title)s” is not published, so the email leaves it out."),
    "private": _("“%(title)s” is private (view-restricted), so the email leaves it out."),
    "expired": _("“%(title)s” has expired, so the email leaves it out."),
}
LINK_LEFT_OUT = {
    "unpublished": _(
        "The email links to “%(title)s”, which is not published; the link is left out."
    ),
    "private": _(
        "The email links to “%(title)s”, which is private (view-restricted); the link is left out."
    ),
    "expired": _("The email links to “%(title)s”, which has expired; the link is left out."),
}


def _now(context):
    return (context or {}).get("now") or timezone.now()


def live_pages(queryset, pages, context=None):
    """The ``pages`` an email may show (see ``shown``), re-read now, in the editor's order;
    each one left out is reported."""
    now = _now(context)
    wanted = [page.pk for page in pages if page is not None]
    found = {page.pk: page for page in shown(queryset, now).filter(pk__in=wanted)}
    for page in pages:
        if page is not None and page.pk not in found:
            reason = hidden_reason(page, now) or "unpublished"
            report(context, LEFT_OUT[reason] % {"title": page.title})
    return [found[pk] for pk in wanted if pk in found]


def page_link(page, context=None) -> str:
    """Where a chosen page lives on the external site, or "" (reported) when the email may
    not link to it (read from the database now: a block's page may be a stale copy)."""
    if page is None:
        return ""
    now = _now(context)
    if shown(Page.objects.filter(pk=page.pk), now).exists():
        return frontend_url(page)
    reason = hidden_reason(page, now) or "unpublished"
    report(context, LINK_LEFT_OUT[reason] % {"title": page.title})
    return ""


def image_alt(image, alt, context=None) -> str:
    """The alt text of an email image: the block's, else the image's description.

    Every image of an email passes here, so it also reports an image that readers could
    not load: its collection's view restriction keeps its file off public addresses."""
    collection = getattr(image, "collection", None)
    if collection is not None and collection.get_view_restrictions().exists():
        report(
            context,
            _(
                "The image “%(title)s” is in a collection restricted to signed-in people: "
                "readers would see a broken image. Move it to a public collection."
            )
            % {"title": image.title},
        )
    alt = (alt or "").strip() or (getattr(image, "description", "") or "").strip()
    if not alt:
        report(context, _("The image “%(title)s” has no alt text.") % {"title": image.title})
        return image.title
    return alt


#: A day in full as each language writes it in running text (Django's own DATE_FORMAT
#: is "Dec. 1, 2026" in English and "01 dicembre" in Italian); others use DATE_FORMAT.
#: Django names these languages' months with a capital, which running text does not use.
LOWERCASE_MONTHS = {"it", "ro", "pt", "ca"}
LONG_DATE = {"en": "j F Y", "fr": "j F Y", "de": "j. F Y", "it": "j F Y", "es": r"j \d\e F \d\e Y"}


def long_date(moment) -> str:
    """A date in full in the active language: “1 December 2026”, “1. Dezember 2026”."""
    language = (get_language() or "en").split("-")[0]
    if language == "fr" and moment.day == 1:
        return date_format(moment, r"j\e\r F Y")  # « 1er décembre »
    text = date_format(moment, LONG_DATE.get(language, "DATE_FORMAT"))
    if language in LOWERCASE_MONTHS:
        month = date_format(moment, "F")
        text = text.replace(month, month.lower())
    return text


def zone_name(moment) -> str:
    """The time zone of an aware datetime as readers know it: “CEST”, else “UTC+04”."""
    name = moment.tzname() or ""
    return f"UTC{name}" if name.startswith(("+", "-")) else name


# --- "match each reader's topics" ---------------------------------------------------------

AS_COMPOSED, HIDE = "composed", "hide"


class TopicMatchBlock(blocks.StructBlock):
    """The option of a block that references pages: per reader, only the pages on their
    topics. The issue is rendered once per topic set (``reader_topics`` in the context:
    the reader's topic slugs; absent for readers without topics, previews and the web copy)."""

    enabled = blocks.BooleanBlock(
        required=False,
        label=_("Match each reader's topics"),
        help_text=_(
            "Readers who chose topics see only the pages on their topics; others see the "
            "block as composed."
        ),
    )
    fallback = blocks.ChoiceBlock(
        choices=[
            (AS_COMPOSED, _("Show the block as composed")),
            (HIDE, _("Leave the block out")),
        ],
        default=AS_COMPOSED,
        label=_("When none of a reader's topics match"),
    )

    class Meta:
        icon = "tag"
        label = _("Reader topics")
        collapsed = True


def reader_topics(value, context) -> frozenset | None:
    """The reader's topics when this block matches them, else None (as composed)."""
    option = value.get("topics") or {}
    topics = (context or {}).get("reader_topics")
    if not option.get("enabled") or not topics:
        return None
    return frozenset(topics)


def on_topics(model, pages, topics) -> list:
    """The ``pages`` (in order) tagged with one of ``topics``: one query."""
    ids = {page.pk for page in pages}
    matching = set(
        model.objects.filter(pk__in=ids, tags__slug__in=topics).values_list("pk", flat=True)
    )
    return [page for page in pages if page.pk in matching]


def topic_pages(value, context, model, pages):
    """What a reader gets of ``pages``: the matching ones, or the fallback ([] to hide)."""
    topics = reader_topics(value, context)
    if topics is None:
        return pages
    matching = on_topics(model, pages, topics)
    if matching:
        return matching
    fallback = (value.get("topics") or {}).get("fallback") or AS_COMPOSED
    return pages if fallback == AS_COMPOSED else []


class EmailBlockMixin:
    """An email block: a context resolved once, rendered as MJML and as text."""

    def email_context(self, value, context):
        """Extra variables resolved at render time (pages, events, links)."""
        return {}

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        context.update(self.email_context(value, context))
        return context

    def render_text(self, value, context=None):
        context = self.get_context(value, parent_context=context)
        return render_to_string(text_template(self.get_template(value, context)), context)

    def get_preview_template(self, value, context=None):
        return BLOCK_PREVIEW_TEMPLATE


class ButtonBlock(EmailBlockMixin, blocks.StructBlock):
    label = blocks.CharBlock(max_length=80, required=False)
    page = blocks.PageChooserBlock(required=False)
    document = DocumentChooserBlock(required=False)
    url = blocks.URLBlock(required=False, help_text=_("Used when no page or document is chosen."))

    class Meta:
        icon = "link"
        template = "newsletters/email/blocks/button.mjml"
        description = _("A call-to-action button to a page, a document or a web address")
        preview_value = {"label": "Download the handbook", "url": "https://example.org/"}

    def clean(self, value):
        value = super().clean(value)
        has_target = value.get("page") or value.get("document") or value.get("url")
        if has_target and not value.get("label"):
            raise StructBlockValidationError(
                block_errors={"label": ValidationError(_("Give the button a label."))}
            )
        if value.get("label") and not has_target:
            raise StructBlockValidationError(
                block_errors={
                    "url": ValidationError(_("Choose a page or a document, or give an address."))
                }
            )
        return value

    @staticmethod
    def href(value, context=None) -> str:
        if not value:
            return ""
        if value.get("page"):
            return page_link(value["page"], context)
        if value.get("document"):
            return site_url(value["document"].url)
        return site_url(value.get("url") or "")  # a relative address stays on this CMS

    def email_context(self, value, context):
        return {"href": self.href(value, context), "label": value.get("label")}


class EmailImageBlock(EmailBlockMixin, blocks.StructBlock):
    image = ImageChooserBlock()
    alt_text = blocks.CharBlock(
        required=False,
        help_text=_("Describe the image; leave blank to use the image's own description."),
    )
    caption = blocks.CharBlock(required=False)
    url = blocks.URLBlock(required=False, help_text=_("Optional: where a click on it leads."))

    class Meta:
        icon = "image"
        template = "newsletters/email/blocks/image.mjml"
        description = _("A full-width image with optional caption and link")

    def get_preview_value(self):
        from wagtail.images import get_image_model

        image = get_image_model().objects.order_by("-created_at").first()
        return self.normalize({"image": image, "caption": "PENELOPE at work"})

    def email_context(self, value, context):
        image = value.get("image")
        return {"alt": image_alt(image, value.get("alt_text"), context) if image else ""}


class StoryBlock(EmailBlockMixin, blocks.StructBlock):
    heading = blocks.CharBlock(max_length=200)
    text = blocks.RichTextBlock(features=EMAIL_RICH_TEXT_FEATURES)
    image = ImageChooserBlock(required=False)
    image_alt = blocks.CharBlock(
        required=False,
        label=_("Image alt text"),
        help_text=_("Leave blank to use the image's own description."),
    )
    button = ButtonBlock(required=False, label=_("Button (optional)"))

    class Meta:
        icon = "doc-full"
        template = "newsletters/email/blocks/story.mjml"
        description = _("A heading, text, optional image and button")
        preview_value = {
            "heading": "Our handbook becomes a good practice",
            "text": "<p>Downloaded 273 times in three months.</p>",
            "button": {"label": "Download the handbook", "url": "https://example.org/"},
        }

    def email_context(self, value, context):
        image = value.get("image")
        return {
            "alt": image_alt(image, value.get("image_alt"), context) if image else "",
            "button_href": ButtonBlock.href(value.get("button"), context),
        }


class SpotlightItemBlock(blocks.StructBlock):
    interview = blocks.PageChooserBlock(page_type="interviews.InterviewPage")
    quote = blocks.TextBlock(
        required=False,
        label=_("Quote for this issue"),
        help_text=_("Leave blank to use the interview's pull quote."),
    )

    class Meta:
        icon = "user"


class InterviewSpotlightBlock(EmailBlockMixin, blocks.StructBlock):
    heading = blocks.CharBlock(max_length=200)
    intro = blocks.RichTextBlock(features=EMAIL_RICH_TEXT_FEATURES, required=False)
    interviews = blocks.ListBlock(SpotlightItemBlock(), min_num=1)
    link_label = blocks.CharBlock(
        max_length=80,
        required=False,
        help_text=_("Leave blank for “Read the full interview”."),
    )
    topics = TopicMatchBlock()

    class Meta:
        icon = "user"
        template = "newsletters/email/blocks/interview_spotlight.mjml"
        description = _(
            "Interviewees with portrait, name, role, a quote and a link to the full interview"
        )

    def get_preview_value(self):
        from interviews.models import InterviewPage

        chosen = InterviewPage.objects.live().order_by("-first_published_at")[:2]
        return self.normalize(
            {
                "heading": "We put under the spotlight our interviewees!",
                "intro": "<p>Personalities from the clusters and networks world.</p>",
                "interviews": [{"interview": page, "quote": ""} for page in chosen],
            }
        )

    def email_context(self, value, context):
        from interviews.models import InterviewPage

        items = list(value.get("interviews") or [])
        quotes = {item["interview"].pk: item.get("quote") for item in items if item["interview"]}
        pages = live_pages(
            InterviewPage.objects.select_related("organisation", "portrait"),
            [item["interview"] for item in items],
            context,
        )
        pages = topic_pages(value, context, InterviewPage, pages)
        people = []
        for page in pages:
            people.append(
                {
                    "page": page,
                    "name": page.interviewee_name,
                    "role_line": page.role_line,
                    "quote": (quotes.get(page.pk) or page.pull_quote).strip().strip('“”"'),
                    "url": frontend_url(page),
                    "portrait": page.portrait,
                    "portrait_alt": image_alt(page.portrait, "", context) if page.portrait else "",
                }
            )
        return {
            "people": people,
            "link_label": value.get("link_label") or _("Read the full interview"),
        }


class GoodPracticeFeatureBlock(EmailBlockMixin, blocks.StructBlock):
    practice = blocks.PageChooserBlock(page_type="cms.GoodPracticePage")
    heading = blocks.CharBlock(
        max_length=200, required=False, help_text=_("Leave blank to use the page's title.")
    )
    text = blocks.RichTextBlock(
        features=EMAIL_RICH_TEXT_FEATURES,
        required=False,
        help_text=_("Leave blank to use the page's summary."),
    )
    show_cover = blocks.BooleanBlock(required=False, default=True, label=_("Show the cover"))
    button_label = blocks.CharBlock(
        max_length=80,
        required=False,
        help_text=_("Leave blank to use the document's label, or “Read more”."),
    )
    topics = TopicMatchBlock()

    class Meta:
        icon = "doc-full-inverse"
        template = "newsletters/email/blocks/good_practice.mjml"
        description = _("A good practice with its cover, summary and a download button")

    def get_preview_value(self):
        from cms.models import GoodPracticePage

        return self.normalize(
            {"practice": GoodPracticePage.objects.live().first(), "show_cover": True}
        )

    def email_context(self, value, context):
        from cms.models import GoodPracticePage

        found = live_pages(GoodPracticePage.objects, [value.get("practice")], context)
        found = topic_pages(value, context, GoodPracticePage, found)
        if not found:
            return {"practice": None}
        practice = found[0]
        first = practice.documents.select_related("document").first()
        read_more = frontend_url(practice)
        if first is not None:
            href = site_url(first.document.url)
            label = value.get("button_label") or first.label or _("Download")
        else:
            href, label, read_more = read_more, value.get("button_label") or _("Read more"), ""
        cover = practice.cover_image if value.get("show_cover") else None
        return {
            "practice": practice,
            "heading": value.get("heading") or practice.title,
            "cover": cover,
            "cover_alt": image_alt(cover, "", context) if cover else "",
            "button_href": href,
            "button_label": label,
            "read_more_url": read_more,
        }


class EventsBlock(EmailBlockMixin, blocks.StructBlock):
    CHOSEN, UPCOMING = "chosen", "upcoming"

    heading = blocks.CharBlock(max_length=200)
    intro = blocks.RichTextBlock(features=EMAIL_RICH_TEXT_FEATURES, required=False)
    source = blocks.ChoiceBlock(
        choices=[
            (CHOSEN, _("The events chosen below")),
            (UPCOMING, _("The next upcoming events, when the email is rendered")),
        ],
        default=UPCOMING,
    )
    events = blocks.ListBlock(
        blocks.PageChooserBlock(page_type="cms.EventPage"), required=False, default=[]
    )
    count = blocks.IntegerBlock(
        required=False,
        min_value=1,
        max_value=12,
        default=3,
        help_text=_("How many upcoming events to show (not needed for chosen events)."),
    )
    topics = TopicMatchBlock()

    class Meta:
        icon = "date"
        template = "newsletters/email/blocks/events.mjml"
        description = _(
            "Chosen events, or the next upcoming ones; past events show as short reports"
        )
        preview_value = {"heading": "Save the date", "source": "upcoming", "count": 3}

    def clean(self, value):
        value = super().clean(value)
        if value.get("source") == self.CHOSEN and not [e for e in value.get("events") or [] if e]:
            raise StructBlockValidationError(
                block_errors={"events": ValidationError(_("Choose at least one event."))}
            )
        if value.get("source") != self.CHOSEN and not value.get("count"):
            raise StructBlockValidationError(
                block_errors={"count": ValidationError(_("Say how many upcoming events to show."))}
            )
        return value

    def email_context(self, value, context):
        from cms.models import EventPage

        now = _now(context)
        queryset = EventPage.objects.select_related("organiser")
        topics = reader_topics(value, context)
        if value.get("source") == self.CHOSEN:
            events = live_pages(queryset, list(value.get("events") or []), context)
            events = topic_pages(value, context, EventPage, events)
        else:
            upcoming = shown(queryset, now).upcoming(now)
            count = value.get("count") or 3
            events = []
            if topics is not None:
                # The next events on the reader's topics, each once however many it has.
                ids = upcoming.filter(tags__slug__in=topics).values("pk")
                events = list(upcoming.filter(pk__in=ids)[:count])
                fallback = (value.get("topics") or {}).get("fallback") or AS_COMPOSED
                if not events and fallback == AS_COMPOSED:
                    events = list(upcoming[:count])
            else:
                events = list(upcoming[:count])
        return {"events": [self.describe(event, now) for event in events]}

    @staticmethod
    def describe(event, now):
        start = timezone.localtime(event.start)
        is_past = (event.end or event.start) < now
        when = long_date(start)
        if not is_past:
            # Readers live in other time zones: the time says which one it is in.
            when = f"{when}, {date_format(start, 'H:i')} {zone_name(start)}"
        return {
            "page": event,
            "title": event.title,
            "url": frontend_url(event),
            "when": when,
            "location": event.location,
            "summary": event.summary,
            "is_past": is_past,
            "participants": event.participant_count if is_past else None,
            "registration_url": "" if is_past else event.registration_url,
            "recording_url": event.recording_url if is_past else "",
        }


class EmailRichTextBlock(EmailBlockMixin, blocks.RichTextBlock):
    class Meta:
        icon = "pilcrow"
        template = "newsletters/email/blocks/rich_text.mjml"
        description = _("Formatted text")
        preview_value = "<p>Stay tuned: the <b>Virtual Learning Environment</b> opens soon.</p>"


class DividerBlock(EmailBlockMixin, blocks.StaticBlock):
    class Meta:
        icon = "horizontalrule"
        admin_text = _("A horizontal line between sections.")
        template = "newsletters/email/blocks/divider.mjml"
        description = _("A horizontal line")
        preview_value = None


class NewsletterBodyBlock(blocks.StreamBlock):
    story = StoryBlock()
    interview_spotlight = InterviewSpotlightBlock()
    good_practice = GoodPracticeFeatureBlock()
    events = EventsBlock()
    rich_text = EmailRichTextBlock(features=EMAIL_RICH_TEXT_FEATURES)
    button = ButtonBlock()
    image = EmailImageBlock()
    divider = DividerBlock()
