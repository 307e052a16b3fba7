"""ESP batch sends: one API call for many recipients, their values as anymail merge_data.

What each ESP accepts lives in ``capabilities`` (re-exported here).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mailing.models import Campaign
from mailing.sending import message as msg
from mailing.sending.ledger import Recipient
from mailing.sending.transports.backend import REFUSED, BackendTransport
from mailing.sending.transports.base import (
    Outcome,
    Permanent,
    Transient,
    nothing_to_settle,
    outcome,
)
from mailing.sending.transports.capabilities import (  # noqa: F401 - re-exported
    ALIASES,
    ESPS,
    PLAIN,
    Capabilities,
    capabilities,
    esp_name,
    tags,
)

logger = logging.getLogger(__name__)


class BatchTransport(BackendTransport):
    """One ESP API call for many recipients: anymail merge_data, merge_headers, merge_metadata.

    An ESP that still refuses a batch (AnymailUnsupportedFeature) gets one message per
    recipient from then on, through the backend transport this one extends.
    """

    def __init__(self, campaign: Campaign, caps: Capabilities, batch_size: int):
        super().__init__(campaign, caps)
        self.format = caps.merge_field
        self.batch_size = min(batch_size, caps.batch_size)
        self.one_by_one = False
        # Each tracked link (and the open pixel) is a merge field too.
        self.fields = {**msg.FIELDS, **self.tracking.placeholders}
        self.batch_text = self.tracking.text
        self.batch_html = msg.html_template(self.tracking.html)
        for key, placeholder in self.fields.items():
            self.batch_text = self.batch_text.replace(placeholder, self.field(key))
            self.batch_html = self.batch_html.replace(placeholder, self.field(key))

    def field(self, key):
        return self.format.format(key) if self.format else self.fields[key]

    def key(self, key):
        return key if self.format else self.fields[key]

    def send(
        self, batch: list[Recipient], before_delivery: Callable[[], None] = nothing_to_settle
    ) -> list[Outcome]:
        from anymail.exceptions import AnymailUnsupportedFeature

        if self.one_by_one:
            return super().send(batch, before_delivery)
        try:
            message = self.build_batch(batch)
            before_delivery()
            self.post(message)
        except AnymailUnsupportedFeature:
            # Raised while the ESP's payload is built: nothing went out yet.
            logger.warning("ESP batch sending unsupported; sending one by one")
            self.one_by_one, self.batch_size = True, 1
            return super().send(batch, before_delivery)
        except Permanent as exc:
            if len(batch) == 1:
                return [outcome(batch[0], exc)]
            # Some ESPs refuse a whole call for one bad address (Mailgun, Brevo,
            # SendGrid answer 400): send this batch one by one so that only that
            # recipient fails.
            return super().send(batch, before_delivery)
        except Transient as exc:
            return [outcome(recipient, exc) for recipient in batch]
        statuses = message.anymail_status.recipients
        results = []
        for recipient in batch:
            status = statuses.get(recipient.email)
            if getattr(status, "status", "") in REFUSED:
                results.append(
                    Outcome.failed(recipient, f"refused by the provider: {status.status}")
                )
            else:
                message_id = str(getattr(status, "message_id", "") or "")
                results.append(Outcome.sent(recipient, message_id))
        return results

    def build_batch(self, batch: list[Recipient]):
        campaign = self.campaign
        data, headers, metadata = {}, {}, {}
        for r in batch:
            values = msg.recipient_values(r, self.web_url, self.tracking)
            del values["web_url"]  # the same for everyone: merge_global_data
            data[r.email] = {self.key(k): v for k, v in values.items()}
            headers[r.email] = {"List-Unsubscribe": f"<{values['unsubscribe_url']}>"}
            metadata[r.email] = {"delivery": str(r.delivery_id)}
        message = msg.django_message(
            campaign,
            msg.headers(campaign, list_id=self.list_id),
            to=[r.email for r in batch],
            text=self.batch_text,
            html=self.batch_html,
        )
        message.merge_data = data
        message.merge_global_data = {self.key("web_url"): self.web_url}
        message.merge_headers = headers
        message.merge_metadata = metadata
        message.metadata = {"campaign": str(campaign.pk)}
        message.tags = tags(campaign, self.caps)
        return message
