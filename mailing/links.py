"""Click and open tracking of a campaign: which links, their signed tokens, the rewriting.

When sending starts, ``register`` stores each distinct link of the issue once
(``CampaignLink``: its URL, where the redirect goes with campaign tags added, and the
content page it leads to). Each transport then takes ``Tracking(campaign)``: the HTML
and text with every tracked link replaced by a per-link placeholder (``%%LINK_B%%``)
and, when opens are tracked, a pixel whose address is ``%%OPEN_URL%%``; ``values``
fills them per recipient with ``/t/<delivery>-<link>-<mac>/`` addresses, the way names
and unsubscribe links are filled. Unsubscribe, preferences and "view in browser" links
are placeholders of their own and are never wrapped; neither is anything that is not
an http(s) link or that points at this site's hosted pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html as html_lib
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver

from mailing.models import Campaign, CampaignLink

ANCHOR_RE = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
HREF_RE = re.compile(r"""(\s)href\s*=\s*(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
TEXT_URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
BODY_END_RE = re.compile(r"</body\s*>", re.IGNORECASE)
# Paths of this site that are never wrapped: hosted subscriber pages, web copies, ourselves.
OWN_PATHS = ("/subscriptions/", "/newsletters/", "/t/", "/api/subscriptions/")
OPEN_KEY, OPEN_PLACEHOLDER = "open_url", "%%OPEN_URL%%"
PIXEL = (
    '<img src="%%OPEN_URL%%" width="1" height="1" alt="" '
    'style="display:block;width:1px;height:1px;border:0;overflow:hidden;">'
)
MAX_LINKS = 500  # an issue with more is not a newsletter; the rest stay as they are
MAC_CHARS = 12  # 72 bits of HMAC, URL-safe base64


# --- tokens ------------------------------------------------------------------------------


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


@lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"mailing.links:" + secret.encode()).digest()


_cached_keys: list[bytes] = []


def _keys() -> list[bytes]:
    """The current key first, then those of SECRET_KEY_FALLBACKS (old emails keep working
    through a key rotation); read once per process, again when a test changes them."""
    if not _cached_keys:
        secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
        _cached_keys[:] = [_key(str(secret)) for secret in secrets]
    return _cached_keys


@receiver(setting_changed)
def _forget_keys(setting, **kwargs):
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        _cached_keys.clear()


_keyed: dict[bytes, hashlib.blake2b] = {}  # key → BLAKE2b state with the key block taken in
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _mac(key: bytes, message: str) -> str:
    """72 bits of keyed BLAKE2b (RFC 7693's MAC mode): a message carries one per tracked
    link, and it costs a third of an HMAC-SHA256 here. The state after the key block is
    kept per key and copied (a third less per MAC); 9 bytes are 12 base64 characters, no
    padding."""
    state = _keyed.get(key)
    if state is None:
        if len(_keyed) > 16:  # keys come from SECRET_KEY and its fallbacks: a few
            _keyed.clear()
        state = _keyed[key] = hashlib.blake2b(key=key, digest_size=9)
    mac = state.copy()
    mac.update(message.encode())
    return binascii.b2a_base64(mac.digest(), newline=False).translate(_URLSAFE).decode()


def _hmac_mac(key: bytes, message: str) -> str:
    """The MAC of tokens in emails sent before ``_mac`` (HMAC-SHA256): still accepted."""
    digest = hmac.digest(key, message.encode(), "sha256")[:9]
    return base64.urlsafe_b64encode(digest).decode()


CLICK_RE = re.compile(r"([0-9a-z]{1,13})-([0-9a-z]{1,13})-([A-Za-z0-9_-]{12})", re.ASCII)
OPEN_RE = re.compile(r"([0-9a-z]{1,13})-([A-Za-z0-9_-]{12})", re.ASCII)


def click_token(delivery_id: int, link_id: int, key: bytes | None = None) -> str:
    return _click_token(_b36(delivery_id), _b36(link_id), key or _keys()[0])


def _click_token(d: str, link: str, key: bytes) -> str:
    """The token of delivery ``d`` and link ``link``, both in base 36 already."""
    return f"{d}-{link}-{_mac(key, f'c:{d}:{link}')}"


def open_token(delivery_id: int, key: bytes | None = None) -> str:
    d = _b36(delivery_id)
    return f"{d}-{_mac(key or _keys()[0], f'o:{d}')}"


def _verified(message: str, mac: str) -> bool:
    return any(
        hmac.compare_digest(sign(key, message), mac)
        for key in _keys()
        for sign in (_mac, _hmac_mac)
    )


def read_click_token(token: str) -> tuple[int, int] | None:
    """(delivery id, link id) of a token we signed; None for anything else."""
    match = CLICK_RE.fullmatch(token or "")
    if not match:
        return None
    d, link, mac = match.groups()
    # One spelling per number: "0a" is not "a" (no second token for the same click).
    if (d[0] == "0" and d != "0") or (link[0] == "0" and link != "0"):
        return None
    if not _verified(f"c:{d}:{link}", mac):
        return None
    return int(d, 36), int(link, 36)


def read_open_token(token: str) -> int | None:
    match = OPEN_RE.fullmatch(token or "")
    if not match:
        return None
    d, mac = match.groups()
    if (d[0] == "0" and d != "0") or not _verified(f"o:{d}", mac):
        return None
    return int(d, 36)


def click_url(delivery_id: int, link_id: int) -> str:
    return f"{settings.SITE_URL}/t/{click_token(delivery_id, link_id)}/"


def open_url(delivery_id: int) -> str:
    return f"{settings.SITE_URL}/t/o/{open_token(delivery_id)}.gif"


# --- which links -------------------------------------------------------------------------


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def trackable(url: str) -> bool:
    """An absolute http(s) link that is not a placeholder nor one of our hosted pages."""
    if "%%" in url or any(ch.isspace() for ch in url) or len(url) > 2000:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname.lower() == _host(settings.SITE_URL):
        return not parts.path.startswith(OWN_PATHS)
    return True


def html_links(content: str) -> list[str]:
    """The href of every <a> in order, unescaped."""
    found = []
    for tag in ANCHOR_RE.findall(content):
        match = HREF_RE.search(tag)
        if match:
            found.append(html_lib.unescape(match.group(3)).strip())
    return found


def _trim(url: str) -> str:
    """A URL found in running text, without the punctuation that ends its sentence."""
    url = url.rstrip(".,;:!?")
    if url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1].rstrip(".,;:!?")
    return url


def text_links(content: str) -> list[str]:
    return [_trim(match) for match in TEXT_URL_RE.findall(content)]


def campaign_urls(campaign: Campaign) -> list[str]:
    """The distinct trackable links of the HTML, then those only the text part has; then
    those only a topic variant's rendering has (``mailing.variants``)."""
    seen = {}
    renderings = [(campaign.html, campaign.text)]
    if campaign.pk:
        renderings += list(campaign.variants.order_by("pk").values_list("html", "text"))
    for html, text in renderings:
        for url in html_links(html) + text_links(text):
            if trackable(url) and url not in seen and len(seen) < MAX_LINKS:
                seen[url] = None
    return list(seen)


# --- campaign tags (UTM) and the pages links lead to -------------------------------------


def our_hosts() -> set[str]:
    return {host for host in (_host(settings.FRONTEND_URL), _host(settings.SITE_URL)) if host}


def with_utm(url: str, campaign: Campaign) -> str:
    """``url`` with utm_source, utm_medium=email and utm_campaign (the issue's slug) when
    it leads to the website or this site and the campaign wants them; parameters already
    there (the editor's own utm_* too) and the fragment are kept."""
    if not campaign.utm or _host(url) not in our_hosts():
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _value in query}
    tags = {
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": campaign.page.slug,
    }
    added = [(name, value) for name, value in tags.items() if name not in present]
    if not added:
        return url
    tail = urlencode(added)
    joined = f"{parts.query}&{tail}" if parts.query else tail
    return urlunsplit(parts._replace(query=joined))


def page_for(url: str):
    """The page of this CMS that ``url`` shows (on the website or this site), or None."""
    from wagtail.models import Page, Site

    if _host(url) not in our_hosts():
        return None
    path = urlsplit(url).path or "/"
    if not path.endswith("/"):
        path += "/"
    for site in Site.objects.select_related("root_page").order_by("-is_default_site"):
        found = (
            Page.objects.filter(url_path=site.root_page.url_path + path.lstrip("/"))
            .exclude(depth__lte=1)
            .first()
        )
        if found is not None:
            return found
    return None


def tracking_for(lists) -> tuple[bool, bool]:
    """(clicks, opens) for a send to ``lists``: each only when every list allows it."""
    flags = [(ml.track_clicks, ml.track_opens) for ml in lists]
    if not flags:
        return False, False
    return all(c for c, _o in flags), all(o for _c, o in flags)


def register(campaign: Campaign) -> int:
    """Store the campaign's links (once: a second call changes nothing); how many."""
    if not campaign.track_clicks or campaign.links.exists():
        return campaign.links.count()
    pages = {}
    rows = []
    for position, url in enumerate(campaign_urls(campaign)):
        page = pages.setdefault(url, page_for(url))
        rows.append(
            CampaignLink(
                campaign=campaign,
                position=position,
                url=url,
                target=with_utm(url, campaign),
                page=page,
            )
        )
    with transaction.atomic():
        CampaignLink.objects.bulk_create(rows)
    return len(rows)


# --- the message, rewritten --------------------------------------------------------------


def key(position: int) -> str:
    """The merge key of a link: ``link_a``, ``link_b``, … ``link_ba`` (letters only, so
    every ESP's merge syntax and our ``%%…%%`` tokens take it)."""
    letters = ""
    while True:
        position, rest = divmod(position, 26)
        letters = chr(ord("a") + rest) + letters
        if not position:
            return f"link_{letters}"


def placeholder(merge_key: str) -> str:
    return f"%%{merge_key.upper()}%%"


class Tracking:
    """A campaign's HTML and text with tracked links (and the pixel) as placeholders."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        rows = (
            campaign.links.values_list("pk", "position", "url")
            if campaign.pk and campaign.track_clicks
            else []
        )
        self.link_ids = {}  # merge key → link id
        by_url = {}
        for pk, position, url in rows:
            self.link_ids[key(position)] = pk
            by_url[url] = key(position)
        self.by_url = by_url
        self.opens = bool(campaign.pk and campaign.track_opens)
        self.placeholders = {k: placeholder(k) for k in self.link_ids}
        if self.opens:
            self.placeholders[OPEN_KEY] = OPEN_PLACEHOLDER
        self.html = self._html(campaign.html)
        self.text = self._text(campaign.text)
        self._key = None
        self._links = None  # [(merge key, link id in base 36)], made on first use

    def _html(self, content: str) -> str:
        def anchor(match):
            tag = match.group(0)
            href = HREF_RE.search(tag)
            if not href:
                return tag
            url = html_lib.unescape(href.group(3)).strip()
            if url in self.by_url:
                # On a line of its own inside the tag (where a line break means nothing),
                # so a longer address filled in never pushes a line past SMTP's limit.
                new = f'\nhref="{placeholder(self.by_url[url])}"'
            elif trackable(url) and (tagged := with_utm(url, self.campaign)) != url:
                new = f'{href.group(1)}href="{html_lib.escape(tagged)}"'
            else:
                return tag
            return tag[: href.start()] + new + tag[href.end() :]

        if not content:
            return content
        content = ANCHOR_RE.sub(anchor, content)
        if self.opens:
            ends = [match.start() for match in BODY_END_RE.finditer(content)]
            at = ends[-1] if ends else len(content)
            content = content[:at] + "\n" + PIXEL + "\n" + content[at:]
        return content

    def _text(self, content: str) -> str:
        def url(match):
            found = match.group(0)
            trimmed = _trim(found)
            rest = found[len(trimmed) :]
            if trimmed in self.by_url:
                return placeholder(self.by_url[trimmed]) + rest
            if trackable(trimmed):
                return with_utm(trimmed, self.campaign) + rest
            return found

        return TEXT_URL_RE.sub(url, content) if content else content

    def values(self, delivery_id: int) -> dict[str, str]:
        """Merge key → this recipient's tracked address (none for a test or a probe)."""
        if not delivery_id or not self.placeholders:
            return {}
        if self._key is None:
            self._key = _keys()[0]
        base, signing_key, d = f"{settings.SITE_URL}/t/", self._key, _b36(delivery_id)
        if self._links is None:
            self._links = [(k, _b36(pk)) for k, pk in self.link_ids.items()]
        # The delivery's base 36 once per message, each link's once per campaign.
        out = {k: f"{base}{_click_token(d, link, signing_key)}/" for k, link in self._links}
        if self.opens:
            out[OPEN_KEY] = f"{base}o/{open_token(delivery_id, signing_key)}.gif"
        return out


@lru_cache(maxsize=20000)
def target_of(link_id: int) -> str | None:
    """Where a link redirects to. Links never change once stored, so each process asks
    the database once per link; only ids from a verified token ever get here."""
    return CampaignLink.objects.filter(pk=link_id).values_list("target", flat=True).first()
