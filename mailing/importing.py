"""CSV import and export of subscribers, streamed so that memory does not grow with the file.

Import: every row is either imported (or found already there) or written to the
rejects file with its line number and reason; nothing is dropped silently. Valid rows go
to the database in batches (``bulk_create``), a few queries per batch.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mailing.models import (
    MailingList,
    Subscriber,
    SubscriberEvent,
    Subscription,
    Suppression,
    email_hash,
)
from mailing.subscriptions import clean_email, language_code

BATCH_SIZE = 1000
CORE_COLUMNS = {"email", "name", "language", "list"}
HEADER_ALIASES = {
    "e-mail": "email",
    "email address": "email",
    "e-mail address": "email",
    "mail": "email",
    "full name": "name",
    "lang": "language",
    "list slug": "list",
}

REASONS = {
    "missing_email": _("no email address"),
    "invalid_email": _("invalid email address"),
    "duplicate": _("duplicate of an earlier row in the file"),
    "suppressed": _("address is suppressed (bounced, complained, erased or blocked)"),
    "unknown_list": _("unknown list"),
    "unknown_language": _("unknown language"),
    "name_too_long": _("name longer than 200 characters"),
    "malformed": _("more cells than the header has columns"),
    "unsubscribed": _("unsubscribed from this list earlier; not subscribed again"),
    "blocklisted": _("subscriber is blocklisted"),
}


class ImportFileError(ValueError):
    """The file cannot be imported (no header, no email column) or stops being CSV text.

    ``report`` holds what was done before the problem, if anything was.
    """

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    confirmed: int = 0
    unchanged: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def accounted(self) -> bool:
        return self.rows == self.imported + self.confirmed + self.unchanged + self.rejected

    def summary_lines(self) -> list[str]:
        lines = [
            _("rows read: %(n)d") % {"n": self.rows},
            _("new subscriptions: %(n)d") % {"n": self.imported},
            _("pending subscriptions confirmed: %(n)d") % {"n": self.confirmed},
            _("already subscribed: %(n)d") % {"n": self.unchanged},
            _("rejected: %(n)d") % {"n": self.rejected},
        ]
        lines += [f"  {REASONS[key]}: {n}" for key, n in self.reasons.most_common()]
        return lines


@dataclass(slots=True)
class _Row:
    line: int
    cells: list[str]
    address: str
    hash: str
    name: str
    language: str
    attributes: dict
    mailing_list: MailingList


class _Importer:
    def __init__(self, mailing_list, *, confirmed, rejects, source, consent_text, batch_size):
        self.default_list = mailing_list
        self.confirmed = confirmed
        self.rejects_file = rejects
        self.rejects = None
        self.source = source[:100]
        self.consent_text = consent_text
        self.batch_size = batch_size
        self.report = ImportReport()
        self.lists = {mailing_list.slug: mailing_list}
        # 8-byte digests of (list, address) already seen: duplicates are caught in
        # bounded memory (about 50 bytes a row) without keeping the addresses.
        self.seen: set[int] = set()
        self.header: list[str] = []

    def reject(self, line: int, cells: list[str], reason: str):
        self.report.rejected += 1
        self.report.reasons[reason] += 1
        if self.rejects_file is None:
            return
        if self.rejects is None:
            self.rejects = csv.writer(self.rejects_file)
            # line and reason first: a row with surplus cells cannot shift them.
            self.rejects.writerow(["line", "reason", *self.header])
        self.rejects.writerow([line, str(REASONS[reason]), *cells])

    def run(self, source: TextIO) -> ImportReport:
        reader = csv.reader(source)
        try:
            self.header = next(reader)
        except StopIteration as exc:
            raise ImportFileError(_("The file is empty.")) from exc
        columns = [HEADER_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in self.header]
        if "email" not in columns:
            raise ImportFileError(_("The file has no “email” column."))
        index = {name: i for i, name in reversed(list(enumerate(columns)))}
        extra = [
            (i, self.header[i].strip()) for i, c in enumerate(columns) if c not in CORE_COLUMNS
        ]
        batch: list[_Row] = []
        try:
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue  # blank lines are not rows
                self.report.rows += 1
                row = self.validate(reader.line_num, cells, columns, index, extra)
                if row is not None:
                    batch.append(row)
                if len(batch) >= self.batch_size:
                    self.flush(batch)
                    batch = []
        except (UnicodeDecodeError, csv.Error) as exc:
            if batch:
                self.flush(batch)
            raise ImportFileError(
                _(
                    "The file stops being readable CSV text after line %(line)d (%(error)s); "
                    "the %(rows)d rows before it were handled as reported."
                )
                % {"line": reader.line_num, "error": exc, "rows": self.report.rows},
                report=self.report,
            ) from exc
        if batch:
            self.flush(batch)
        return self.report

    def validate(self, line, cells, columns, index, extra) -> _Row | None:
        if len(cells) > len(columns):
            return self.reject(line, cells, "malformed")

        def cell(name):
            i = index.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        raw = cell("email")
        if not raw:
            return self.reject(line, cells, "missing_email")
        try:
            address = clean_email(raw)
        except Exception:
            return self.reject(line, cells, "invalid_email")
        mailing_list = self.default_list
        if slug := cell("list"):
            if slug not in self.lists:
                self.lists[slug] = MailingList.objects.filter(slug=slug).first()
            mailing_list = self.lists[slug]
            if mailing_list is None:
                return self.reject(line, cells, "unknown_list")
        language = language_code(cell("language"))
        if language is None:
            return self.reject(line, cells, "unknown_language")
        name = cell("name")
        if len(name) > 200:
            return self.reject(line, cells, "name_too_long")
        key = int.from_bytes(
            hashlib.blake2b(f"{mailing_list.pk}:{address.lower()}".encode(), digest_size=8).digest()
        )
        if key in self.seen:
            return self.reject(line, cells, "duplicate")
        self.seen.add(key)
        attributes = {
            label: cells[i].strip() for i, label in extra if i < len(cells) and cells[i].strip()
        }
        return _Row(
            line, cells, address, email_hash(address), name, language, attributes, mailing_list
        )

    def flush(self, batch: list[_Row]):
        now = timezone.now()
        hashes = {r.hash for r in batch}
        with transaction.atomic():
            suppressed = set(
                Suppression.objects.filter(email_hash__in=hashes).values_list(
                    "email_hash", flat=True
                )
            )
            rows = []
            for r in batch:
                if r.hash in suppressed:
                    self.reject(r.line, r.cells, "suppressed")
                else:
                    rows.append(r)
            subscribers = self._subscribers(rows, now)
            list_ids = {r.mailing_list.pk for r in rows}
            existing = {
                (s.subscriber_id, s.mailing_list_id): s
                for s in Subscription.objects.filter(
                    subscriber_id__in=[pk for pk, _status in subscribers.values()],
                    mailing_list_id__in=list_ids,
                ).only("pk", "subscriber_id", "mailing_list_id", "status")
            }
            status = (
                Subscription.Status.CONFIRMED if self.confirmed else Subscription.Status.PENDING
            )
            new_subscriptions, events, to_confirm = [], [], []
            for r in rows:
                subscriber_id, subscriber_status = subscribers[r.hash]
                if subscriber_status != Subscriber.Status.ACTIVE:
                    self.reject(r.line, r.cells, "blocklisted")
                    continue
                found = existing.get((subscriber_id, r.mailing_list.pk))
                if found is None:
                    new_subscriptions.append(
                        Subscription(
                            subscriber_id=subscriber_id,
                            mailing_list_id=r.mailing_list.pk,
                            status=status,
                            created_at=now,
                            confirmed_at=now if self.confirmed else None,
                            source=self.source,
                            consent_text=self.consent_text or r.mailing_list.consent_text,
                        )
                    )
                    events.append(
                        SubscriberEvent(
                            subscriber_id=subscriber_id,
                            mailing_list_id=r.mailing_list.pk,
                            kind=SubscriberEvent.Kind.IMPORTED,
                            created_at=now,
                            source=self.source,
                            detail={"status": status, "line": r.line},
                        )
                    )
                    self.report.imported += 1
                elif found.status == Subscription.Status.UNSUBSCRIBED:
                    self.reject(r.line, r.cells, "unsubscribed")
                elif found.status == Subscription.Status.PENDING and self.confirmed:
                    to_confirm.append(found.pk)
                    events.append(
                        SubscriberEvent(
                            subscriber_id=subscriber_id,
                            mailing_list_id=r.mailing_list.pk,
                            kind=SubscriberEvent.Kind.CONFIRMED,
                            created_at=now,
                            source=self.source,
                            detail={"line": r.line},
                        )
                    )
                    self.report.confirmed += 1
                else:
                    self.report.unchanged += 1
            Subscription.objects.bulk_create(new_subscriptions, ignore_conflicts=True)
            if to_confirm:
                Subscription.objects.filter(
                    pk__in=to_confirm, status=Subscription.Status.PENDING
                ).update(status=Subscription.Status.CONFIRMED, confirmed_at=now)
            SubscriberEvent.objects.bulk_create(events)

    def _subscribers(self, rows: list[_Row], now) -> dict[str, tuple[int, str]]:
        """email_hash → (id, status), creating the subscribers not yet known."""
        hashes = {r.hash for r in rows}
        known = {
            h: (pk, status)
            for h, pk, status in Subscriber.objects.filter(email_hash__in=hashes).values_list(
                "email_hash", "pk", "status"
            )
        }
        new, queued = [], set()
        for r in rows:
            if r.hash in known or r.hash in queued:
                continue
            queued.add(r.hash)
            new.append(
                Subscriber(
                    email=r.address,
                    email_hash=r.hash,
                    name=r.name,
                    language=r.language or "en",
                    attributes=r.attributes,
                    created_at=now,
                )
            )
        if new:
            # ignore_conflicts: a signup of the same address may land meanwhile.
            Subscriber.objects.bulk_create(new, ignore_conflicts=True)
            known.update(
                (h, (pk, status))
                for h, pk, status in Subscriber.objects.filter(email_hash__in=queued).values_list(
                    "email_hash", "pk", "status"
                )
            )
        return known


def import_subscribers(
    source: TextIO,
    mailing_list: MailingList,
    *,
    confirmed: bool = False,
    rejects: TextIO | None = None,
    source_label: str = "import",
    consent_text: str = "",
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import a CSV stream (header row; ``email`` required) into ``mailing_list``.

    :param rejects: a text stream receiving the rejected rows as CSV: ``line`` and
        ``reason`` columns, then the row's original cells.
    :param confirmed: the importer holds each person's consent: subscriptions are
        confirmed at once (otherwise they stay pending).
    """
    importer = _Importer(
        mailing_list,
        confirmed=confirmed,
        rejects=rejects,
        source=source_label,
        consent_text=consent_text,
        batch_size=batch_size,
    )
    return importer.run(source)


# --- export ---------------------------------------------------------------------------------

EXPORT_COLUMNS = [
    "email",
    "name",
    "language",
    "status",
    "subscribed_at",
    "confirmed_at",
    "unsubscribed_at",
    "source",
    "ip_address",
    "consent_text",
    "suppressed",
]


def _safe_cell(value) -> str:
    """Stop spreadsheets from running a cell as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_rows(mailing_list: MailingList, *, status: str | None = None) -> Iterator[list[str]]:
    """The header, then one row per subscription of the list (erased people excluded)."""
    subscriptions = (
        Subscription.objects.filter(mailing_list=mailing_list)
        .exclude(subscriber__status=Subscriber.Status.ERASED)
        .select_related("subscriber")
        .annotate(
            suppressed=Exists(
                Suppression.objects.filter(email_hash=OuterRef("subscriber__email_hash"))
            )
        )
        .order_by("pk")
    )
    if status:
        subscriptions = subscriptions.filter(status=status)
    keys: set[str] = set()
    for attributes in subscriptions.values_list("subscriber__attributes", flat=True).iterator(
        chunk_size=5000
    ):
        if attributes:
            keys.update(attributes)
    attribute_keys = sorted(keys - set(EXPORT_COLUMNS))
    yield EXPORT_COLUMNS + attribute_keys

    def when(value):
        return value.isoformat() if value else ""

    for s in subscriptions.iterator(chunk_size=2000):
        subscriber = s.subscriber
        yield [
            subscriber.email,
            _safe_cell(subscriber.name),
            subscriber.language,
            s.status,
            when(s.created_at),
            when(s.confirmed_at),
            when(s.unsubscribed_at),
            _safe_cell(s.source),
            s.ip_address or "",
            _safe_cell(s.consent_text),
            "yes" if s.suppressed else "no",
            *(_safe_cell(subscriber.attributes.get(k, "")) for k in attribute_keys),
        ]


class _Echo:
    def write(self, value):
        return value


def export_csv_lines(mailing_list: MailingList, *, status: str | None = None) -> Iterator[str]:
    """CSV text line by line, for streaming responses and stdout."""
    writer = csv.writer(_Echo())
    for row in export_rows(mailing_list, status=status):
        yield writer.writerow(row)


# --- admin uploads: imported by the worker, so that a large file outlives no request ---------


def jobs_dir() -> Path:
    path = Path(settings.SUBSCRIPTION_IMPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_paths(job_id: str) -> dict[str, Path]:
    if not job_id.isalnum():
        raise ValueError(job_id)
    base = jobs_dir()
    return {
        "upload": base / f"{job_id}.upload.csv",
        "rejects": base / f"{job_id}.rejected.csv",
        "status": base / f"{job_id}.json",
    }


def write_job_status(job_id: str, **status) -> None:
    path = job_paths(job_id)["status"]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status), encoding="utf-8")
    tmp.replace(path)  # atomic: the admin page never reads half a file


def read_job_status(job_id: str) -> dict | None:
    try:
        return json.loads(job_paths(job_id)["status"].read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None


def run_import_job(job_id: str, list_id: int, confirmed: bool, source_label: str) -> dict:
    """Task: import an uploaded file saved under SUBSCRIPTION_IMPORT_DIR; records a status."""
    paths = job_paths(job_id)
    base = read_job_status(job_id) or {}
    mailing_list = MailingList.objects.filter(pk=list_id).first()
    if mailing_list is None:
        write_job_status(
            job_id, **{**base, "status": "failed", "error": str(_("The list was deleted."))}
        )
        return {}
    write_job_status(job_id, **{**base, "status": "running"})
    error, report = "", None
    try:
        with (
            paths["upload"].open(newline="", encoding="utf-8-sig") as source,
            paths["rejects"].open("w", newline="", encoding="utf-8") as rejects,
        ):
            report = import_subscribers(
                source,
                mailing_list,
                confirmed=confirmed,
                rejects=rejects,
                source_label=source_label,
            )
    except ImportFileError as exc:
        error, report = str(exc), exc.report
    except UnicodeDecodeError as exc:
        error = str(_("The file is not UTF-8 text: %(error)s")) % {"error": exc}
    finally:
        paths["upload"].unlink(missing_ok=True)
    if report is None or not report.rejected:
        paths["rejects"].unlink(missing_ok=True)
    status = {
        **base,
        "status": "failed" if error else "done",
        "error": error,
        "summary": [str(line) for line in report.summary_lines()] if report else [],
        "rejected": report.rejected if report else 0,
    }
    write_job_status(job_id, **status)
    return status
