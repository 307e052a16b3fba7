"""What other tools' exports mean: which column holds what, and who may be mailed.

One table of header aliases (English and the site's languages, as spreadsheets and the
tools write them) maps columns to roles; a handful of formats (Mailchimp, listmonk,
Ghost, Substack, Brevo, Buttondown, this system's own export) are recognised by their
headers so that the preview can name them and read their dates right. Each row then
gets a ``State``: what the source tool knew about the person. Unsubscribed, disabled or
blocklisted people are never subscribed; bounced and complained addresses are
suppressed; an unreadable status rejects the row rather than guessing "subscribed".
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum

import langcodes
from anyascii import anyascii
from django.utils.translation import gettext_lazy as _

from mailing.spreadsheets import strip_neutraliser
from mailing.subscriptions import language_code


class State(IntEnum):
    """What the source knew; when several columns speak, the highest wins."""

    SUBSCRIBED = 0
    PENDING = 1  # never confirmed in the source: stays pending whatever the consent box
    UNSUBSCRIBED = 2
    DELETED = 3  # deleted, blocked or a spam signup in the source: not imported
    SUPPRESSED = 4  # never to be mailed, reason unknown
    BOUNCED = 5
    COMPLAINED = 6


class Role:
    EMAIL = "email"
    NAME = "name"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    LANGUAGE = "language"
    LIST = "list"
    STATUS = "status"
    SUBSCRIBED_FLAG = "subscribed_flag"  # false: unsubscribed
    UNSUBSCRIBED_FLAG = "unsubscribed_flag"  # true: unsubscribed (also "disabled")
    BLOCKLISTED_FLAG = "blocklisted_flag"  # true: unsubscribed
    BOUNCED_FLAG = "bounced_flag"
    COMPLAINED_FLAG = "complained_flag"
    SUPPRESSED_FLAG = "suppressed_flag"
    SUBSCRIBED_AT = "subscribed_at"
    CONFIRMED_AT = "confirmed_at"
    UNSUBSCRIBED_AT = "unsubscribed_at"  # a time: unsubscribed
    CLEANED_AT = "cleaned_at"  # a time: bounced
    DELETED_AT = "deleted_at"  # a time: deleted
    SIGNUP_IP = "signup_ip"
    CONFIRM_IP = "confirm_ip"
    ATTRIBUTES = "attributes"  # a JSON object of attributes
    REASON = "reason"  # why they left; "spam" or "abuse" is a complaint
    CONSENT_TEXT = "consent_text"
    IGNORE = "ignore"


#: Roles that are also kept as attributes (the source's own words).
KEPT = {Role.REASON}
#: Roles that say whether the person may be mailed.
STATEFUL = {
    Role.STATUS,
    Role.SUBSCRIBED_FLAG,
    Role.UNSUBSCRIBED_FLAG,
    Role.BLOCKLISTED_FLAG,
    Role.BOUNCED_FLAG,
    Role.COMPLAINED_FLAG,
    Role.SUPPRESSED_FLAG,
    Role.UNSUBSCRIBED_AT,
    Role.CLEANED_AT,
    Role.DELETED_AT,
    Role.REASON,
}

ROLE_LABELS = {
    Role.EMAIL: _("email address"),
    Role.NAME: _("name"),
    Role.FIRST_NAME: _("first name (joined into the name)"),
    Role.LAST_NAME: _("last name (joined into the name)"),
    Role.LANGUAGE: _("language"),
    Role.LIST: _("list (slug)"),
    Role.STATUS: _("status"),
    Role.SUBSCRIBED_FLAG: _("subscribed? (no: not subscribed)"),
    Role.UNSUBSCRIBED_FLAG: _("unsubscribed or disabled? (yes: not subscribed)"),
    Role.BLOCKLISTED_FLAG: _("blocklisted? (yes: not subscribed)"),
    Role.BOUNCED_FLAG: _("bounced? (yes: suppressed)"),
    Role.COMPLAINED_FLAG: _("complained? (yes: suppressed)"),
    Role.SUPPRESSED_FLAG: _("suppressed? (yes: suppressed)"),
    Role.SUBSCRIBED_AT: _("time of signup (consent record)"),
    Role.CONFIRMED_AT: _("time of confirmation (consent record)"),
    Role.UNSUBSCRIBED_AT: _("time of unsubscribing (set: not subscribed)"),
    Role.CLEANED_AT: _("time the address was cleaned (set: suppressed as bounced)"),
    Role.DELETED_AT: _("time of deletion (set: not imported)"),
    Role.SIGNUP_IP: _("IP address at signup (consent record)"),
    Role.CONFIRM_IP: _("IP address at confirmation (consent record)"),
    Role.ATTRIBUTES: _("attributes (JSON)"),
    Role.REASON: _("reason for leaving (spam or abuse: suppressed as a complaint)"),
    Role.CONSENT_TEXT: _("consent wording"),
    Role.IGNORE: _("ignored"),
}


def normalise_header(text: str) -> str:
    """``"E-Mail-Adresse"`` → ``"e mail adresse"``; ``"DOUBLE_OPT-IN"`` → ``"double opt in"``."""
    return re.sub(r"[^a-z0-9]+", " ", anyascii(text).casefold()).strip()


_ALIASES = {
    Role.EMAIL: "email, e-mail, email address, e-mail address, email addresses, mail, "
    "courriel, adresse email, adresse e-mail, adresse mail, e-mail-adresse, emailadresse, "
    "correo, correo electrónico, dirección de correo, indirizzo email, indirizzo e-mail, "
    "posta elettronica, adresa de email, adresa email, sähköposti, sähköpostiosoite",
    Role.NAME: "name, full name, fullname, display name, contact name, nom complet, "
    "nombre completo, nome completo, nume complet, vollständiger name, koko nimi",
    Role.FIRST_NAME: "first name, firstname, fname, given name, first, prénom, prenom, "
    "vorname, nombre, nome, prenume, etunimi",
    Role.LAST_NAME: "last name, lastname, lname, surname, family name, last, nom, nachname, "
    "apellido, apellidos, cognome, nume, sukunimi",
    Role.LANGUAGE: "language, lang, locale, preferred language, langue, sprache, idioma, "
    "lingua, limba, kieli",
    Role.LIST: "list, list slug",
    Role.STATUS: "status, subscriber type, subscription status, email marketing status, "
    "member status, email status, statut",
    Role.SUBSCRIBED_FLAG: "subscribed, subscribed to emails, opted in, email opt in, "
    "accepts marketing, accepts email marketing",
    Role.UNSUBSCRIBED_FLAG: "unsubscribed, email disabled, opted out, opt out, do not email",
    Role.BLOCKLISTED_FLAG: "blocklisted, blacklisted, email blacklisted, email blocklisted",
    Role.BOUNCED_FLAG: "bounced, hard bounced",
    Role.COMPLAINED_FLAG: "complained, spam complaint",
    Role.SUPPRESSED_FLAG: "suppressed",
    Role.SUBSCRIBED_AT: "optin time, created at, created, added time, creation date, "
    "subscribed at, date added, signup date, subscription date, date created, "
    "timestamp signup",
    Role.CONFIRMED_AT: "confirm time, confirmed at, confirmation date, timestamp opt",
    Role.UNSUBSCRIBED_AT: "unsub time, unsubscribed at, unsubscribe date, date unsubscribed",
    Role.CLEANED_AT: "clean time, cleaned at",
    Role.DELETED_AT: "deleted at",
    Role.SIGNUP_IP: "optin ip, ip signup, signup ip, ip, ip address",
    Role.CONFIRM_IP: "confirm ip, ip opt",
    Role.ATTRIBUTES: "attributes, attribs, metadata",
    Role.REASON: "unsub reason, unsubscribe reason",
    Role.CONSENT_TEXT: "consent text, consent wording",
}
ALIASES = {
    normalise_header(alias): role
    for role, aliases in _ALIASES.items()
    for alias in aliases.split(",")
}

_STATES = {
    State.SUBSCRIBED: "subscribed, confirmed, active, enabled, regular, premium, trialed, "
    "trialing, unpaid, gifted, churning, paused, past due, opted in, opt in, member, free, "
    "paid, comp, complimentary, valid",
    State.PENDING: "pending, unconfirmed, unactivated, not confirmed, awaiting confirmation",
    State.UNSUBSCRIBED: "unsubscribed, opted out, opt out, disabled, inactive, blocklisted, "
    "blacklisted, removed, archived, non subscribed, nonsubscribed, do not email",
    State.DELETED: "deleted, blocked, spammy, disposable, malformed",
    State.SUPPRESSED: "suppressed",
    State.BOUNCED: "cleaned, bounced, hard bounce, hardbounce, undeliverable, invalid",
    State.COMPLAINED: "complained, complaint, spam complaint, marked as spam, abuse",
}
STATE_WORDS = {
    normalise_header(word): state for state, words in _STATES.items() for word in words.split(",")
}
TRUE = {"true", "yes", "y", "1", "t", "x", "oui", "ja", "si", "kylla", "da", "vero"}
FALSE = {"false", "no", "n", "0", "f", "non", "nein", "ei", "nu", "falso"}

STATE_LABELS = {
    State.SUBSCRIBED: _("subscribed"),
    State.PENDING: _("pending: never confirmed in the source"),
    State.UNSUBSCRIBED: _("not subscribed: recorded as unsubscribed"),
    State.DELETED: _("deleted or blocked in the source: not imported"),
    State.SUPPRESSED: _("suppressed: never mailed"),
    State.BOUNCED: _("bounced: suppressed"),
    State.COMPLAINED: _("complained: suppressed"),
}

# Substack replaces the address of a person who asked to be deleted by one of these.
DELETED_DOMAINS = ("deletion-request.substack.com",)


@dataclass(frozen=True)
class Format:
    key: str
    label: str
    signatures: tuple[frozenset, ...]
    dayfirst: bool = False  # ambiguous day/month dates read day first (Brevo)

    def matches(self, headers: set[str]) -> bool:
        return any(signature <= headers for signature in self.signatures)


def _sig(*sets: str) -> tuple[frozenset, ...]:
    return tuple(frozenset(normalise_header(h) for h in s.split(",")) for s in sets)


FORMATS = [
    Format("penelope", _("this system's export"), _sig("email, status, consent_text, suppressed")),
    Format("mailchimp", "Mailchimp", _sig("Email Address, MEMBER_RATING, OPTIN_TIME")),
    Format(
        "listmonk",
        "listmonk",
        _sig("uuid, email, name, attributes, status", "email, name, attributes"),
    ),
    Format("ghost", _("Ghost members"), _sig("email, subscribed_to_emails")),
    Format(
        "substack",
        "Substack",
        _sig("email, email_disabled", "email, active_subscription"),
    ),
    Format(
        "brevo",
        "Brevo",
        _sig("EMAIL, EMAIL_BLACKLISTED", "CONTACT ID, EMAIL", "EMAIL, ADDED_TIME"),
        dayfirst=True,
    ),
    Format("buttondown", "Buttondown", _sig("email, subscriber_type")),
]
REJECTS = Format("rejects", _("rejected rows of an earlier import"), ())
SPREADSHEET = Format("spreadsheet", _("a spreadsheet (no other tool recognised)"), ())


def variant(fmt: Format, headers: set[str]) -> str:
    """The preview's name for the file, e.g. "Mailchimp (unsubscribed export)"."""
    if fmt.key == "mailchimp":
        if "unsub time" in headers:
            return str(_("Mailchimp (unsubscribed export)"))
        if "clean time" in headers:
            return str(_("Mailchimp (cleaned export)"))
        return str(_("Mailchimp (subscribed export)"))
    return str(fmt.label)


@dataclass
class Column:
    index: int
    header: str
    role: str | None  # None: kept as an attribute under ``key``
    key: str = ""

    @property
    def label(self):
        if self.role is None:
            return _("attribute “%(key)s”") % {"key": self.key}
        return ROLE_LABELS[self.role]


@dataclass
class Mapping:
    format: Format
    name: str
    columns: list[Column]

    def __post_init__(self):
        roles = {c.role for c in self.columns}
        timed = {role for role, _attr in _TIMES} | {Role.CONFIRM_IP, Role.SIGNUP_IP}
        self.has_times = bool(roles & timed)
        self.has_states = any(c.role in STATEFUL for c in self.columns)

    def index(self, role: str) -> int | None:
        return next((c.index for c in self.columns if c.role == role), None)

    @property
    def has_email(self) -> bool:
        return self.index(Role.EMAIL) is not None

    @property
    def status_columns(self) -> list[Column]:
        return [c for c in self.columns if c.role in STATEFUL]


def map_headers(header: list[str]) -> Mapping:
    """Which role each column plays; unknown columns become attributes."""
    names = [strip_neutraliser(h.strip()) for h in header]
    normalised = [normalise_header(h) for h in names]
    present = set(normalised)
    if normalised[:2] == ["line", "reason"]:
        fmt = REJECTS  # the rejects file of an import, corrected and imported again
    else:
        fmt = next((f for f in FORMATS if f.matches(present)), SPREADSHEET)
    columns, taken = [], set()
    for i, (name, norm) in enumerate(zip(names, normalised, strict=True)):
        role = ALIASES.get(norm)
        if fmt.key == "rejects" and i < 2 and norm in ("line", "reason"):
            role = Role.IGNORE
        if role in taken:
            role = None  # a second column for the same role stays an attribute
        if role is not None:
            taken.add(role)
        key = name or f"column {i + 1}"
        if key.endswith(" (attribute)"):  # this system's export, where a key met a column
            key = key.removesuffix(" (attribute)")
        columns.append(Column(i, name, role, key))
    return Mapping(fmt, variant(fmt, present), columns)


# --- values ----------------------------------------------------------------------------------


def flag(value: str) -> bool | None:
    """True, False, or None when ``value`` is not a yes/no word."""
    word = anyascii(value).strip().casefold()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    return None


_DMY = re.compile(r"^(\d{1,2})[-./](\d{1,2})[-./](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
# Go's time.String(), as listmonk exports it: "2024-01-05 10:22:33.123456 +0000 UTC"
_GO = re.compile(r"^(\S+ \d{2}:\d{2}:\d{2})(\.\d+)? ([+-]\d{4})(?: \S+)?$")


def parse_time(value: str, *, dayfirst: bool = False) -> datetime | None:
    """An aware datetime (naive times are taken as UTC), or None when unclear."""
    value = value.strip()
    if not value:
        return None
    if match := _GO.match(value):
        fraction = (match.group(2) or "")[:7]
        value = f"{match.group(1)}{fraction}{match.group(3)}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        match = _DMY.match(value)
        if not match:
            return None
        a, b, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if dayfirst or a > 12:
            day, month = a, b
        elif b > 12:
            day, month = b, a
        else:
            return None  # 03/04/2024: April or March? Not a guess for a consent record.
        hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
        try:
            parsed = datetime(year, month, day, hour, minute, second)  # noqa: DTZ001
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not 1970 <= parsed.year <= 9999:
        return None
    return parsed


def parse_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


@functools.cache
def _language_names() -> dict[str, str]:
    """Language names in English and in the language itself, accent- and case-blind
    ("german", "deutsch", "francais") → code, from Django's language table."""
    from django.conf.locale import LANG_INFO

    names = {}
    for code, info in LANG_INFO.items():
        if "name" not in info or "-" in code:
            continue
        for spelling in (info["name"], info.get("name_local", "")):
            if spelling:
                names.setdefault(anyascii(spelling).casefold(), code)
    return names


@functools.lru_cache(maxsize=512)
def parse_language(value: str) -> str | None:
    """A code for the Subscriber.language field: one of the site's languages or any
    ISO 639-1 code ("pt-BR" → "pt", "pol" → "pl"), also written as the language's name in
    English or in itself ("German", "Français" → "fr"); None when it is not a language."""
    value = value.strip()
    code = language_code(value)
    if code is not None:
        return code
    named = _language_names().get(anyascii(value).casefold())
    if named is not None:
        return language_code(named) or named
    try:
        language = langcodes.Language.get(value.replace("_", "-"))
    except (ValueError, LookupError):
        return None
    if language.language and len(language.language) == 2 and language.is_valid():
        return language.language
    return None


@dataclass
class Row:
    """One data row, read: what the importer needs and what it keeps."""

    line: int
    cells: list[str]
    email: str = ""
    name: str = ""
    language: str = ""
    list_slug: str = ""
    state: State = State.SUBSCRIBED
    subscribed_at: datetime | None = None
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    ip_address: str | None = None
    consent_text: str = ""
    reasons: list = field(default_factory=list)  # what the source said (``reason_of``)
    attributes: dict = field(default_factory=dict)
    error: str = ""  # a key of importing.REASONS when the row cannot be imported


def read_row(mapping: Mapping, line: int, cells: list[str]) -> Row:
    row = Row(line, cells)
    width = len(mapping.columns)
    if len(cells) > width and any(c.strip() for c in cells[width:]):
        row.error = "malformed"
        return row
    values: dict[str, str] = {}  # role → value
    keys: dict[str, str] = {}  # role → its column's attribute key
    for column in mapping.columns:
        raw = cells[column.index] if column.index < len(cells) else ""
        value = strip_neutraliser(raw.strip())
        role = column.role
        if role is None:
            if value:
                row.attributes[column.key] = value
            continue
        if role in KEPT and value:
            row.attributes[column.key] = value
        if value:
            values[role] = value
            keys[role] = column.key

    get = values.get
    row.email = get(Role.EMAIL, "")
    row.list_slug = get(Role.LIST, "")
    row.consent_text = get(Role.CONSENT_TEXT, "")
    if Role.NAME in values:
        row.name = values[Role.NAME]
        for role in (Role.FIRST_NAME, Role.LAST_NAME):  # kept too, not lost
            if role in values:
                row.attributes[keys[role]] = values[role]
    else:
        row.name = " ".join(values[r] for r in (Role.FIRST_NAME, Role.LAST_NAME) if r in values)

    if Role.LANGUAGE in values:
        code = parse_language(values[Role.LANGUAGE])
        if code is None:
            row.attributes[keys[Role.LANGUAGE]] = values[Role.LANGUAGE]  # kept, not lost
        else:
            row.language = code

    if Role.ATTRIBUTES in values:
        try:
            parsed = json.loads(values[Role.ATTRIBUTES])
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            for key, item in parsed.items():
                row.attributes.setdefault(str(key), item)
        else:
            row.attributes[keys[Role.ATTRIBUTES]] = values[Role.ATTRIBUTES]

    if mapping.has_times:
        _read_times(row, mapping, values, keys)
    _read_state(row, mapping, values)
    return row


_TIMES = (
    (Role.SUBSCRIBED_AT, "subscribed_at"),
    (Role.CONFIRMED_AT, "confirmed_at"),
    (Role.UNSUBSCRIBED_AT, "unsubscribed_at"),
)


def _read_times(row: Row, mapping: Mapping, values: dict, keys: dict) -> None:
    for role, attr in _TIMES:
        if raw := values.get(role):
            when = parse_time(raw, dayfirst=mapping.format.dayfirst)
            if when is None:
                row.attributes[keys[role]] = raw  # unclear: kept as it was written
            setattr(row, attr, when)
    for role in (Role.CONFIRM_IP, Role.SIGNUP_IP):
        if (raw := values.get(role)) and row.ip_address is None:
            row.ip_address = parse_ip(raw)
            if row.ip_address is None:
                row.attributes[keys[role]] = raw


_FLAGS = (
    (Role.SUBSCRIBED_FLAG, None, State.UNSUBSCRIBED),
    (Role.UNSUBSCRIBED_FLAG, State.UNSUBSCRIBED, None),
    (Role.BLOCKLISTED_FLAG, State.UNSUBSCRIBED, None),
    (Role.BOUNCED_FLAG, State.BOUNCED, None),
    (Role.COMPLAINED_FLAG, State.COMPLAINED, None),
    (Role.SUPPRESSED_FLAG, State.SUPPRESSED, None),
)
_TIMES_OF_STATE = (
    (Role.UNSUBSCRIBED_AT, State.UNSUBSCRIBED),
    (Role.CLEANED_AT, State.BOUNCED),
    (Role.DELETED_AT, State.DELETED),
)


def _read_state(row: Row, mapping: Mapping, values: dict) -> None:
    state = State.SUBSCRIBED
    reasons = []
    if row.email.lower().endswith(DELETED_DOMAINS):
        state = State.DELETED
    if not mapping.has_states:
        return _settle(row, state, reasons)
    if status := values.get(Role.STATUS):
        said = STATE_WORDS.get(normalise_header(status))
        if said is None:
            row.error = "unknown_status"
            return
        state = max(state, said)
        reasons.append(status)
    for role, when_true, when_false in _FLAGS:
        raw = values.get(role)
        if not raw:
            continue  # an empty cell says nothing either way
        answer = flag(raw)
        if answer is None:
            row.error = "unknown_status"
            return
        said = when_true if answer else when_false
        if said is not None:
            state = max(state, said)
            reasons.append(ROLE_LABELS[role])
    for role, said in _TIMES_OF_STATE:
        if role in values:
            state = max(state, said)
            reasons.append(ROLE_LABELS[role])
    reason = values.get(Role.REASON, "")
    if reason and re.search(r"spam|abuse", reason, re.IGNORECASE):
        state = State.COMPLAINED
        reasons.append(reason)
    return _settle(row, state, reasons)


def _settle(row: Row, state: State, reasons: list) -> None:
    row.state = state
    row.reasons = reasons


def reason_of(row: Row, mapping_name: str) -> str:
    """What the source said about the person, for the suppression or history record."""
    said = ", ".join(str(r) for r in row.reasons) or row.state.name.lower()
    return f"{mapping_name}: {said}"[:200]
