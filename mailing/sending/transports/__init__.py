"""Transports behind one contract (``base.Transport``) and the choice of one for a campaign."""

import logging

from django.conf import settings

from mailing.models import Campaign
from mailing.sending.message import MessageTemplate
from mailing.sending.transports.backend import BackendTransport
from mailing.sending.transports.base import Outcome, Transport
from mailing.sending.transports.esp import MISSING, BatchTransport, esp_merge_format
from mailing.sending.transports.smtp import SmtpTransport

__all__ = ["Outcome", "Transport", "transport_for"]

logger = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def transport_for(campaign: Campaign) -> Transport:
    """Raw SMTP for Django's SMTP backend, ESP batches where anymail can, else one by one."""
    if settings.EMAIL_BACKEND == SMTP_BACKEND:
        try:
            return SmtpTransport(MessageTemplate.build(campaign))
        except ValueError:
            # A line too long for 8bit with nowhere safe to break it: let Django's
            # email package encode each message instead (slower, still correct).
            logger.warning("campaign %s: sending without the prebuilt message", campaign.pk)
            return BackendTransport(campaign)
    merge_format = esp_merge_format()
    batch_size = getattr(settings, "SENDING_ESP_BATCH_SIZE", 500)
    if merge_format is not MISSING and batch_size > 1:
        return BatchTransport(campaign, merge_format, batch_size)
    return BackendTransport(campaign)
