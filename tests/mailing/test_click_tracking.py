"""Click tracking, UTM tags and the open pixel, read from mail a real loopback SMTP server got."""

import json
import re
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.test.utils import override_settings

from mailing import campaigns, hits, links, tokens
from mailing.models import (
    Campaign,
    CampaignLink,
    Delivery,
    DeliveryEvent,
    Engagement,
    MailingList,
    Subscription,
)
from mailing.sending import sender
from tests.smtp import SmtpSink, smtp_settings

pytestmark = pytest.mark.django_db

SITE = "https://cms.example.org"
HREF_RE = re.compile(r'<a\b[^>]*?\shref="([^"]*)"', re.IGNORECASE)
TRACKED_RE = re.compile(r"^https://cms\.example\.org(/t/[^/]+/)$")


@pytest.fixture(autouse=True)
def spool(tmp_path, settings):
    settings.TRACKING_SPOOL_DIR = tmp_path / "spool"
    settings.REDIS_URL = ""
    links.target_of.cache_clear()
    return settings.TRACKING_SPOOL_DIR


@pytest.fixture
def sink():
    server = SmtpSink()
    recorder = server.start()
    with override_settings(**smtp_settings(server.port)):
        yield recorder
    server.stop()


def send(seeded, sink, *, utm=True, **list_settings):
    news = seeded["mailing_list"]
    if list_settings:
        MailingList.objects.filter(pk=news.pk).update(**list_settings)
    campaign = campaigns.create(seeded["newsletter"], [news])
    Campaign.objects.filter(pk=campaign.pk).update(utm=utm)
    campaign.refresh_from_db()
    assert campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    assert sender.run_sender(campaign.pk) == "done"
    campaign.refresh_from_db()
    return campaign


def parts(message):
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    return html, text


def hrefs(html):
    return [h.replace("&amp;", "&") for h in HREF_RE.findall(html)]


def path_of(url):
    match = TRACKED_RE.match(url)
    assert match, url
    return match.group(1)


def test_every_content_link_is_tracked_and_unsubscribe_links_never_are(seeded, sink, client):
    campaign = send(seeded, sink)
    assert campaign.track_clicks and not campaign.track_opens
    stored = list(campaign.links.all())
    assert stored, "the issue's links were registered"
    for rcpt, message in sink.parsed():
        html, text = parts(message)
        unsubscribe = message["List-Unsubscribe"].strip("<>")
        assert unsubscribe.startswith(f"{SITE}/subscriptions/unsubscribe/")
        found = hrefs(html)
        own = [h for h in found if "/subscriptions/" in h or "/newsletters/" in h]
        # The footer: unsubscribe (the header's own address), preferences, view in browser.
        assert unsubscribe in own
        assert any("/subscriptions/preferences/" in h for h in own)
        assert any(h.startswith(f"{SITE}/newsletters/{campaign.key}/") for h in own)
        content = [h for h in found if h not in own]
        assert content and all(TRACKED_RE.match(h) for h in content), content
        # The text part: the same tracked addresses, and its unsubscribe line untouched.
        text_links = re.findall(r"https?://[^\s)]+", text)
        assert unsubscribe in text_links
        assert {u for u in text_links if "/t/" in u} <= set(content) | {
            u for u in text_links if TRACKED_RE.match(u)
        }
        assert not [u for u in text_links if "example.org/interviews/" in u]
        # Every tracked address leads, for this reader, to one of the campaign's links.
        delivery = Delivery.objects.get(campaign=campaign, subscriber__email__iexact=rcpt)
        for url in set(content):
            d, link = links.read_click_token(path_of(url).split("/")[2])
            assert d == delivery.pk and link in {row.pk for row in stored}


def test_a_click_redirects_and_is_counted_once_flushed(seeded, sink, client):
    campaign = send(seeded, sink)
    rcpt, message = sink.parsed()[0]
    html, _text = parts(message)
    interview = next(
        h
        for h in hrefs(html)
        if TRACKED_RE.match(h)
        and "/interviews/"
        in CampaignLink.objects.get(pk=links.read_click_token(path_of(h).split("/")[2])[1]).url
    )
    response = client.get(path_of(interview))
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.netloc == "www.example.org" and target.path.startswith("/interviews/")
    assert parse_qs(target.query) == {
        "utm_source": ["newsletter"],
        "utm_medium": ["email"],
        "utm_campaign": [seeded["newsletter"].slug],
    }
    assert "no-store" in response["Cache-Control"]
    client.get(path_of(interview))  # the same reader again
    assert client.head(path_of(interview)).status_code == 302  # a scanner's probe: not a click
    assert not Engagement.objects.exists()  # queued, not yet written
    assert hits.flush() == 2
    assert Engagement.objects.filter(kind=Engagement.Kind.CLICK).count() == 2
    delivery = Delivery.objects.get(campaign=campaign, subscriber__email__iexact=rcpt)
    events = DeliveryEvent.objects.filter(delivery=delivery, kind=DeliveryEvent.Kind.CLICKED)
    assert events.count() == 1  # one per reader and link
    assert hits.flush() == 0


def test_the_redirect_writes_nothing_to_the_database(
    seeded, sink, client, django_assert_max_num_queries
):
    send(seeded, sink)
    _rcpt, message = sink.parsed()[0]
    url = next(h for h in hrefs(parts(message)[0]) if TRACKED_RE.match(h))
    client.get(path_of(url))  # the process learns the link
    with django_assert_max_num_queries(0):
        for _ in range(5):
            assert client.get(path_of(url)).status_code == 302


@pytest.mark.parametrize(
    "path",
    [
        "/t/1-1-AAAAAAAAAAAA/",
        "/t//evil.example/",
        "/t/%2F%2Fevil.example/",
        "/t/1-1-AAAAAAAAAAAA%0d%0aLocation:%20https://evil.example/",
        "/t/１-１-AAAAAAAAAAAA/",
        "/t/" + "9" * 400 + "-1-AAAAAAAAAAAA/",
        "/t/o/1-AAAAAAAAAAAA.gif",
        "/t/o/../../admin/.gif",
    ],
)
def test_forged_or_malformed_tokens_are_404(client, path, db):
    response = client.get(path)
    assert response.status_code == 404
    assert "Location" not in response


def test_a_tampered_token_is_refused_and_cannot_be_pointed_elsewhere(seeded, sink, client):
    campaign = send(seeded, sink)
    _rcpt, message = sink.parsed()[0]
    url = next(h for h in hrefs(parts(message)[0]) if TRACKED_RE.match(h))
    token = path_of(url).split("/")[2]
    d36, l36, mac = token.split("-", 2)
    other = campaign.links.exclude(pk=int(l36, 36)).first()
    forged = [
        f"{d36}-{links._b36(other.pk)}-{mac}",  # another link, same signature
        f"{links._b36(int(d36, 36) + 1)}-{l36}-{mac}",  # another reader
        f"{d36}-{l36}-{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # one character changed
        f"0{d36}-{l36}-{mac}",  # the same numbers, spelt otherwise
        f"{d36}-{l36}-{mac}x",
    ]
    for bad in forged:
        assert client.get(f"/t/{bad}/").status_code == 404, bad
    # A valid signature for a link that does not exist (deleted campaign): 404 too.
    assert client.get(f"/t/{links.click_token(int(d36, 36), 999999)}/").status_code == 404
    assert client.get(f"/t/{token}/").status_code == 302
    hits.flush()
    assert Engagement.objects.count() == 1


def test_tokens_of_emails_sent_before_blake2b_still_count(seeded, sink, client):
    """Click and open tokens signed with HMAC-SHA256 (emails sent before the MAC became
    keyed BLAKE2b) keep working; a token made with neither is refused."""
    send(seeded, sink)
    _rcpt, message = sink.parsed()[0]
    url = next(h for h in hrefs(parts(message)[0]) if TRACKED_RE.match(h))
    d36, l36, mac = path_of(url).split("/")[2].split("-", 2)
    key = links._keys()[0]
    assert mac == links._mac(key, f"c:{d36}:{l36}") != links._hmac_mac(key, f"c:{d36}:{l36}")
    old_click = f"{d36}-{l36}-{links._hmac_mac(key, f'c:{d36}:{l36}')}"
    assert links.read_click_token(old_click) == (int(d36, 36), int(l36, 36))
    assert client.get(f"/t/{old_click}/").status_code == 302
    old_open = f"{d36}-{links._hmac_mac(key, f'o:{d36}')}"
    assert links.read_open_token(old_open) == int(d36, 36)
    other_key = links._key("another-secret")
    assert links.read_click_token(f"{d36}-{l36}-{links._mac(other_key, f'c:{d36}:{l36}')}") is None


def test_link_mac_is_rfc7693_keyed_blake2b_whatever_key_comes_first():
    """The MAC from the kept per-key state is keyed BLAKE2b computed from scratch (the
    signatures of mail already sent), for each key in turn and back again."""
    import base64
    import hashlib

    keys = [links._key(secret) for secret in ("one", "two", "ünïcode-secret")]
    for key in [*keys, keys[0], keys[2]]:
        for message in ("c:1:1", "o:zz9", "c:3w5e11264sgsf:1", "", "é"):
            digest = hashlib.blake2b(message.encode(), key=key, digest_size=9).digest()
            assert links._mac(key, message) == base64.urlsafe_b64encode(digest).decode()
    assert links._mac(keys[0], "c:1:1") != links._mac(keys[1], "c:1:1")


def test_utm_tags_keep_query_and_fragment_and_skip_other_sites(seeded):
    campaign = campaigns.create(seeded["newsletter"], [seeded["mailing_list"]])
    slug = seeded["newsletter"].slug
    tagged = links.with_utm("https://www.example.org/events/x/?lang=fr&a=1#programme", campaign)
    parts_ = urlsplit(tagged)
    assert parts_.fragment == "programme"
    assert parse_qs(parts_.query) == {
        "lang": ["fr"],
        "a": ["1"],
        "utm_source": ["newsletter"],
        "utm_medium": ["email"],
        "utm_campaign": [slug],
    }
    assert tagged.startswith("https://www.example.org/events/x/?lang=fr&a=1&utm_source=")
    # The editor's own tag wins; the others are added.
    own = links.with_utm("https://www.example.org/?utm_source=partner", campaign)
    assert parse_qs(urlsplit(own).query)["utm_source"] == ["partner"]
    assert links.with_utm("https://www.linkedin.com/company/x/", campaign).endswith("/x/")
    assert links.with_utm(f"{SITE}/documents/1/handbook.pdf", campaign).endswith(
        f"utm_campaign={slug}"
    )
    campaign.utm = False
    assert links.with_utm("https://www.example.org/a/", campaign) == "https://www.example.org/a/"


def test_without_utm_the_redirect_goes_to_the_link_as_written(seeded, sink, client):
    campaign = send(seeded, sink, utm=False)
    assert all(link.target == link.url for link in campaign.links.all())
    assert not any("utm_" in link.url for link in campaign.links.all())


def test_a_list_without_click_tracking_gets_direct_links_with_utm(seeded, sink):
    campaign = send(seeded, sink, track_clicks=False)
    assert not campaign.track_clicks and not campaign.links.exists()
    html, text = parts(sink.messages[0])
    assert "/t/" not in html and "/t/" not in text
    interview = next(h for h in hrefs(html) if "/interviews/" in h)
    assert "utm_medium=email" in interview
    assert "utm_medium=email" not in next(h for h in hrefs(html) if "linkedin.com" in h)
    assert re.search(r"example\.org/interviews/[^\s]+utm_medium=email", text)


def test_per_link_and_per_page_counts_add_up(seeded, sink, client):
    from mailing.admin import reports

    campaign = send(seeded, sink)
    clicks = 0
    for _rcpt, message in sink.parsed()[:3]:
        tracked = [h for h in hrefs(parts(message)[0]) if TRACKED_RE.match(h)]
        for url in tracked[:5]:
            assert client.get(path_of(url)).status_code == 302
            clicks += 1
    hits.flush()
    figures = reports.figures(campaign)
    assert figures["clicks"] == clicks
    assert figures["clicked"] == 3
    per_link = reports.link_rows(campaign)
    assert sum(row["clicks"] for row in per_link) == clicks
    assert sum(row["clicks"] for row in reports.page_rows(campaign)) == sum(
        row["clicks"] for row in per_link if row["page"] is not None
    )
    interview = seeded["interviews"][0] if "interviews" in seeded else None
    for row in per_link:
        assert row["unique"] <= row["clicks"]
    if interview is not None:
        assert reports.page_clicks(interview)["clicks"] == sum(
            row["clicks"] for row in per_link if row["page"] == interview.pk
        )


def test_pages_the_links_lead_to_are_recognised(seeded, sink):
    campaign = send(seeded, sink)
    pages = {link.url: link.page for link in campaign.links.select_related("page")}
    interviews = [url for url in pages if "/interviews/" in url]
    assert interviews and all(pages[url] is not None for url in interviews)
    assert all(pages[url].specific.__class__.__name__ == "InterviewPage" for url in interviews)
    events = [url for url in pages if "www.example.org/events/" in url]
    assert events and all(pages[url] is not None for url in events)
    assert pages["https://www.linkedin.com/company/penelope-project/"] is None


def test_unsubscribing_through_the_message_is_credited_to_its_campaign(seeded, sink, client):
    campaign = send(seeded, sink)
    rcpt, message = sink.parsed()[0]
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    response = client.post(urlsplit(unsubscribe).path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    delivery = Delivery.objects.get(campaign=campaign, subscriber__email__iexact=rcpt)
    assert delivery.events.filter(kind=DeliveryEvent.Kind.UNSUBSCRIBED).count() == 1
    client.post(urlsplit(unsubscribe).path, {"List-Unsubscribe": "One-Click"})  # again
    assert delivery.events.filter(kind=DeliveryEvent.Kind.UNSUBSCRIBED).count() == 1
    # A token from before campaigns were put in it still unsubscribes.
    other = Subscription.objects.filter(status=Subscription.Status.CONFIRMED).first()
    old = tokens.make_token(tokens.UNSUBSCRIBE, other.subscriber_id, other.mailing_list_id)
    assert (
        client.post(
            f"/subscriptions/unsubscribe/{old}/", {"List-Unsubscribe": "One-Click"}
        ).status_code
        == 200
    )
    other.refresh_from_db()
    assert other.status == Subscription.Status.UNSUBSCRIBED


def test_campaign_status_json_has_the_report_figures(seeded, sink, client):
    campaign = send(seeded, sink)
    _rcpt, message = sink.parsed()[0]
    url = next(h for h in hrefs(parts(message)[0]) if TRACKED_RE.match(h))
    client.get(path_of(url))
    client.get(path_of(url))
    out = StringIO()
    call_command("campaign_status", campaign.pk, "--json", stdout=out)
    data = json.loads(out.getvalue())
    for key in (
        "delivered",
        "bounced",
        "complained",
        "opened",
        "clicked",
        "clicks",
        "unsubscribed",
    ):
        assert key in data, key
    assert data["clicked"] == 1 and data["clicks"] == 2  # the command stores what is queued
    assert data["delivered"] == data["sent"] == len(sink.messages)
    assert data["opened"] == 0


# --- opens -------------------------------------------------------------------------------

CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0 Safari/537.36"
)


def pixel_of(html):
    match = re.search(r'<img src="https://cms\.example\.org(/t/o/[^"]+\.gif)"', html)
    return match.group(1) if match else None


def test_opens_are_off_by_default(seeded, sink):
    send(seeded, sink)
    assert pixel_of(parts(sink.messages[0])[0]) is None


def test_the_pixel_counts_opens_and_apple_prefetches_apart(seeded, sink, client):
    campaign = send(seeded, sink, track_opens=True)
    assert campaign.track_opens
    received = sink.parsed()
    pixels = {rcpt: pixel_of(parts(message)[0]) for rcpt, message in received}
    assert all(pixels.values()) and len(set(pixels.values())) == len(pixels)
    (first, p1), (second, p2), (third, p3) = list(pixels.items())[:3]
    response = client.get(p1, HTTP_USER_AGENT=CHROME, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    client.get(p1, HTTP_USER_AGENT=CHROME)  # opened twice: one reader
    client.get(p2, HTTP_USER_AGENT="Mozilla/5.0", REMOTE_ADDR="17.58.1.2")  # MPP prefetch
    client.get(p3, HTTP_USER_AGENT="", REMOTE_ADDR="17.123.4.5")  # Apple's proxy, no browser
    hits.flush()
    from mailing.admin import reports

    figures = reports.figures(campaign)
    assert figures["opened"] == 1
    assert figures["machine_opened"] == 2
    opened = DeliveryEvent.objects.filter(delivery__campaign=campaign, kind="opened")
    assert opened.count() == 1
    assert opened.get().delivery.subscriber.email.lower() == first


def test_mpp_detection():
    assert hits.is_machine_open("Mozilla/5.0", "203.0.113.9")
    assert hits.is_machine_open("  Mozilla/5.0 ", None)
    assert hits.is_machine_open("", "17.1.2.3")
    assert not hits.is_machine_open(CHROME, "17.1.2.3")
    assert not hits.is_machine_open(CHROME, "203.0.113.9")
    assert not hits.is_machine_open("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)", None)
    assert not hits.is_machine_open("", "not-an-ip")
