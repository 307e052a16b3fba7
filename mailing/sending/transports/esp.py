"""ESPs through anymail: what each one can carry (one table) and batch sends with merge_data.

``ESPS`` is the only place that knows what an ESP accepts; ``tests/mailing/esp/``
checks it against anymail's own backends, so an anymail upgrade that changes a
capability fails a test instead of wedging a campaign.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from mailing.models import Campaign
from mailing.sending import message as msg
from mailing.sending.ledger import Recipient
from mailing.sending.transports.backend import REFUSED, BackendTransport
from mailing.sending.transports.base import Outcome, Permanent, Transient, outcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capabilities:
    """What one ESP's API (through anymail) accepts on a message.

    ``tags``: most tags a message may carry (None: no limit we would reach).
    ``metadata``: anymail metadata travels with the message and back in webhooks;
    without it, webhooks map back by the provider's message id.
    ``merge_field``: the inline merge-field syntax its batch sends fill per recipient
    (``""``: our placeholders as they are); None: no batch without a stored template,
    so one API call per recipient.
    ``batch_size``: recipients per API call at most (the ESP's documented limit).
    ``merge_headers``: per-recipient headers (List-Unsubscribe) in a batch.
    """

    tags: int | None = None
    metadata: bool = True
    merge_field: str | None = None
    batch_size: int = 1
    merge_headers: bool = False

    @property
    def batches(self) -> bool:
        # Without per-recipient List-Unsubscribe a batch would break one-click unsubscribe.
        return self.merge_field is not None and self.merge_headers and self.batch_size > 1


ESPS = {
    # SES: tags and metadata travel as X-Tag / X-Metadata headers; merge data needs a
    # stored SES template.
    "amazon_ses": Capabilities(),
    "brevo": Capabilities(
        merge_field="{{{{ params.{} }}}}", batch_size=1000, merge_headers=True
    ),  # messageVersions: 1000 a call
    "mailersend": Capabilities(tags=5, metadata=False),
    "mailgun": Capabilities(
        tags=3, merge_field="%recipient.{}%", batch_size=1000, merge_headers=True
    ),  # 1000 recipients a call, 3 tags a message
    "mailjet": Capabilities(
        tags=1, merge_field="[[var:{}]]", batch_size=50, merge_headers=True
    ),  # Send API v3.1: 50 messages a call
    # Mailtrap fills merge data into stored templates only.
    "mailtrap": Capabilities(tags=1),
    # Mandrill batches merge data but not per-recipient headers.
    "mandrill": Capabilities(),
    "postal": Capabilities(tags=1, metadata=False),
    # Postmark batches merge data into stored templates only.
    "postmark": Capabilities(tags=1),
    "resend": Capabilities(),
    "scaleway": Capabilities(),
    "sendgrid": Capabilities(
        tags=10, merge_field="", batch_size=1000, merge_headers=True
    ),  # personalizations: 1000 a call, categories: 10
    "sparkpost": Capabilities(
        tags=1, merge_field="{{{{{}}}}}", batch_size=1000, merge_headers=True
    ),
    "unisender_go": Capabilities(
        merge_field="{{{{{}}}}}", batch_size=500, merge_headers=True
    ),  # 500 recipients a call; the "simple" engine's {{substitutions}}
    # anymail's test backend (tests only) accepts everything.
    "test": Capabilities(merge_field="", batch_size=1000, merge_headers=True),
}
ALIASES = {"sendinblue": "brevo"}
# A Django backend that is no anymail ESP: one message each, nothing ESP-specific.
PLAIN = Capabilities()


def esp_name(backend: str | None = None) -> str | None:
    """The anymail ESP of ``backend`` (EMAIL_BACKEND by default), or None."""
    backend = backend or settings.EMAIL_BACKEND
    if not backend.startswith("anymail.backends."):
        return None
    name = backend.split(".")[2]
    return ALIASES.get(name, name)


def capabilities(backend: str | None = None) -> Capabilities:
    """The configured ESP's row of ``ESPS`` (an unknown ESP: the most cautious one)."""
    name = esp_name(backend)
    if name is None:
        return PLAIN
    return ESPS.get(name, Capabilities(tags=1))


def tags(campaign: Campaign, caps: Capabilities) -> list[str]:
    """The campaign's tags, most useful first, as many as the ESP takes."""
    wanted = [f"campaign-{campaign.pk}", "newsletter"]
    return wanted if caps.tags is None else wanted[: caps.tags]


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
        try:
            message = self.build_batch(batch)
            self.post(message)
        except AnymailUnsupportedFeature:
            # Raised while the ESP's payload is built: nothing went out yet.
            logger.warning("ESP batch sending unsupported; sending one by one")
            self.one_by_one, self.batch_size = True, 1
            return super().send(batch)
        except Permanent as exc:
            if len(batch) == 1:
                return [outcome(batch[0], exc)]
            # Some ESPs refuse a whole call for one bad address (Mailgun, Brevo,
            # SendGrid answer 400): send this batch one by one so that only that
            # recipient fails.
            return super().send(batch)
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
            values = msg.recipient_values(r, self.web_url)
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
