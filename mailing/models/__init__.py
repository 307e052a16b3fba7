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
from mailing.models.campaigns import (  # noqa: F401, E402
    Campaign,
    CampaignVariant,
    Delivery,
    DeliveryEvent,
)
from mailing.models.digests import DigestSchedule  # noqa: F401, E402
from mailing.models.segments import Segment  # noqa: F401, E402
from mailing.models.tracking import CampaignLink, Engagement  # noqa: F401, E402
