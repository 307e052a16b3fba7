"""Models of the mailing app, one module per concern."""

from mailing.models.audience import (  # noqa: F401
    MailingList,
    Subscriber,
    SubscriberEvent,
    Subscription,
    Suppression,
    email_hash,
    email_identity,
    legacy_email_hash,
    normalise_email,
    search_key,
)
from mailing.models.bounces import Bounce, BounceMessage  # noqa: F401, E402
from mailing.models.campaigns import Campaign, Delivery, DeliveryEvent  # noqa: F401, E402
