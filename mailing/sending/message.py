"""What a campaign's messages hold: per-recipient values, headers, addresses and ids.

Built in one place for every transport and for test sends: the values filled into
the placeholders, the headers, the From fallback, Message-IDs, the raw-bytes
``MessageTemplate`` (serialised once per campaign) and the Django message builder.
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from email.header import Header
from email.utils import formataddr, parseaddr
from urllib.parse import urlsplit

import idna
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.crypto import constant_time_compare, salted_hmac

from mailing import tokens
from mailing.links import Tracking, placeholder
from mailing.models import Campaign, Delivery, MailingList
from newsletters.rendering import PLACEHOLDERS, personalise
from newsletters.validators import header_breaking

ONE_CLICK = "List-Unsubscribe=One-Click"
# HTML-escaped twins of the name and email placeholders (a name may hold ``<`` or ``&``).
HTML_NAME, HTML_EMAIL = "%%HTML_NAME%%", "%%HTML_EMAIL%%"
# Value key → the placeholder it fills, for the transports that fill placeholders themselves.
FIELDS = {
    **PLACEHOLDERS,
    "name_html": HTML_NAME,
    "email_html": HTML_EMAIL,
}


# --- header safety ---------------------------------------------------------------------


class UnsafeHeader(ValueError):
    """A header value that would end its line: a line break or another control character."""


def check_header(name: str, value: str) -> str:
    """``value`` when it is safe in header ``name``, else UnsafeHeader naming the header."""
    bad = header_breaking(value)
    if bad:
        raise UnsafeHeader(f"{name}: {bad[0]!r} is not allowed in a header")
    return value


def clean_value(value: str) -> str:
    """A per-recipient value made safe anywhere: whitespace runs (line breaks included)
    become one space, other control characters go."""
    value = value or ""
    if value.isprintable():  # no control character, no line break: the common case
        return " ".join(value.split())
    value = " ".join(value.split())
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cc")


def ascii_domain(email: str) -> str:
    """The address with its domain in IDNA (punycode) form, as the SMTP envelope and a
    header need it; addresses are stored with Unicode domains (``bücher.de``)."""
    local, sep, domain = (email or "").rpartition("@")
    if not sep or domain.isascii():
        return email
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return email  # stored addresses were validated; leave it for the server to refuse
    return f"{local}@{domain}"


def address_header(name: str, email: str) -> str:
    """An address with its display name, encoded when not ASCII, checked."""
    email = ascii_domain(email)
    if email.isascii():
        value = formataddr((name, email), charset="utf-8") if name else email
    else:
        # A non-ASCII mailbox name stays UTF-8 (RFC 6532): the SMTP path sends it only
        # to servers that offer SMTPUTF8. formataddr refuses it, so encode the name alone.
        display = formataddr((name, "x@x"), charset="utf-8").rpartition(" <")[0] if name else ""
        value = f"{display} <{email}>" if display else email
    return check_header("To", value)


def subject(campaign: Campaign) -> str:
    return check_header("Subject", campaign.subject)


def check_campaign(campaign: Campaign) -> None:
    """UnsafeHeader when a campaign-wide value (subject, sender, list) cannot be a header."""
    subject(campaign)
    headers(campaign)


# --- addresses and ids -------------------------------------------------------------------


def site_domain() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def web_url(campaign: Campaign) -> str:
    """The campaign's "view in browser" address: its random key, never its sequential id;
    a rendering in another language than the campaign's (``variants.as_campaign``) links
    to its own copy."""
    language = getattr(campaign, "web_language", "")
    suffix = f"?lang={language}" if language else ""
    return f"{settings.SITE_URL}/newsletters/{campaign.key}/{suffix}"


def message_id(campaign: Campaign, delivery_id: int | str) -> str:
    return f"c{campaign.pk}.{campaign.key}.d{delivery_id}@{site_domain()}"


MESSAGE_ID_RE = re.compile(r"<?c(\d+)\.([0-9a-f]+)\.d(\d+)@")


def delivery_from_message_id(value: str) -> int | None:
    """The delivery id a Message-ID we built points to, if the campaign key matches."""
    match = MESSAGE_ID_RE.search(value or "")
    if not match:
        return None
    ok = Delivery.objects.filter(
        pk=match.group(3), campaign_id=match.group(1), campaign__key=match.group(2)
    ).exists()
    return int(match.group(3)) if ok else None


# --- the bounce address (VERP) -------------------------------------------------------------

VERP_SALT = "mailing.bounce-address"
# "<delivery id>.<mac>": lower-case only, since some mail servers fold the local part.
VERP_TOKEN = re.compile(r"(\d{1,18})\.([0-9a-f]{16})")


def _verp_mac(delivery_id: int | str, secret: str | None = None) -> str:
    mac = salted_hmac(VERP_SALT, str(delivery_id), secret=secret, algorithm="sha256")
    return mac.hexdigest()[:16]


def bounce_address(delivery_id: int | str) -> str:
    """The envelope sender for one delivery when ``BOUNCE_ADDRESS`` is set (VERP:
    ``bounces@x`` → ``bounces+<id>.<signature>@x``), so a bounce maps back to its delivery
    even when it quotes nothing of the message; "" when unset (the From address is used)."""
    base = getattr(settings, "BOUNCE_ADDRESS", "") or ""
    local, at, domain = base.rpartition("@")
    if not at:
        return ""
    return f"{local}+{delivery_id}.{_verp_mac(delivery_id)}@{domain}"


def bounce_tokens(text: str) -> list[str]:
    """The VERP tokens of our bounce address found in ``text`` (e.g. a Delivered-To)."""
    base = getattr(settings, "BOUNCE_ADDRESS", "") or ""
    local, at, domain = base.rpartition("@")
    if not at or not text:
        return []
    pattern = rf"(?<![\w.+-]){re.escape(local)}\+([^@\s<>\"]{{1,200}})@{re.escape(domain)}\b"
    return re.findall(pattern, text, flags=re.IGNORECASE)


def delivery_from_bounce_token(token: str) -> int | None:
    """The delivery a VERP token we made points to; None when forged or tampered with."""
    match = VERP_TOKEN.fullmatch((token or "").lower())
    if not match:
        return None
    delivery_id, mac = match.groups()
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not any(constant_time_compare(mac, _verp_mac(delivery_id, key)) for key in secrets):
        return None
    return int(delivery_id) if Delivery.objects.filter(pk=delivery_id).exists() else None


def sender_address(mailing_list: MailingList | None) -> tuple[str, str, str]:
    """(from name, from email, reply-to): the list's own, else the site's settings."""
    name = (mailing_list.from_name if mailing_list else "") or settings.NEWSLETTER_SENDER_NAME
    email = (mailing_list.from_email if mailing_list else "") or parseaddr(
        settings.DEFAULT_FROM_EMAIL
    )[1]
    return name, email, (mailing_list.reply_to if mailing_list else "")


def from_header(campaign: Campaign) -> str:
    return formataddr((campaign.from_name, campaign.from_email), charset="utf-8")


def list_id(mailing_list: MailingList | None, from_name: str) -> str:
    """RFC 2919: the list's name as a phrase (quoted, or encoded when not ASCII)."""
    slug = mailing_list.slug if mailing_list else "newsletter"
    name = mailing_list.name if mailing_list else from_name
    return formataddr((name, f"{slug}.{site_domain()}"), charset="utf-8")


def list_id_header(campaign: Campaign) -> str:
    return list_id(campaign.lists.order_by("pk").first(), campaign.from_name)


# --- values and headers ------------------------------------------------------------------


def personal_values(
    *, name: str, email: str, unsubscribe_url: str, preferences_url: str, web_url: str
) -> dict[str, str]:
    """The values one message fills its placeholders with, plain and HTML-escaped."""
    # Line breaks and control characters never reach a header or the body.
    name, email = clean_value(name), clean_value(email)
    return {
        "name": name,
        "email": email,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
        "web_url": web_url,
        "name_html": html_lib.escape(name),
        "email_html": html_lib.escape(email),
    }


def recipient_values(recipient, web: str, tracking: Tracking | None = None) -> dict[str, str]:
    """``personal_values`` of a leased ``Recipient``, with its signed links (and its
    tracked links, given the campaign's ``Tracking``)."""
    values = personal_values(
        name=recipient.name,
        email=recipient.email,
        unsubscribe_url=tokens.unsubscribe_url(
            recipient.subscriber_id, recipient.list_id, recipient.delivery_id
        ),
        preferences_url=tokens.preferences_url(recipient.subscriber_id),
        web_url=web,
    )
    if tracking is not None:
        values.update(tracking.values(recipient.delivery_id))
    return values


def headers(
    campaign: Campaign,
    *,
    unsubscribe_url: str = "",
    message_id: str = "",
    list_id: str | None = None,
) -> dict[str, str]:
    """Every header we set, for every transport; per-recipient ones only when given.

    ``list_id``: the List-Id value when the caller has it (saves a query per message).
    Each value is checked here (UnsafeHeader), so no transport sends a broken header.
    """
    out = {"From": from_header(campaign)}
    if message_id:
        out["Message-ID"] = f"<{message_id}>"
    if unsubscribe_url:
        out["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    out["List-Unsubscribe-Post"] = ONE_CLICK
    out["List-Id"] = list_id_header(campaign) if list_id is None else list_id
    if campaign.reply_to:
        out["Reply-To"] = campaign.reply_to
    if campaign.pk:
        out["Feedback-ID"] = f"c{campaign.pk}:newsletter:{site_domain()}"
    for name, value in out.items():
        check_header(name, value)
    return out


def html_template(html: str) -> str:
    """The HTML with the name and email placeholders swapped for their escaped twins."""
    return html.replace(PLACEHOLDERS["name"], HTML_NAME).replace(PLACEHOLDERS["email"], HTML_EMAIL)


# --- Django messages ---------------------------------------------------------------------


def django_message(
    campaign: Campaign,
    header_map: dict,
    *,
    to: list[str],
    text: str,
    html: str,
    envelope_sender: str = "",
) -> EmailMultiAlternatives:
    """The message as Django (and anymail) take it: From and Reply-To become its fields.

    ``envelope_sender``: MAIL FROM when it differs from From (a VERP bounce address);
    Django's SMTP backend sends from ``from_email`` and keeps a From header as given.
    """
    extra = dict(header_map)
    from_email = extra.pop("From")
    if envelope_sender:
        extra["From"], from_email = from_email, envelope_sender
    reply_to = extra.pop("Reply-To", "")
    for address in to:
        check_header("To", address)
    message = EmailMultiAlternatives(
        subject=subject(campaign),
        body=text,
        from_email=from_email,
        to=to,
        reply_to=[reply_to] if reply_to else None,
        headers=extra,
    )
    message.attach_alternative(html, "text/html")
    return message


def web_copy(campaign: Campaign) -> str:
    """The issue as sent, with no personal data: neutral values in place of the placeholders."""
    url = web_url(campaign)
    values = personal_values(
        name="",
        email="",
        unsubscribe_url=f"{url}#subscription",
        preferences_url=f"{url}#subscription",
        web_url=url,
    )
    return personalise(campaign.html, values)


# --- the raw message ---------------------------------------------------------------------

# Tokens of the serialised template besides the body placeholders (``FIELDS``).
H_TO, H_DATE, H_MSGID, H_UNSUB = "%%H_TO%%", "%%H_DATE%%", "%%H_MSGID%%", "%%H_UNSUB%%"
TOKEN_RE = re.compile(rb"(%%[A-Z_]+%%)")
B_FIELDS = {key: placeholder.encode() for key, placeholder in FIELDS.items()}
B_TO, B_DATE, B_MSGID, B_UNSUB = (token.encode() for token in (H_TO, H_DATE, H_MSGID, H_UNSUB))
# SMTP allows 998 octets a line; longer lines need an encoding this template does not do.
MAX_OCTETS = 990


@dataclass
class MessageTemplate:
    """A campaign's message serialised once, with per-recipient tokens left in the bytes.

    Lines were folded when the issue was rendered (``newsletters.rendering``); a line
    still too long for 8bit makes ``build`` raise ValueError, and the caller falls back
    to Django's encoder.
    """

    campaign: Campaign
    literals: list = field(default_factory=list)
    keys: list = field(default_factory=list)
    eight_bit: bool = False
    sender: str = ""
    web_url: str = ""
    msgid: str = ""  # the Message-ID with "{}" for the delivery id
    tracking: Tracking | None = None
    tokens: dict = field(default_factory=dict)  # value key → its placeholder's bytes

    @classmethod
    def build(cls, campaign: Campaign) -> MessageTemplate:
        boundary = f"=_{campaign.key}{uuid.uuid4().hex[:12]}"
        title = subject(campaign)
        if not title.isascii():
            title = Header(title, "utf-8", maxlinelen=76).encode()
        shared = headers(campaign, unsubscribe_url=H_UNSUB, message_id=H_MSGID)
        lines = [f"From: {shared.pop('From')}", f"To: {H_TO}", f"Subject: {title}"]
        lines.append(f"Date: {H_DATE}")
        lines += [f"{name}: {value}" for name, value in shared.items()]
        lines += [
            "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative; boundary="{boundary}"',
        ]
        tracking = Tracking(campaign)
        text, html = tracking.text, html_template(tracking.html)
        # A name filled in per recipient may not be ASCII even when the issue is.
        personal = any(p in text + html for p in (FIELDS["name"], FIELDS["email"], HTML_NAME))
        eight_bit = personal or not (text.isascii() and html.isascii())
        cte = "8bit" if eight_bit else "7bit"
        lines += ["", f"--{boundary}"]
        lines += ['Content-Type: text/plain; charset="utf-8"', f"Content-Transfer-Encoding: {cte}"]
        lines += ["", text, f"--{boundary}"]
        lines += ['Content-Type: text/html; charset="utf-8"', f"Content-Transfer-Encoding: {cte}"]
        lines += ["", html, f"--{boundary}--", ""]
        source = "\r\n".join("\r\n".join(line.splitlines()) or line for line in lines)
        data = source.encode("utf-8")
        if any(len(line) > MAX_OCTETS for line in data.split(b"\r\n")):
            raise ValueError("a line of the message is too long to send without encoding")
        # Dot-stuffed once here (RFC 5321 4.5.2); ``render`` stuffs only where a filled-in
        # value makes a new line start with a dot, instead of rescanning 60 KB a message.
        data = data.replace(b"\r\n.", b"\r\n..")
        parts = TOKEN_RE.split(data)
        return cls(
            campaign=campaign,
            literals=parts[0::2],
            keys=parts[1::2],
            eight_bit=eight_bit,
            sender=campaign.from_email,
            web_url=web_url(campaign),
            msgid=message_id(campaign, "{}"),
            tracking=tracking,
        )

    def envelope_sender(self, delivery_id: int) -> str:
        """MAIL FROM for one delivery: its VERP bounce address, else the From address."""
        return bounce_address(delivery_id) or self.sender

    def values(self, recipient, date: bytes) -> dict:
        """Token → bytes for one recipient; ``date``: the Date header, formatted."""
        values = recipient_values(recipient, self.web_url, self.tracking)
        tokens, out = self.tokens, {}
        for key, value in values.items():
            token = tokens.get(key)
            if token is None:
                token = tokens[key] = B_FIELDS.get(key) or placeholder(key).encode()
            out[token] = value.encode()
        out[B_TO] = address_header(values["name"], values["email"]).encode()
        out[B_DATE] = date
        out[B_MSGID] = self.msgid.format(recipient.delivery_id).encode()
        out[B_UNSUB] = out[B_FIELDS["unsubscribe_url"]]
        return out

    def render(self, values: dict) -> bytes:
        """The message for one recipient, dot-stuffed as if the values had been filled in
        first: no value (a reader named ".", or an empty name before a ".") can end the
        DATA early. Values never hold a line break (``clean_value``, checked headers), so
        a new line can only start at a value or at the literal after an empty one."""
        filled = [values.get(key, key) for key in self.keys]
        if all(value and value[:1] != b"." for value in filled):
            # The common case: every value holds something and none starts with a dot, so
            # no new line starts at a value or after one; the literals were stuffed once.
            out = [b""] * (2 * len(filled) + 1)
            out[0::2] = self.literals
            out[1::2] = filled
            return b"".join(out)
        out = [self.literals[0]]
        line_start = self.literals[0].endswith(b"\n")
        for key, literal in zip(self.keys, self.literals[1:], strict=True):
            value = values.get(key, key)
            if value:
                out.append(b"." + value if line_start and value[:1] == b"." else value)
                line_start = False
            if literal:
                out.append(b"." + literal if line_start and literal[:1] == b"." else literal)
                line_start = literal.endswith(b"\n")
        return b"".join(out)
