"""Admin-only forms: the campaign's "Send or schedule…" form and the CSV import form."""

import re
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.widgets import AdminDateTimeInput

from mailing.models import MailingList, Segment
from mailing.spreadsheets import DELIMITER_CHOICES, ENCODING_CHOICES


class SendForm(forms.Form):
    """ "Send or schedule…": lists, time and version for a send, or addresses for a test.

    ``action`` ("send" or "test", the button pressed) decides which fields count: a
    half-typed test address never stops a send, nor an unticked list a test.
    """

    PUBLISHED, PUBLISH = "published", "publish"

    lists = forms.ModelMultipleChoiceField(
        queryset=MailingList.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Lists"),
    )
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.all(),
        required=False,
        empty_label=_("Everyone on the lists"),
        label=_("Segment"),
        help_text=_("Only the subscribers of the lists whom this segment selects."),
    )
    send_at = forms.DateTimeField(
        required=False,
        widget=AdminDateTimeInput,
        label=_("Send at"),
    )
    version = forms.ChoiceField(
        choices=[
            (PUBLISHED, _("Send the published version")),
            (PUBLISH, _("Publish the latest changes, then send")),
        ],
        widget=forms.RadioSelect,
        required=False,
        initial=PUBLISHED,
        label=_("Which version"),
    )
    test_to = forms.CharField(
        required=False,
        label=_("Send a test to"),
        widget=forms.TextInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args, action="", test_limit=10, **kwargs):
        super().__init__(*args, **kwargs)
        self.action = action
        self.test_limit = test_limit
        self.time_zone = timezone.get_current_timezone_name()
        self.fields["send_at"].help_text = _(
            "Leave empty to send now. Times are in the %(zone)s time zone."
        ) % {"zone": self.time_zone}
        self.fields["test_to"].help_text = _(
            "Up to %(n)s addresses, separated by commas. Tests show the latest saved draft."
        ) % {"n": test_limit}

    def clean_lists(self):
        lists = self.cleaned_data["lists"]
        if self.action == "send" and not lists:
            raise ValidationError(_("Choose at least one list."))
        return lists

    def clean_send_at(self):
        moment = self.cleaned_data["send_at"]
        # A minute's grace: the editor may have picked "now" from the calendar.
        if self.action == "send" and moment and moment < timezone.now() - timedelta(minutes=1):
            raise ValidationError(
                _("This time has passed: leave it empty to send now, or choose a later time.")
            )
        return moment

    def clean_version(self):
        return self.cleaned_data["version"] or self.PUBLISHED

    def clean_test_to(self):
        if self.action != "test":
            return []
        addresses = [a for a in re.split(r"[,;\s]+", self.cleaned_data["test_to"]) if a]
        if not addresses:
            raise ValidationError(_("Give at least one address for the test."))
        if len(addresses) > self.test_limit:
            raise ValidationError(
                _("A test goes to %(n)s addresses at most.") % {"n": self.test_limit}
            )
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(
                    _("“%(address)s” is not an email address.") % {"address": address[:100]}
                ) from None
        return list(dict.fromkeys(addresses))


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "A CSV or text file with a header row, as Excel, LibreOffice or another mailing "
            "tool (Mailchimp, listmonk, Ghost, Substack, Brevo, Buttondown) exports it. "
            "The next page shows how it will be read before anything is imported."
        ),
    )
    mailing_list = forms.ModelChoiceField(
        label=_("Import into list"), queryset=MailingList.objects.all()
    )
    confirmed = forms.BooleanField(
        label=_("These people have already given their consent"),
        help_text=_(
            "Ticked: subscriptions are confirmed at once. Only tick this if you hold a "
            "record of each person's consent. Not ticked: they wait for confirmation, and "
            "the import report can send them the confirmation email. People the file "
            "shows as unsubscribed, bounced or unconfirmed are never confirmed."
        ),
        required=False,
    )
    encoding = forms.ChoiceField(
        label=_("Encoding"),
        choices=[("", _("Detect automatically")), *ENCODING_CHOICES],
        required=False,
        help_text=_("Choose one only if the preview shows garbled letters."),
    )
    delimiter = forms.ChoiceField(
        label=_("Columns separated by"),
        choices=[("", _("Detect automatically")), *DELIMITER_CHOICES],
        required=False,
    )


MAX_ID = 2**63 - 1  # the largest BigAutoField


def _past_every_id(value) -> bool:
    text = str(value or "").strip()
    return text.isascii() and text.isdigit() and int(text) > MAX_ID


class BoundedChoicesForm(WagtailAdminModelForm):
    """A snippet form whose related-object fields refuse ids past every database integer
    with a form error. Django's field and Wagtail's chooser widget would look such a
    number up, and SQLite raises OverflowError: a 500."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.out_of_range = []
        if not self.is_bound:
            return
        data = self.data.copy()
        for name, field in self.fields.items():
            single = isinstance(field, forms.ModelChoiceField) and not isinstance(
                field, forms.ModelMultipleChoiceField
            )
            key = self.add_prefix(name)
            if single and _past_every_id(data.get(key)):
                data[key] = ""  # neither looked up nor shown again
                self.out_of_range.append(name)
        self.data = data

    def clean(self):
        cleaned = super().clean()
        for name in self.out_of_range:
            self.add_error(
                name, ValidationError(self.fields[name].error_messages["invalid_choice"])
            )
        return cleaned
