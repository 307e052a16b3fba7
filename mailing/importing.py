"""Subscribers imported from files other tools wrote, streamed so that memory does not
grow with the file.

A file is read as ``mailing.spreadsheets`` tells (encoding, delimiter) and understood as
``mailing.import_formats`` tells (columns, and what the source knew about each person).
Every row ends in exactly one count of the report (``accounted``): subscribed, pending,
confirmed, recorded as unsubscribed, suppressed, unchanged, or rejected with its line and
reason in the rejects file. The whole file is parsed before anything is written, so a
file that stops being CSV half-way changes nothing; rows are then written in batches
(``mailing.bulk_writes``: ``COPY`` on PostgreSQL, ``bulk_create`` elsewhere), a few
queries per batch, each batch in one transaction.

A dry run (``dry_run=True``) does the same reading and the same lookups without writing:
the admin shows its counts before the import.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mailing.answered_later import AnsweredLater
from mailing.bulk_writes import (
    commit_without_waiting,
    insert_rows,
    rows_matching,
)
from mailing.import_formats import (
    Mapping,
    Row,
    State,
    map_headers,
    read_row,
    reason_of,
)
from mailing.models import (
    MailingList,
    Subscriber,
    SubscriberEvent,
    Subscription,
    Suppression,
    email_hash,
    legacy_email_hash,
    search_key,
)
from mailing.spreadsheets import (
    DELIMITERS,
    SNIFF_CHARS,
    FileUnreadable,
    Rows,
    SafeWriter,
    TextFormat,
    detect,
    verify_encoding,
)
from mailing.subscriptions import clean_email

BATCH_SIZE = 1000
Kind = SubscriberEvent.Kind
Status = Subscription.Status

REASONS = {
    "missing_email": _("no email address"),
    "invalid_email": _("invalid email address"),
    "duplicate": _("duplicate of an earlier row in the file"),
    "suppressed": _("address is suppressed (bounced, complained, erased or blocked)"),
    "unknown_list": _("unknown list"),
    "name_too_long": _("name longer than 200 characters"),
    "malformed": _("more cells than the header has columns"),
    "unsubscribed": _("unsubscribed from this list earlier; not subscribed again"),
    "blocklisted": _("subscriber is blocklisted"),
    "unknown_status": _(
        "status not understood; not imported, so that nobody who left is subscribed again"
    ),
    "deleted_in_source": _("deleted, blocked or refused as spam in the source; not imported"),
}

#: The report's counts, in the order people read them.
COUNTS = {
    "subscribed": _("new subscriptions, confirmed"),
    "pending": _("new subscriptions, waiting for confirmation"),
    "confirmed": _("pending subscriptions confirmed"),
    "unsubscribed": _("recorded as unsubscribed, as in the file"),
    "suppressed": _("suppressed (bounced or complained, as in the file)"),
    "unchanged": _("already so here: unchanged"),
    "rejected": _("rejected"),
}


# A plain ASCII address: a dot-atom local part, a domain of letters, digits and hyphens.
# email-validator keeps such a local part as it is and only normalises and checks the
# domain, so the domain is checked once per file (`_Addresses`); any other address takes
# the full check (`clean_email`).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_DOMAINS_KEPT = 10_000  # bounded memory, whatever the file


class _Addresses:
    """`clean_email`, with the domains of plain addresses checked once each."""

    def __init__(self):
        self.domains: dict[str, str | None] = {}

    def clean(self, address: str) -> str:
        address = (address or "").strip()
        match = _PLAIN_ADDRESS.fullmatch(address)
        if match is None or len(match.group(1)) > 64:
            return clean_email(address)
        local, domain = match.groups()
        if domain not in self.domains:
            if len(self.domains) >= _DOMAINS_KEPT:
                self.domains.clear()
            try:
                self.domains[domain] = clean_email(f"a@{domain}").rpartition("@")[2]
            except ValidationError:
                self.domains[domain] = None
        normal = self.domains[domain]
        if normal is None:
            raise ValidationError(_("Enter a valid email address."), code="invalid")
        cleaned = f"{local}@{normal}"
        return cleaned if len(cleaned) <= 254 else clean_email(address)


class ImportFileError(ValueError):
    """The file cannot be imported (unreadable, no header, no email column)."""


@dataclass
class ImportReport:
    rows: int = 0
    subscribed: int = 0
    pending: int = 0
    confirmed: int = 0
    unsubscribed: int = 0
    suppressed: int = 0
    unchanged: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def accounted(self) -> bool:
        return self.rows == sum(getattr(self, key) for key in COUNTS)

    def counts(self) -> list[tuple[bool, str, int]]:
        """(is a rejection reason, label, count): each count, then each rejection reason."""
        out = [(False, str(label), getattr(self, key)) for key, label in COUNTS.items()]
        out += [(True, str(REASONS[key]), n) for key, n in self.reasons.most_common()]
        return out

    def summary_lines(self) -> list[str]:
        lines = [str(_("rows read: %(n)d") % {"n": self.rows})]
        lines += [f"{'  ' if reason else ''}{label}: {n}" for reason, label, n in self.counts()]
        return lines

    def as_dict(self) -> dict:
        return {"rows": self.rows, **{k: getattr(self, k) for k in COUNTS}, "reasons": self.reasons}

    @classmethod
    def from_dict(cls, data: dict) -> ImportReport:
        report = cls(**{k: v for k, v in data.items() if k != "reasons"})
        report.reasons = Counter(data.get("reasons", {}))
        return report


@dataclass(slots=True)
class _Item:
    row: Row
    address: str
    hash: str
    mailing_list: MailingList
    # The hash of the spelling as typed under the rule used before addresses were
    # normalised: the only trace of some people erased before then.
    legacy_hash: str = ""


@dataclass
class _Plan:
    new_subscribers: dict = field(default_factory=dict)  # hash → _Item
    new_subscriptions: list = field(default_factory=list)  # (_Item, status)
    confirm: list = field(default_factory=list)  # (_Item, subscription id, subscriber id)
    unsubscribe: list = field(default_factory=list)  # (_Item, subscription id, subscriber id)
    suppress: list = field(default_factory=list)  # (_Item, subscriber id or None)


class _Importer:
    def __init__(
        self,
        mailing_list,
        *,
        confirmed,
        rejects,
        source,
        consent_text,
        batch_size,
        dry_run=False,
        import_id="",
    ):
        self.default_list = mailing_list
        self.confirmed = confirmed
        self.rejects = SafeWriter(rejects) if rejects is not None else None
        self.source = source[:100]
        self.consent_text = consent_text
        self.batch_size = batch_size
        self.dry_run = dry_run
        self.import_id = import_id
        self.report = ImportReport()
        self.lists = {mailing_list.slug: mailing_list}
        # 8-byte digests of (list, address) already seen: duplicates are caught in
        # bounded memory (about 50 bytes a row) without keeping the addresses.
        self.seen: set[int] = set()
        # A dry run writes nothing, so it remembers what it would have suppressed.
        self.planned_suppressions: set[str] = set()
        self.header: list[str] = []
        self.mapping_name = ""
        self.addresses = _Addresses()
        # PostgreSQL: a batch's commit answered later (see `_commits_answered_later`).
        self.later = False
        self.unanswered: AnsweredLater | None = None

    def reject(self, row: Row, reason: str) -> None:
        self.report.rejected += 1
        self.report.reasons[reason] += 1
        if self.rejects is None:
            return
        if self.rejects.writer is None:
            # line and reason first: a row with surplus cells cannot shift them.
            self.rejects.writerow(["line", "reason", *self.header])
        self.rejects.writerow([row.line, str(REASONS[reason]), *row.cells])

    def run(self, rows: Iterable[tuple[int, list[str]]], mapping: Mapping | None = None):
        rows = iter(rows)
        for _line, cells in rows:
            if any(c.strip() for c in cells):
                self.header = cells
                break
        else:
            raise ImportFileError(_("The file is empty."))
        mapping = mapping or map_headers(self.header)
        self.mapping_name = mapping.name
        if not mapping.has_email:
            raise ImportFileError(no_email_column(self.header))
        with self._commits_answered_later():
            batch: list[_Item] = []
            for line, cells in rows:
                if not any(c.strip() for c in cells):
                    continue  # blank lines are not rows
                self.report.rows += 1
                item = self.validate(read_row(mapping, line, cells))
                if item is None:
                    continue
                if len(batch) >= self.batch_size:  # a full batch, and more rows to come
                    self.flush(batch, last=False)
                    batch = []
                batch.append(item)
            if batch:
                self.flush(batch, last=True)
        return self.report

    def validate(self, row: Row) -> _Item | None:
        if row.error:
            return self.reject(row, row.error)
        if not row.email:
            return self.reject(row, "missing_email")
        try:
            address = self.addresses.clean(row.email)
        except Exception:
            return self.reject(row, "invalid_email")
        mailing_list = self.default_list
        if slug := row.list_slug:
            if slug not in self.lists:
                self.lists[slug] = MailingList.objects.filter(slug=slug).first()
            mailing_list = self.lists[slug]
            if mailing_list is None:
                return self.reject(row, "unknown_list")
        if len(row.name) > 200:
            return self.reject(row, "name_too_long")
        key = int.from_bytes(
            hashlib.blake2b(f"{mailing_list.pk}:{address.lower()}".encode(), digest_size=8).digest()
        )
        if key in self.seen:
            return self.reject(row, "duplicate")
        self.seen.add(key)
        return _Item(row, address, email_hash(address), mailing_list, legacy_email_hash(row.email))

    # --- one batch: decide, then write -----------------------------------------------------

    @contextmanager
    def _commits_answered_later(self):
        """On PostgreSQL, when the caller holds no transaction: each batch but the last
        sends its COMMIT and reads the answer only when the next batch's first statement
        goes, so the server runs the batch's deferred foreign-key checks and commits while
        this process reads and checks the next rows (waiting for the commits took 3.3 s of
        the 14.5 s a 100,000-row import spent in its batches). Meanwhile the connection is
        in Django's manual transaction mode, each batch one transaction as before;
        autocommit is back on afterwards."""
        self.later = (
            connection.vendor == "postgresql"
            and not self.dry_run
            and connection.get_autocommit()
            and not connection.in_atomic_block
        )
        if not self.later:
            yield
            return
        connection.set_autocommit(False)
        try:
            yield
        finally:
            try:
                self.settle()
            finally:
                # After the last commit there is nothing to roll back; after an error, the
                # batch that failed goes.
                connection.rollback()
                connection.set_autocommit(True)

    def settle(self) -> None:
        """Read the answer of the previous batch's COMMIT, if it is still on its way (and
        raise its error: that batch is then not written, as any batch that fails)."""
        pending, self.unanswered = self.unanswered, None
        if pending is not None:
            pending.read()

    def flush(self, batch: list[_Item], *, last: bool):
        if not self.later:
            with transaction.atomic():
                self._decide_and_write(batch, last=last)
            return
        self.settle()
        try:
            self._decide_and_write(batch, last=last)
            if last:
                connection.commit()
        except BaseException:
            connection.rollback()
            raise
        if not last:
            self.unanswered = AnsweredLater("COMMIT", [], self.settle)

    def _decide_and_write(self, batch: list[_Item], *, last: bool):
        """One batch, inside its transaction."""
        if not (last or self.dry_run):
            # The last batch's commit waits for the disk, and so makes every batch
            # before it durable (see `commit_without_waiting`).
            commit_without_waiting()
        plan = self.plan(batch)
        if not self.dry_run:
            self.apply(plan, timezone.now())

    def plan(self, batch: list[_Item]) -> _Plan:
        hashes = {i.hash for i in batch}
        suppressed = self.planned_suppressions | {
            h
            for (h,) in rows_matching(
                Suppression, "email_hash", hashes | {i.legacy_hash for i in batch}, ("email_hash",)
            )
        }
        for item in batch:
            if item.legacy_hash in suppressed:
                suppressed.add(item.hash)
        known = {
            h: (pk, status)
            for h, pk, status in rows_matching(
                Subscriber, "email_hash", hashes, ("email_hash", "id", "status")
            )
        }
        existing = {
            (subscriber_id, list_id): _Found(pk, status, created_at, confirmed_at)
            for pk, subscriber_id, list_id, status, created_at, confirmed_at in rows_matching(
                Subscription,
                "subscriber",
                (pk for pk, _status in known.values()),
                ("id", "subscriber", "mailing_list", "status", "created_at", "confirmed_at"),
                where={"mailing_list": {i.mailing_list.pk for i in batch}},
            )
        }
        plan, report = _Plan(), self.report
        for item in batch:
            row, state = item.row, item.row.state
            subscriber_id, subscriber_status = known.get(
                item.hash, (None, Subscriber.Status.ACTIVE)
            )
            if state >= State.SUPPRESSED:
                if item.hash in suppressed:
                    report.unchanged += 1
                else:
                    suppressed.add(item.hash)
                    plan.suppress.append((item, subscriber_id))
                    report.suppressed += 1
                continue
            if state == State.DELETED:
                self.reject(row, "deleted_in_source")
                continue
            if item.hash in suppressed or subscriber_status != Subscriber.Status.ACTIVE:
                if state == State.UNSUBSCRIBED:
                    report.unchanged += 1  # never mailed here either
                else:
                    self.reject(row, "suppressed" if item.hash in suppressed else "blocklisted")
                continue
            found = existing.get((subscriber_id, item.mailing_list.pk))
            if state == State.UNSUBSCRIBED:
                if found is None:
                    self._new_subscription(plan, item, subscriber_id, Status.UNSUBSCRIBED)
                    report.unsubscribed += 1
                elif found.status == Status.UNSUBSCRIBED or _joined_since(found, row):
                    report.unchanged += 1
                else:
                    plan.unsubscribe.append((item, found.pk, subscriber_id))
                    report.unsubscribed += 1
                continue
            confirmed = self.confirmed and state == State.SUBSCRIBED
            if found is None:
                status = Status.CONFIRMED if confirmed else Status.PENDING
                self._new_subscription(plan, item, subscriber_id, status)
                if confirmed:
                    report.subscribed += 1
                else:
                    report.pending += 1
            elif found.status == Status.UNSUBSCRIBED:
                self.reject(row, "unsubscribed")
            elif found.status == Status.PENDING and confirmed:
                plan.confirm.append((item, found.pk, subscriber_id))
                report.confirmed += 1
            else:
                report.unchanged += 1
        if self.dry_run:
            self.planned_suppressions.update(i.hash for i, _sid in plan.suppress)
        return plan

    @staticmethod
    def _new_subscription(plan, item, subscriber_id, status):
        if subscriber_id is None:
            plan.new_subscribers.setdefault(item.hash, item)
        plan.new_subscriptions.append((item, status))

    def apply(self, plan: _Plan, now) -> None:
        ids = self._create_subscribers(plan.new_subscribers.values(), now)
        ids.update(
            rows_matching(
                Subscriber,
                "email_hash",
                {i.hash for i, _status in plan.new_subscriptions} - set(plan.new_subscribers),
                ("email_hash", "id"),
            )
        )
        events = []

        def event(item, subscriber_id, kind, **detail):
            events.append(
                {
                    "subscriber_id": subscriber_id,
                    "mailing_list_id": item.mailing_list.pk,
                    "kind": kind,
                    "created_at": now,
                    "source": self.source,
                    "ip_address": None,
                    "detail": {"line": item.row.line, "import": self.import_id, **detail},
                }
            )

        subscriptions = []
        for item, status in plan.new_subscriptions:
            row = item.row
            subscriptions.append(
                {
                    "subscriber_id": ids[item.hash],
                    "mailing_list_id": item.mailing_list.pk,
                    "status": status,
                    "created_at": row.subscribed_at or now,
                    "confirmed_at": (row.confirmed_at or row.subscribed_at or now)
                    if status == Status.CONFIRMED
                    else None,
                    "unsubscribed_at": (row.unsubscribed_at or now)
                    if status == Status.UNSUBSCRIBED
                    else None,
                    "source": self.source,
                    "ip_address": row.ip_address,
                    "consent_text": row.consent_text
                    or self.consent_text
                    or item.mailing_list.consent_text,
                }
            )
            event(item, ids[item.hash], Kind.IMPORTED, status=status)
        insert_rows(Subscription, subscriptions, ignore_conflicts=True)
        if plan.confirm:
            Subscription.objects.filter(
                pk__in=[pk for _i, pk, _s in plan.confirm], status=Status.PENDING
            ).update(status=Status.CONFIRMED, confirmed_at=now)
            for item, _pk, subscriber_id in plan.confirm:
                event(item, subscriber_id, Kind.CONFIRMED)
        for item, pk, subscriber_id in plan.unsubscribe:
            Subscription.objects.filter(
                pk=pk, status__in=(Status.PENDING, Status.CONFIRMED)
            ).update(status=Status.UNSUBSCRIBED, unsubscribed_at=item.row.unsubscribed_at or now)
            event(
                item,
                subscriber_id,
                Kind.UNSUBSCRIBED,
                reason=reason_of(item.row, self.mapping_name),
            )
        if plan.suppress:
            reasons = {
                State.BOUNCED: Suppression.Reason.HARD_BOUNCE,
                State.COMPLAINED: Suppression.Reason.COMPLAINT,
                State.SUPPRESSED: Suppression.Reason.MANUAL,
            }
            kinds = {State.BOUNCED: Kind.BOUNCED, State.COMPLAINED: Kind.COMPLAINED}
            Suppression.objects.bulk_create(
                [
                    Suppression(
                        email_hash=item.hash,
                        reason=reasons[item.row.state],
                        detail=reason_of(item.row, self.mapping_name),
                        created_at=now,
                    )
                    for item, _sid in plan.suppress
                ],
                ignore_conflicts=True,
            )
            for item, subscriber_id in plan.suppress:
                if subscriber_id is not None:
                    kind = kinds.get(item.row.state, Kind.SUPPRESSED)
                    event(item, subscriber_id, kind, reason=reasons[item.row.state])
        insert_rows(SubscriberEvent, events)

    def _create_subscribers(self, items: Iterable[_Item], now) -> dict[str, int]:
        """email_hash → id for the new subscribers of a batch (created unless a signup of
        the same address landed meanwhile)."""
        new = [
            {
                "email": i.address,
                "email_hash": i.hash,
                "name": i.row.name,
                "language": i.row.language or "en",
                "attributes": i.row.attributes,
                "created_at": now,
                "search_text": search_key(i.address, i.row.name),
            }
            for i in items
        ]
        if not new:
            return {}
        inserted = insert_rows(
            Subscriber, new, ignore_conflicts=True, returning=("email_hash", "id")
        )
        ids = dict(inserted or ())
        # Not inserted: a signup of the same address landed meanwhile (or, off PostgreSQL,
        # the ids are not returned at all).
        ids.update(
            rows_matching(
                Subscriber,
                "email_hash",
                {s["email_hash"] for s in new} - set(ids),
                ("email_hash", "id"),
            )
        )
        return ids


@dataclass(slots=True)
class _Found:
    """A subscription already there, as far as the plan needs it."""

    pk: int
    status: str
    created_at: object
    confirmed_at: object


def _joined_since(subscription: _Found, row: Row) -> bool:
    """Subscribed here after the source says they left: the newer choice stands."""
    joined = subscription.confirmed_at or subscription.created_at
    return bool(row.unsubscribed_at and joined and joined > row.unsubscribed_at)


# --- entry points ----------------------------------------------------------------------------


def _stream_rows(source: TextIO) -> Iterator[tuple[int, list[str]]]:
    """Rows of an already decoded stream (tests, callers holding text)."""
    dialect = csv.excel
    if source.seekable():
        sample = source.read(SNIFF_CHARS)
        source.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
            dialect.doublequote = True
        except csv.Error:
            dialect = csv.excel
    reader = csv.reader(source, dialect)
    start = 1
    for cells in reader:
        yield start, cells
        start = reader.line_num + 1


def read_header(path: Path, text_format: TextFormat) -> tuple[list[str], Mapping]:
    try:
        for _line, cells in Rows(path, text_format):
            if any(c.strip() for c in cells):
                return cells, map_headers(cells)
    except FileUnreadable as exc:
        raise ImportFileError(str(exc)) from exc
    raise ImportFileError(_("The file is empty."))


def check_file(
    path: Path, *, text_format: TextFormat | None = None, encoding: str = "", delimiter: str = ""
) -> TextFormat:
    """How to read ``path``, once every line of it was read: refuse it whole otherwise."""
    try:
        if text_format is None:
            text_format = detect(path, encoding=encoding, delimiter=delimiter)
        else:
            verify_encoding(path, text_format.encoding)
        header, mapping = read_header(path, text_format)
        if not mapping.has_email:
            raise ImportFileError(no_email_column(header))
        for _row in Rows(path, text_format):
            pass
    except FileUnreadable as exc:
        raise ImportFileError(str(exc)) from exc
    return text_format


def no_email_column(header: list[str]) -> str:
    return _("The file has no column of email addresses (headers: %(headers)s).") % {
        "headers": ", ".join(h for h in header if h)[:300]
    }


def import_subscribers(
    source: TextIO | Path | str,
    mailing_list: MailingList,
    *,
    confirmed: bool = False,
    rejects: TextIO | None = None,
    source_label: str = "import",
    consent_text: str = "",
    batch_size: int = BATCH_SIZE,
    text_format: TextFormat | None = None,
    dry_run: bool = False,
    import_id: str = "",
) -> ImportReport:
    """Import a file (a path: encoding and delimiter detected) or a text stream into
    ``mailing_list``; a header row is required, with a column of email addresses.

    :param rejects: a text stream receiving the rejected rows as CSV: ``line`` and
        ``reason`` columns, then the row's original cells.
    :param confirmed: the importer holds each person's consent: subscriptions are
        confirmed at once, unless the file says they never confirmed.
    :param dry_run: count what would happen; write nothing (not even ``rejects``).
    :param import_id: recorded in the history, to find this import's people again.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        text_format = check_file(path, text_format=text_format)
        rows = Rows(path, text_format)
    else:
        rows = _stream_rows(source)
    importer = _Importer(
        mailing_list,
        confirmed=confirmed,
        rejects=None if dry_run else rejects,
        source=source_label,
        consent_text=consent_text,
        batch_size=batch_size,
        dry_run=dry_run,
        import_id=import_id,
    )
    try:
        return importer.run(rows)
    except FileUnreadable as exc:  # only a stream can still fail here
        raise ImportFileError(str(exc)) from exc
