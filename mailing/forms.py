"""Subscriber-facing forms: signup (JSON or form-encoded) and the preference centre."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from mailing.models import MailingList
from mailing.subscriptions import clean_email, language_code

#: The honeypot: hidden from people by the signup form, filled in by bots.
HONEYPOT_FIELD = "website"


class SignupForm(forms.Form):
    email = forms.CharField(max_length=320)
    name = forms.CharField(max_length=200, required=False)
    language = forms.CharField(max_length=10, required=False)
    consent = forms.CharField(max_length=2000, required=False)
    lists = forms.Field(required=False)
    website = forms.CharField(required=False)

    def clean_email(self):
        return clean_email(self.cleaned_data["email"])

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
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError(_("Give the lists as a list of names."), code="invalid")
        slugs = {v.strip() for v in value if v.strip()}
        # Internal lists are treated as unknown: their names are not public.
        found = list(MailingList.objects.filter(is_public=True, slug__in=slugs))
        unknown = slugs - {m.slug for m in found}
        if unknown or not found:
            raise ValidationError(
                _("Unknown list: %(lists)s"),
                code="unknown_list",
                params={"lists": ", ".join(sorted(unknown)) or "-"},
            )
        return found

    def is_bot(self) -> bool:
        return bool((self.data.get(HONEYPOT_FIELD) or "").strip())


class PreferencesForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=200, required=False)
    language = forms.ChoiceField(label=_("Language of our emails"), choices=())
    lists = forms.ModelMultipleChoiceField(
        label=_("Lists you receive"),
        queryset=MailingList.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args, list_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = settings.LANGUAGES
        self.fields["lists"].queryset = MailingList.objects.filter(
            pk__in=[m.pk for m in list_choices]
        ).order_by("name")
