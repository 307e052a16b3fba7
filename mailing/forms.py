"""Subscriber-facing forms: signup (JSON or form-encoded) and the preference centre."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from mailing.models import MailingList
from mailing.page_language import language_choices
from mailing.subscriptions import clean_email, clean_name, language_code
from mailing.topics import MAX_TOPICS, clean_topics, topic_choices

#: The honeypot: hidden from people by the signup form, filled in by bots.
HONEYPOT_FIELD = "website"
#: More lists than any form offers: a longer list is an attack on the query, not a choice.
MAX_LISTS = 50


def is_text(value) -> bool:
    """A string that can be stored and encoded (JSON lets lone surrogates through)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


class TextField(forms.CharField):
    """Text only: JSON numbers, objects and arrays are refused, not turned into strings."""

    def to_python(self, value):
        if value not in self.empty_values and not is_text(value):
            raise ValidationError(_("Give this as text."), code="type")
        return super().to_python(value)


class SignupForm(forms.Form):
    email = TextField(max_length=320)
    name = TextField(max_length=200, required=False)
    language = TextField(max_length=10, required=False)
    consent = TextField(max_length=2000, required=False)
    lists = forms.Field(required=False)
    topics = forms.Field(required=False)
    website = forms.Field(required=False)

    def clean_email(self):
        return clean_email(self.cleaned_data["email"])

    @property
    def typed_email(self) -> str:
        """The address as sent, kept for display; ``cleaned_data["email"]`` is its normal form."""
        return self.data["email"].strip()

    def clean_name(self):
        return clean_name(self.cleaned_data["name"])

    def clean_language(self):
        code = language_code(self.cleaned_data["language"])
        if code is None:
            raise ValidationError(_("Choose a language from the list."), code="language")
        return code

    def clean_lists(self):
        """Slugs of public lists; with none given, the only public list if there is one."""
        value = self.cleaned_data.get("lists")
        if isinstance(value, str):
            value = [value]
        if value is None or value == []:
            public = list(MailingList.objects.filter(is_public=True)[:2])
            if len(public) == 1:
                return public
            raise ValidationError(_("Choose at least one list."), code="required")
        if not isinstance(value, list) or not all(is_text(v) for v in value):
            raise ValidationError(_("Give the lists as a list of names."), code="invalid")
        if len(value) > MAX_LISTS:
            raise ValidationError(_("Too many lists."), code="too_many")
        slugs = {v.strip() for v in value if v.strip()}
        # Internal lists are treated as unknown: their names are not public.
        found = list(MailingList.objects.filter(is_public=True, slug__in=slugs))
        unknown = slugs - {m.slug for m in found}
        if unknown or not found:
            raise ValidationError(
                _("Unknown list: %(lists)s"),
                code="unknown_list",
                params={"lists": ", ".join(sorted(unknown))[:500] or "-"},
            )
        return found

    def clean_topics(self) -> list[str]:
        """Slugs (or names) of the topics the CMS's pages use; an unknown one is refused."""
        value = self.cleaned_data.get("topics")
        if value in (None, "", []):
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(is_text(v) for v in value):
            raise ValidationError(_("Give the topics as a list of names."), code="invalid")
        if len(value) > MAX_TOPICS:
            raise ValidationError(_("Too many topics."), code="too_many")
        topics, unknown = clean_topics(value)
        if unknown:
            raise ValidationError(
                _("Unknown topic: %(topics)s"),
                code="unknown_topic",
                params={"topics": ", ".join(sorted(unknown))[:500]},
            )
        return topics

    def is_bot(self) -> bool:
        value = self.data.get(HONEYPOT_FIELD)
        return value.strip() != "" if isinstance(value, str) else bool(value)


class PreferencesForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200, required=False)
    language = forms.ChoiceField(label=_("Language of our emails"), choices=())
    # Offered lists by primary key, checked against the choices in Python: what a forged
    # form posts (text, huge numbers) never reaches a query.
    lists = forms.MultipleChoiceField(
        label=_("Lists you receive"), widget=forms.CheckboxSelectMultiple, required=False
    )
    topics = forms.MultipleChoiceField(
        label=_("Topics you are interested in"),
        help_text=_("Sections of our newsletter show you the stories on these topics first."),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    country = forms.ChoiceField(label=_("Country"), choices=(), required=False)

    def __init__(self, *args, list_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Each language in its own words: a reader looks for "Deutsch", not "German".
        self.fields["language"].choices = language_choices()
        self.fields["topics"].choices = topic_choices()
        self.fields["country"].choices = [("", "—"), *countries]
        self.list_choices = {str(m.pk): m for m in sorted(list_choices, key=lambda m: m.name)}
        self.fields["lists"].choices = [(pk, m.name) for pk, m in self.list_choices.items()]

    def clean_name(self):
        return clean_name(self.cleaned_data["name"])

    def clean_lists(self) -> list[MailingList]:
        return [self.list_choices[pk] for pk in self.cleaned_data["lists"]]
