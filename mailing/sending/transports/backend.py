"""Any Django or anymail backend: one ``EmailMultiAlternatives`` per recipient."""

from __future__ import annotations

import logging
import smtplib
from email.utils import formataddr

from django.core.mail import get_connection

from mailing.models import Campaign
from mailing.sending import message as msg
from mailing.sending.ledger import Recipient
from mailing.sending.transports.base import (
    Outcome,
    Permanent,
    Transient,
    Transport,
    outcome,
    smtp_error,
)
from newsletters.rendering import Personaliser

logger = logging.getLogger(__name__)


class BackendTransport(Transport):
    """Builds one message per recipient and posts it on one reused backend connection."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.connection = None
        self.web_url = msg.web_url(campaign)
        self.list_id = msg.list_id_header(campaign)
        # Split at the placeholders once per campaign, not once per message.
        self.text = Personaliser(campaign.text)
        self.html = Personaliser(campaign.html, html=True)

    def send(self, batch: list[Recipient]) -> list[Outcome]:
        results = []
        for recipient in batch:
            try:
                provider_id = self.post(self.build(recipient))
            except (Transient, Permanent) as exc:
                results.append(outcome(recipient, exc))
            else:
                results.append(Outcome.sent(recipient, provider_id))
        return results

    def build(self, recipient: Recipient):
        campaign = self.campaign
        values = msg.recipient_values(recipient, self.web_url)
        message = msg.django_message(
            campaign,
            msg.headers(
                campaign,
                unsubscribe_url=values["unsubscribe_url"],
                message_id=msg.message_id(campaign, recipient.delivery_id),
                list_id=self.list_id,
            ),
            to=[formataddr((values["name"], values["email"]))],
            text=self.text.fill(values),
            html=self.html.fill(values),
        )
        # anymail: webhooks carry these back (mailing.tracking maps them to the delivery).
        message.metadata = {"campaign": str(campaign.pk), "delivery": str(recipient.delivery_id)}
        message.tags = ["newsletter", f"campaign-{campaign.pk}"]
        return message

    def open(self):
        self.connection = get_connection()
        self.connection.open()

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # noqa: BLE001 - closing must never lose the results
                logger.exception("closing the mail connection")
        self.connection = None

    def post(self, message) -> str:
        """Send one message; its provider id, or Transient/Permanent from the answer."""
        if self.connection is None:
            self.open()
        message.connection = self.connection
        try:
            message.send()
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise smtp_error(code, text) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise smtp_error(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise Transient(f"connection lost: {exc}") from exc
        except Exception as exc:
            from anymail.exceptions import AnymailUnsupportedFeature

            if isinstance(exc, AnymailUnsupportedFeature):
                raise
            raise anymail_error(exc) from exc
        status = getattr(message, "anymail_status", None)
        if status is not None and status.status and status.status <= {"rejected", "invalid"}:
            raise Permanent(f"refused by the provider: {', '.join(sorted(status.status))}")
        return (status.message_id if status is not None else "") or ""


def anymail_error(exc: Exception) -> Exception:
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

    if isinstance(exc, AnymailRecipientsRefused):
        return Permanent(str(exc)[:500])
    if isinstance(exc, AnymailAPIError):
        code = getattr(exc, "status_code", None)
        if code is None or code == 429 or code >= 500:
            return Transient(str(exc)[:500])
        return Permanent(str(exc)[:500])
    return Transient(f"{type(exc).__name__}: {exc}"[:500])
