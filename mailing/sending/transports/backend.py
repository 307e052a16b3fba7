"""Any Django or anymail backend: one ``EmailMultiAlternatives`` per recipient."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable

from django.core.mail import get_connection
from django.core.mail.message import BadHeaderError

from mailing.links import Tracking
from mailing.models import Campaign
from mailing.sending import message as msg
from mailing.sending.ledger import Recipient
from mailing.sending.transports.base import (
    Fatal,
    Outcome,
    Permanent,
    Transient,
    Transport,
    nothing_to_settle,
    outcome,
    smtp_error,
)
from mailing.sending.transports.capabilities import Capabilities, capabilities, esp_name, tags
from newsletters.rendering import Personaliser

logger = logging.getLogger(__name__)

# An ESP that answers these refuses our credentials or account, not one recipient.
REFUSED_KEY = {401, 403}
# Per-recipient statuses (anymail's) that mean this recipient was not sent to.
REFUSED = {"rejected", "invalid", "failed"}
# ESPs that say so in the body instead (Mandrill answers 500, Postal 200).
REFUSED_KEY_NAMES = {"Invalid_Key", "InvalidServerAPIKey", "AccessDenied"}


class BackendTransport(Transport):
    """Builds one message per recipient and posts it on one reused backend connection.

    ``caps``: what the ESP accepts (``esp.Capabilities``); tags and metadata are cut to fit.
    """

    def __init__(self, campaign: Campaign, caps: Capabilities | None = None):
        self.campaign = campaign
        self.caps = caps or capabilities()
        self.tags = tags(campaign, self.caps)
        # An ESP handles bounces with its own return path; a mail server needs ours (VERP).
        self.verp = esp_name() is None
        self.connection = None
        self.web_url = msg.web_url(campaign)
        self.list_id = msg.list_id_header(campaign)
        # Split at the placeholders once per campaign, not once per message.
        self.tracking = Tracking(campaign)
        extra = self.tracking.placeholders
        self.text = Personaliser(self.tracking.text, extra=extra)
        self.html = Personaliser(self.tracking.html, html=True, extra=extra)

    def send(
        self, batch: list[Recipient], before_delivery: Callable[[], None] = nothing_to_settle
    ) -> list[Outcome]:
        results = []
        for recipient in batch:
            try:
                message = self.build(recipient)
                before_delivery()
                provider_id = self.post(message)
            except (Transient, Permanent) as exc:
                results.append(outcome(recipient, exc))
            else:
                results.append(Outcome.sent(recipient, provider_id))
        return results

    def build(self, recipient: Recipient):
        campaign = self.campaign
        values = msg.recipient_values(recipient, self.web_url, self.tracking)
        try:
            message = msg.django_message(
                campaign,
                msg.headers(
                    campaign,
                    unsubscribe_url=values["unsubscribe_url"],
                    message_id=msg.message_id(campaign, recipient.delivery_id),
                    list_id=self.list_id,
                ),
                to=[msg.address_header(values["name"], values["email"])],
                text=self.text.fill(values),
                html=self.html.fill(values),
                envelope_sender=msg.bounce_address(recipient.delivery_id) if self.verp else "",
            )
        except msg.UnsafeHeader as exc:
            raise Permanent(str(exc)) from exc
        if self.caps.metadata:
            # Webhooks carry these back (mailing.tracking maps them to the delivery).
            message.metadata = {
                "campaign": str(campaign.pk),
                "delivery": str(recipient.delivery_id),
            }
        message.tags = self.tags
        return message

    def open(self):
        from anymail.exceptions import AnymailConfigurationError

        try:
            self.connection = get_connection()
            self.connection.open()
        except AnymailConfigurationError as exc:
            # A missing key or package: no message can go out until someone fixes it.
            raise Fatal(str(exc)[:2000]) from exc

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # noqa: BLE001 - closing must never lose the results
                logger.exception("closing the mail connection")
        self.connection = None

    def post(self, message) -> str:
        """Send one message; its provider id, or Transient/Permanent/Fatal from the answer."""
        from anymail.exceptions import AnymailError, AnymailUnsupportedFeature

        if self.connection is None:
            self.open()
        message.connection = self.connection
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise smtp_error(code, text, recipient=True) from exc
        except smtplib.SMTPDataError as exc:
            raise smtp_error(exc.smtp_code, exc.smtp_error, recipient=True) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise smtp_error(exc.smtp_code, exc.smtp_error) from exc
        except AnymailUnsupportedFeature:
            if len(message.to) > 1:
                raise  # a batch: the caller falls back to one message each
            raise self.unsupported(message) from None
        except AnymailError as exc:
            # Before OSError: anymail's API errors are requests' (IOError) too.
            raise anymail_error(exc) from exc
        except BadHeaderError as exc:
            # Django refuses a header with a line break: this message can never go.
            raise Permanent(f"bad header: {exc}"[:2000]) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise Transient(f"connection lost: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - an unknown backend's error: try again later
            raise Transient(f"{type(exc).__name__}: {exc}"[:2000]) from exc
        status = getattr(message, "anymail_status", None)
        if status is not None and status.status and status.status <= REFUSED:
            raise Permanent(f"refused by the provider: {', '.join(sorted(status.status))}")
        return (status.message_id if status is not None else "") or ""

    def unsupported(self, message) -> Exception:
        """Fatal when the campaign's own message needs a feature the ESP lacks, else
        Permanent: only this recipient's values (an address it cannot take) are at fault."""
        from anymail.exceptions import AnymailUnsupportedFeature

        neutral = Recipient(0, 0, "probe@example.com", "", None, 0)
        try:
            probe = self.build(neutral)
            self.connection.build_message_payload(probe, self.connection.send_defaults)
        except AnymailUnsupportedFeature as exc:
            return Fatal(f"the ESP cannot send this campaign: {exc}"[:2000])
        except Exception:  # noqa: BLE001 - the probe only tells whose fault it is
            logger.exception("probing an unsupported ESP feature")
        return Permanent("the ESP cannot send to this recipient's address or name")


def status_code(exc) -> int | None:
    """The HTTP status of an ESP's answer: anymail's, else boto3's (Amazon SES)."""
    code = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if code is None and isinstance(response, dict):
        code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code


def error_name(exc) -> str:
    """The ESP's own error name in a JSON answer (Mandrill's ``name``, Postal's ``code``)."""
    response = getattr(exc, "response", None)
    try:
        body = response.json()
    except Exception:  # noqa: BLE001 - no JSON body: no name
        return ""
    if not isinstance(body, dict):
        return ""
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    return str(body.get("name") or data.get("code") or "")


def anymail_error(exc: Exception) -> Exception:
    """Transient for 429, 5xx and lost connections; Fatal for a refused key; else Permanent."""
    from anymail.exceptions import AnymailRecipientsRefused

    reason = str(exc)[:2000]
    if isinstance(exc, AnymailRecipientsRefused):
        return Permanent(reason)
    code = status_code(exc)
    if code in REFUSED_KEY or error_name(exc) in REFUSED_KEY_NAMES:
        return Fatal(f"the ESP refused the credentials ({code}): {reason}"[:2000])
    if code is None or code == 429 or code >= 500:
        return Transient(reason)
    return Permanent(reason)
