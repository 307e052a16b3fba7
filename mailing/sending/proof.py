"""Test sends: the issue to a few addresses now, built like a real send but with test values."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import get_connection

from mailing.campaigns import pinned_revision
from mailing.models import Campaign
from mailing.sending import message as msg
from newsletters.rendering import Personaliser, render_email


def send_test(page, addresses: list[str], *, lists=None) -> int:
    """Send the page's current revision to these addresses now: no worker, no list, no ledger."""
    revision = pinned_revision(page)
    rendered = render_email(revision.as_object() if revision else page)
    first = lists.first() if lists is not None else None
    from_name, from_email, reply_to = msg.sender_address(first)
    # Never saved: it only carries what the message builders read from a campaign.
    campaign = Campaign(
        page=page,
        subject=f"[Test] {rendered.subject}",
        from_name=from_name,
        from_email=from_email,
        reply_to=reply_to,
    )
    unsubscribe_url = f"{settings.SITE_URL}/subscriptions/unsubscribe/test/"
    headers = msg.headers(
        campaign,
        unsubscribe_url=unsubscribe_url,
        list_id=msg.list_id(first, from_name),
    )
    text, html = Personaliser(rendered.text), Personaliser(rendered.html, html=True)
    messages = []
    for address in addresses:
        values = msg.personal_values(
            name="",
            email=address,
            unsubscribe_url=unsubscribe_url,
            preferences_url=f"{settings.SITE_URL}/subscriptions/preferences/test/",
            web_url=settings.SITE_URL,
        )
        message = msg.django_message(
            campaign, headers, to=[address], text=text.fill(values), html=html.fill(values)
        )
        message.tags = ["newsletter-test"]
        messages.append(message)
    return get_connection().send_messages(messages) or 0
