"""Imports uploaded in the admin: read and counted by the worker, shown as a preview,
imported by the worker once the editor confirms, then reported; the report can send the
people waiting for confirmation their confirmation email.

A job is a directory entry under ``SUBSCRIPTION_IMPORT_DIR``: the upload, the rejected
rows, and a JSON status that the pages read (written atomically). Tasks take the job id.

    uploaded ─► analysing ─► ready ─► queued ─► running ─► done
                    └──────► failed ◄──────────────┘
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import defaultdict
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from mailing import subscriptions
from mailing.import_formats import STATE_LABELS, Row, read_row
from mailing.importing import (
    REASONS,
    ImportFileError,
    ImportReport,
    import_subscribers,
    no_email_column,
    read_header,
)
from mailing.models import MailingList, SubscriberEvent, Subscription
from mailing.spreadsheets import FileUnreadable, Rows, TextFormat, detect

logger = logging.getLogger(__name__)
CONFIRMATION_CHUNK = 100
JOB_ID = re.compile(r"[0-9a-f]{32}")


def jobs_dir() -> Path:
    path = Path(settings.SUBSCRIPTION_IMPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_job_id(value: str) -> bool:
    """A job id as ``create_job`` makes them (uuid4 hex): nothing else names a file."""
    return bool(JOB_ID.fullmatch(value))


def job_paths(job_id: str) -> dict[str, Path]:
    if not is_job_id(job_id):
        raise ValueError(job_id)
    base = jobs_dir()
    return {
        "upload": base / f"{job_id}.upload",
        "rejects": base / f"{job_id}.rejected.csv",
        "status": base / f"{job_id}.json",
    }


def write_job(job_id: str, **status) -> dict:
    path = job_paths(job_id)["status"]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status), encoding="utf-8")
    tmp.replace(path)  # atomic: a page never reads half a file
    return status


def read_job(job_id: str) -> dict | None:
    try:
        return json.loads(job_paths(job_id)["status"].read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None


def _update(job_id: str, **changes) -> dict:
    return write_job(job_id, **{**(read_job(job_id) or {}), **changes})


def _enqueue(func: str, *args) -> None:
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(func, *args))


def _text_format(job: dict) -> TextFormat:
    preview = job["preview"]
    return TextFormat(
        encoding=preview["encoding"],
        delimiter=preview["delimiter"],
        encoding_detected=preview["encoding_detected"],
        delimiter_detected=preview["delimiter_detected"],
    )


def create_job(
    chunks,
    *,
    filename: str,
    mailing_list: MailingList,
    confirmed: bool,
    user,
    encoding="",
    delimiter="",
) -> str:
    """Save an upload and read its head (format, columns, first rows); the worker counts.

    Raises ImportFileError, with nothing kept, when the file cannot be read at all.
    """
    job_id = uuid.uuid4().hex
    paths = job_paths(job_id)
    with paths["upload"].open("wb") as saved:
        for chunk in chunks:
            saved.write(chunk)
    try:
        text_format = detect(paths["upload"], encoding=encoding, delimiter=delimiter)
        preview = inspect_file(paths["upload"], text_format)
        if not preview["has_email"]:
            raise ImportFileError(no_email_column(preview["header"]))
    except (FileUnreadable, ImportFileError) as exc:
        paths["upload"].unlink(missing_ok=True)
        raise ImportFileError(str(exc)) from exc
    write_job(
        job_id,
        status="analysing",
        file=filename,
        list_id=mailing_list.pk,
        list=mailing_list.name,
        confirmed=confirmed,
        by=str(user),
        at=timezone.now().isoformat(),
        preview=preview,
    )
    _enqueue("mailing.import_jobs.analyse_job", job_id)
    return job_id


def analyse_job(job_id: str) -> dict:
    """Task: read the whole file and count what the import would do, writing nothing."""
    job = read_job(job_id)
    if job is None or job.get("status") != "analysing":
        return {}
    mailing_list = MailingList.objects.filter(pk=job["list_id"]).first()
    if mailing_list is None:
        return _update(job_id, status="failed", error=_("The list was deleted."))
    path = job_paths(job_id)["upload"]
    try:
        report = import_subscribers(
            path,
            mailing_list,
            confirmed=job["confirmed"],
            text_format=_text_format(job),
            dry_run=True,
        )
    except ImportFileError as exc:
        path.unlink(missing_ok=True)
        return _update(job_id, status="failed", error=str(exc))
    return _update(job_id, status="ready", expected=report.as_dict())


def start_job(job_id: str) -> dict | None:
    """The editor confirmed the preview: the worker imports."""
    job = read_job(job_id)
    if job is None or job.get("status") != "ready":
        return None
    job = _update(job_id, status="queued")
    _enqueue("mailing.import_jobs.run_job", job_id)
    return job


def cancel_job(job_id: str) -> None:
    job = read_job(job_id)
    if job is not None and job.get("status") in ("analysing", "ready", "failed"):
        job_paths(job_id)["upload"].unlink(missing_ok=True)
        _update(job_id, status="cancelled")


def run_job(job_id: str) -> dict:
    """Task: import an uploaded file the editor confirmed; records the report."""
    paths = job_paths(job_id)
    job = read_job(job_id)
    if job is None or job.get("status") != "queued":
        return {}
    mailing_list = MailingList.objects.filter(pk=job["list_id"]).first()
    if mailing_list is None:
        return _update(job_id, status="failed", error=_("The list was deleted."))
    _update(job_id, status="running")
    error, report = "", None
    try:
        with paths["rejects"].open("w", newline="", encoding="utf-8") as rejects:
            report = import_subscribers(
                paths["upload"],
                mailing_list,
                confirmed=job["confirmed"],
                rejects=rejects,
                source_label=f"admin import by {job['by']}: {job['file']}",
                text_format=_text_format(job),
                import_id=job_id,
            )
    except ImportFileError as exc:
        error = str(exc)
    finally:
        paths["upload"].unlink(missing_ok=True)
    if report is None or not report.rejected:
        paths["rejects"].unlink(missing_ok=True)
    return _update(
        job_id,
        status="failed" if error else "done",
        error=error,
        report=report.as_dict() if report else None,
        finished=timezone.now().isoformat(),
    )


# --- confirmation emails for the people the import left pending ------------------------------


def pending_of_import(import_id: str) -> dict[int, list[int]]:
    """subscriber id → list ids still pending among the subscriptions an import created."""
    imported = SubscriberEvent.objects.filter(
        kind=SubscriberEvent.Kind.IMPORTED, detail__import=import_id, detail__status="pending"
    ).values_list("subscriber_id", "mailing_list_id")
    wanted = defaultdict(set)
    for subscriber_id, list_id in imported.iterator(chunk_size=5000):
        wanted[subscriber_id].add(list_id)
    still = defaultdict(list)
    ids = list(wanted)
    for start in range(0, len(ids), 5000):
        for subscriber_id, list_id in Subscription.objects.filter(
            subscriber_id__in=ids[start : start + 5000], status=Subscription.Status.PENDING
        ).values_list("subscriber_id", "mailing_list_id"):
            if list_id in wanted[subscriber_id]:
                still[subscriber_id].append(list_id)
    return dict(still)


def queue_confirmations(import_id: str, *, by: str = "") -> int:
    """Send each person this import left pending one confirmation email, through the
    worker (``subscriptions.send_confirmation``); returns how many people."""
    pending = pending_of_import(import_id)
    items = sorted(pending.items())
    for start in range(0, len(items), CONFIRMATION_CHUNK):
        _enqueue(
            "mailing.import_jobs.send_confirmations", items[start : start + CONFIRMATION_CHUNK]
        )
    if read_job(import_id) is not None:
        _update(
            import_id,
            confirmations={"people": len(items), "by": by, "at": timezone.now().isoformat()},
        )
    return len(items)


def queue_welcomes(import_id: str) -> int:
    """The list's welcome email to each person this import confirmed (still confirmed);
    returns how many subscriptions were queued."""
    from mailing.welcome import queue_welcome

    Kind = SubscriberEvent.Kind
    confirmed = SubscriberEvent.objects.filter(detail__import=import_id).filter(
        Q(kind=Kind.IMPORTED, detail__status="confirmed") | Q(kind=Kind.CONFIRMED)
    )
    still = Subscription.objects.filter(
        Exists(
            confirmed.filter(
                subscriber_id=OuterRef("subscriber_id"), mailing_list_id=OuterRef("mailing_list_id")
            )
        ),
        status=Subscription.Status.CONFIRMED,
    ).values_list("subscriber_id", "mailing_list_id")
    queued = 0
    for subscriber_id, list_id in still.iterator(chunk_size=5000):
        queue_welcome(subscriber_id, [list_id])
        queued += 1
    return queued


def send_confirmations(items: list) -> int:
    """Task: one confirmation email per (subscriber id, list ids); returns how many went."""
    sent = 0
    for subscriber_id, list_ids in items:
        try:
            sent += bool(subscriptions.send_confirmation(subscriber_id, list_ids))
        except Exception:  # noqa: BLE001 - one refused address must not stop the others
            logger.exception("confirmation email to subscriber %s failed", subscriber_id)
    return sent


def report_of(job: dict) -> ImportReport | None:
    return ImportReport.from_dict(job["report"]) if job.get("report") else None


# --- the preview ------------------------------------------------------------------------------

PREVIEW_ROWS = 5


def inspect_file(path: Path, text_format: TextFormat) -> dict:
    """What the upload's preview shows before any count: format, columns and the first
    rows read."""
    header, mapping = read_header(path, text_format)
    first = []
    rows = iter(Rows(path, text_format))
    for _line, cells in rows:
        if any(c.strip() for c in cells):
            break
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        row = read_row(mapping, line, cells)
        first.append(
            {
                "line": line,
                "email": row.email,
                "name": row.name,
                "language": row.language,
                "state": str(_state_label(row)),
                "attributes": ", ".join(f"{k}: {v}" for k, v in row.attributes.items())[:200],
            }
        )
        if len(first) >= PREVIEW_ROWS:
            break
    return {
        "has_email": mapping.has_email,
        "header": header,
        "format": mapping.name,
        "encoding": text_format.encoding,
        "encoding_label": text_format.encoding_label,
        "encoding_detected": text_format.encoding_detected,
        "delimiter": text_format.delimiter,
        "delimiter_label": str(text_format.delimiter_label),
        "delimiter_detected": text_format.delimiter_detected,
        "columns": [{"header": c.header, "use": str(c.label)} for c in mapping.columns],
        "status_columns": [c.header for c in mapping.status_columns],
        "rows": first,
    }


def _state_label(row: Row):
    return REASONS[row.error] if row.error else STATE_LABELS[row.state]
