"""Test sends: the issue's latest saved draft to a few addresses now, built like a real
send, with links that lead to pages saying it was a test.

Lists only ever get the published revision (``mailing.campaigns``); a test shows what
the editor is working on, and says in its subject when that is not what lists would get.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.mail import get_connection
from django.core.mail.message import make_msgid
from django.urls import reverse
from django.utils.translation import gettext as _

from cms.links import site_url
from mailing.models import Campaign
from mailing.sending import message as msg
from newsletters.checks import has_line_break
from newsletters.rendering import Personaliser, render_email

# The signed address of a test's web copy works this long (seconds).
TEST_COPY_MAX_AGE = 30 * 24 * 3600
TEST_COPY_SALT = "mailing.test-copy"


class TestSendError(ValueError):
    """Why a test cannot go out, in words for the editor."""

    __test__ = False  # not a pytest class


@dataclass(frozen=True)
class TestSend:
    sent: int
    # True when the test showed a draft that lists would not get as it is.
    draft: bool

    __test__ = False


def test_limit() -> int:
    return getattr(settings, "SENDING_TEST_MAX_RECIPIENTS", 10)


def shows_draft(page) -> bool:
    """True when the latest saved revision is not the published one."""
    latest = page.latest_revision
    return not page.live or (latest is not None and latest.pk != page.live_revision_id)


def test_copy_url(revision_id: int) -> str:
    token = signing.dumps({"r": revision_id}, salt=TEST_COPY_SALT, compress=False)
    return site_url(reverse("mailing:test_copy", args=[token]))


def read_test_copy_token(token: str) -> int | None:
    """The revision id a test copy's address names; None when forged or expired."""
    try:
        payload = signing.loads(token, salt=TEST_COPY_SALT, max_age=TEST_COPY_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    revision = payload.get("r") if isinstance(payload, dict) else None
    return revision if isinstance(revision, int) else None


def test_link_url(what: str) -> str:
    return site_url(reverse("mailing:test_link", args=[what]))


def send_test(page, addresses: list[str], *, lists=None) -> TestSend:
    """Send the page's latest saved revision to these addresses now: no worker, no list,
    no ledger. Raises TestSendError when it cannot go (too many addresses, a subject that
    would break its header)."""
    if len(addresses) > test_limit():
        raise TestSendError(_("A test goes to %(n)s addresses at most.") % {"n": test_limit()})
    page = page.specific_class.objects.get(pk=page.pk)  # its revisions as saved now
    revision = page.latest_revision
    rendered = render_email(revision.as_object() if revision else page)
    if has_line_break(rendered.subject):
        raise TestSendError(
            _("The subject line holds a line break: put it on one line and save the issue.")
        )
    draft = shows_draft(page)
    label = _("[Test, draft]") if draft else _("[Test]")
    first = lists.first() if lists is not None else None
    from_name, from_email, reply_to = msg.sender_address(first)
    # Never saved: it only carries what the message builders read from a campaign.
    campaign = Campaign(
        page=page,
        subject=f"{label} {rendered.subject}",
        from_name=from_name,
        from_email=from_email,
        reply_to=reply_to,
    )
    unsubscribe_url = test_link_url("unsubscribe")
    try:
        headers = msg.headers(
            campaign, unsubscribe_url=unsubscribe_url, list_id=msg.list_id(first, from_name)
        )
    except msg.UnsafeHeader as exc:
        # A value saved before the editors' forms refused line breaks (sender, list name).
        raise TestSendError(
            _("This test cannot be sent: %(problem)s. Correct it and save.") % {"problem": exc}
        ) from exc
    text, html = Personaliser(rendered.text), Personaliser(rendered.html, html=True)
    web_url = test_copy_url(revision.pk) if revision else settings.SITE_URL
    messages = []
    for address in addresses:
        values = msg.personal_values(
            name="",
            email=address,
            unsubscribe_url=unsubscribe_url,
            preferences_url=test_link_url("preferences"),
            web_url=web_url,
        )
        message = msg.django_message(
            campaign,
            {**headers, "Message-ID": make_msgid("test", domain=msg.site_domain())},
            to=[address],
            text=text.fill(values),
            html=html.fill(values),
        )
        message.tags = ["newsletter-test"]
        messages.append(message)
    return TestSend(sent=get_connection().send_messages(messages) or 0, draft=draft)
