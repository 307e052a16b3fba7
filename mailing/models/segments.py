"""Segments: saved, named conditions over subscribers, each condition a StreamField block.

The model holds the conditions as the editor composed them; ``mailing.segments`` turns
them into one ORM filter (the same SQL on SQLite and PostgreSQL).
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from wagtail import blocks
from wagtail.fields import StreamField


def _list_choices():
    from mailing.models.audience import MailingList

    return [("", _("Any list")), *MailingList.objects.values_list("slug", "name")]


def _language_choices():
    return list(settings.LANGUAGES)


def _country_choices():
    return list(countries)


def _topic_choices():
    from mailing.topics import topic_choices

    return topic_choices()


class SubscriptionCondition(blocks.StructBlock):
    """A subscription to a list (or any list) in a status, started within dates."""

    mailing_list = blocks.ChoiceBlock(
        choices=_list_choices, required=False, label=_("List"), help_text=_("Empty: any list.")
    )
    status = blocks.ChoiceBlock(
        choices=[
            ("", _("Any status")),
            ("pending", _("Pending confirmation")),
            ("confirmed", _("Confirmed")),
            ("unsubscribed", _("Unsubscribed")),
        ],
        required=False,
        label=_("Status"),
    )
    since = blocks.DateBlock(required=False, label=_("Subscribed on or after"))
    until = blocks.DateBlock(required=False, label=_("Subscribed on or before"))

    class Meta:
        icon = "list-ul"
        label = _("Subscription")


class LanguageCondition(blocks.StructBlock):
    languages = blocks.MultipleChoiceBlock(choices=_language_choices, label=_("Language is one of"))

    class Meta:
        icon = "globe"
        label = _("Language")


class CountryCondition(blocks.StructBlock):
    countries = blocks.MultipleChoiceBlock(choices=_country_choices, label=_("Country is one of"))

    class Meta:
        icon = "site"
        label = _("Country")


class TopicCondition(blocks.StructBlock):
    topics = blocks.MultipleChoiceBlock(choices=_topic_choices, label=_("Topics"))
    match = blocks.ChoiceBlock(
        choices=[("any", _("Chose at least one of them")), ("all", _("Chose all of them"))],
        default="any",
        label=_("Match"),
    )

    class Meta:
        icon = "tag"
        label = _("Topics chosen")


class AttributeCondition(blocks.StructBlock):
    """A value imported with the subscriber (``Subscriber.attributes``)."""

    # SQLite's JSON paths cannot escape a double quote or a backslash in a key.
    name = blocks.CharBlock(
        max_length=100,
        label=_("Attribute"),
        validators=[RegexValidator(r'^[^"\\]+$', _('An attribute name holds no " or \\.'))],
    )
    operator = blocks.ChoiceBlock(
        choices=[
            ("equals", _("is")),
            ("not_equals", _("is not")),
            ("contains", _("contains")),
            ("exists", _("is set")),
            ("missing", _("is not set")),
        ],
        default="equals",
        label=_("Operator"),
    )
    value = blocks.CharBlock(
        max_length=200, required=False, label=_("Value"), help_text=_("Compared without case.")
    )

    class Meta:
        icon = "form"
        label = _("Imported attribute")


class EngagementCondition(blocks.StructBlock):
    """Opens and clicks (``DeliveryEvent``) in the campaigns that last started."""

    kind = blocks.ChoiceBlock(
        choices=[
            ("opened", _("Opened")),
            ("clicked", _("Clicked")),
            ("opened_or_clicked", _("Opened or clicked")),
            ("not_opened", _("Did not open")),
            ("not_clicked", _("Did not click")),
        ],
        default="opened",
        label=_("Reader"),
    )
    campaigns = blocks.IntegerBlock(
        min_value=0,
        max_value=1000,
        default=5,
        label=_("In the last N campaigns"),
        help_text=_("0: ever (\u201cdid not open\u201d with 0 is \u201cnever opened\u201d)."),
    )

    class Meta:
        icon = "view"
        label = _("Engagement")


class ConditionsBlock(blocks.StreamBlock):
    subscription = SubscriptionCondition()
    language = LanguageCondition()
    country = CountryCondition()
    topics = TopicCondition()
    attribute = AttributeCondition()
    engagement = EngagementCondition()


class Segment(models.Model):
    """A named set of subscribers, recomputed whenever it is counted or sent to."""

    class Match(models.TextChoices):
        ALL = "all", _("All conditions")
        ANY = "any", _("Any condition")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    match = models.CharField(
        _("subscribers matching"), max_length=3, choices=Match.choices, default=Match.ALL
    )
    conditions = StreamField(ConditionsBlock(), blank=True, verbose_name=_("conditions"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self):
        return self.name
