"""ESP batch sends: one API call for many recipients, their values as anymail merge_data."""

from __future__ import annotations

import logging

from django.conf import settings

from mailing.models import Campaign
from mailing.sending import message as msg
from mailing.sending.ledger import Recipient
from mailing.sending.transports.backend import BackendTransport
from mailing.sending.transports.base import Outcome, Permanent, Transient, outcome

logger = logging.getLogger(__name__)

# Inline merge-field syntax of ESPs whose batch sends fill per-recipient values into the
# message (anymail ``merge_data``); None: the field is named by our placeholder itself.
# ESPs missing here (postmark, amazon_ses: templates only) get one message per recipient.
MERGE_FORMATS = {
    "mailgun": "%recipient.{}%",
    "mailjet": "[[var:{}]]",
    "sparkpost": "{{{{{}}}}}",
    "brevo": "{{{{ params.{} }}}}",
    "mandrill": "*|{}|*",
    "sendgrid": None,
    "test": None,
}
MISSING = object()


def esp_merge_format(backend: str | None = None):
    """The merge-field format of the configured anymail ESP, or MISSING when it has none."""
    backend = backend or settings.EMAIL_BACKEND
    if not backend.startswith("anymail.backends."):
        return MISSING
    return MERGE_FORMATS.get(backend.split(".")[2], MISSING)


class BatchTransport(BackendTransport):
    """One ESP API call for many recipients: anymail merge_data, merge_headers, merge_metadata.

    An ESP that cannot batch what we need (AnymailUnsupportedFeature) gets one message
    per recipient from then on, through the backend transport this one extends.
    """

    def __init__(self, campaign: Campaign, field_format, batch_size: int):
        super().__init__(campaign)
        self.format = field_format
        self.batch_size = batch_size
        self.one_by_one = False
        self.batch_text, self.batch_html = campaign.text, msg.html_template(campaign.html)
        for key, placeholder in msg.FIELDS.items():
            self.batch_text = self.batch_text.replace(placeholder, self.field(key))
            self.batch_html = self.batch_html.replace(placeholder, self.field(key))

    def field(self, key):
        return self.format.format(key) if self.format else msg.FIELDS[key]

    def key(self, key):
        return key if self.format else msg.FIELDS[key]

    def send(self, batch: list[Recipient]) -> list[Outcome]:
        from anymail.exceptions import AnymailUnsupportedFeature

        if self.one_by_one:
            return super().send(batch)
        message = self.build_batch(batch)
        try:
            self.post(message)
        except AnymailUnsupportedFeature:
            # Raised while the ESP's payload is built: nothing went out yet.
            logger.warning("ESP batch sending unsupported; sending one by one")
            self.one_by_one, self.batch_size = True, 1
            return super().send(batch)
        except (Transient, Permanent) as exc:
            return [outcome(recipient, exc) for recipient in batch]
        statuses = message.anymail_status.recipients
        results = []
        for recipient in batch:
            status = statuses.get(recipient.email)
            if getattr(status, "status", "") in {"rejected", "invalid"}:
                results.append(Outcome.failed(recipient, "refused by the provider"))
            else:
                message_id = str(getattr(status, "message_id", "") or "")
                results.append(Outcome.sent(recipient, message_id))
        return results

    def build_batch(self, batch: list[Recipient]):
        campaign = self.campaign
        message = msg.django_message(
            campaign,
            msg.headers(campaign, list_id=self.list_id),
            to=[r.email for r in batch],
            text=self.batch_text,
            html=self.batch_html,
        )
        data, headers, metadata = {}, {}, {}
        for r in batch:
            values = msg.recipient_values(r, self.web_url)
            del values["web_url"]  # the same for everyone: merge_global_data
            data[r.email] = {self.key(k): v for k, v in values.items()}
            headers[r.email] = {"List-Unsubscribe": f"<{values['unsubscribe_url']}>"}
            metadata[r.email] = {"delivery": str(r.delivery_id)}
        message.merge_data = data
        message.merge_global_data = {self.key("web_url"): self.web_url}
        message.merge_headers = headers
        message.merge_metadata = metadata
        message.metadata = {"campaign": str(campaign.pk)}
        message.tags = ["newsletter", f"campaign-{campaign.pk}"]
        return message
