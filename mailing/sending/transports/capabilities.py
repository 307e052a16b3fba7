"""What each ESP accepts through anymail: one table (``ESPS``) every transport reads.

``tests/mailing/esp/`` checks it against anymail's own backends, so an anymail upgrade
that changes a capability fails a test instead of wedging a campaign.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from mailing.models import Campaign


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
