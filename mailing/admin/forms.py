"""Admin-only forms: the campaign's "Send or schedule…" form and the CSV import form."""

from django import forms
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.widgets import AdminDateTimeInput

from mailing.models import MailingList
from mailing.spreadsheets import DELIMITER_CHOICES, ENCODING_CHOICES


class SendForm(forms.Form):
    lists = forms.ModelMultipleChoiceField(
        queryset=MailingList.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Lists"),
    )
    send_at = forms.DateTimeField(
        required=False,
        widget=AdminDateTimeInput,
        label=_("Send at"),
    )
    test_to = forms.CharField(
        required=False,
        label=_("Send a test to"),
        help_text=_("Addresses separated by commas."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone = timezone.get_current_timezone_name()
        self.fields["send_at"].help_text = _(
            "Leave empty to send now. Times are in the %(zone)s time zone."
        ) % {"zone": self.time_zone}

    def clean_test_to(self):
        addresses = [a.strip() for a in self.cleaned_data["test_to"].split(",") if a.strip()]
        for address in addresses:
            validate_email(address)
        return addresses


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
