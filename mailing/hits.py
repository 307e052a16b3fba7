"""Clicks and opens recorded without touching the database in the request, then stored in batches.

The redirect and the pixel only append one short line to a queue: a Redis list when
``REDIS_URL`` is set (shared by every web process and machine), else a spool file per
web process under ``TRACKING_SPOOL_DIR`` (the embedded default: one machine). ``flush``
moves what is queued into the database in one transaction: ``Engagement`` rows for
the report, and ``DeliveryEvent`` rows (the first click of a reader on each link, the
first open of each reader) for segments and the event counts. It runs on the worker's
every-minute schedule, when a process queued ``TRACKING_FLUSH_EVERY`` hits (in a
background thread, never in the request), and before a report is read.

A queued line is ``kind delivery link unix-time``; kinds: ``c`` click, ``o`` open,
``m`` an automatic image load (Apple Mail Privacy Protection).
"""

from __future__ import annotations

import atexit
import collections
import fcntl
import ipaddress
import logging
import os
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connections, transaction
from django.dispatch import receiver

from mailing.models import CampaignLink, Delivery, DeliveryEvent, Engagement

logger = logging.getLogger(__name__)

CLICK, OPEN, MACHINE_OPEN = "c", "o", "m"
KINDS = {
    CLICK: Engagement.Kind.CLICK,
    OPEN: Engagement.Kind.OPEN,
    MACHINE_OPEN: Engagement.Kind.MACHINE_OPEN,
}
REDIS_QUEUE, REDIS_WORK, REDIS_LOCK = (
    "mailing:tracking:queue",
    "mailing:tracking:work",
    "mailing:tracking:lock",
)
# DeliveryEvent.esp_event_id of the events we write, so ours are told from an ESP's.
EVENT_ID = {CLICK: "tracking:click:{}", OPEN: "tracking:open"}


def flush_every() -> int:
    return getattr(settings, "TRACKING_FLUSH_EVERY", 500)


# --- machine opens -----------------------------------------------------------------------


def machine_networks():
    names = getattr(settings, "TRACKING_MACHINE_OPEN_NETWORKS", ["17.0.0.0/8"])
    return [ipaddress.ip_network(name, strict=False) for name in names]


def is_machine_open(user_agent: str, ip: str | None) -> bool:
    """An image load by a proxy on the message's arrival, not a person opening it.

    Apple Mail Privacy Protection fetches every remote image through Apple's proxies
    when the message arrives, with the bare user agent ``Mozilla/5.0``; requests from
    Apple's own network (17.0.0.0/8, plus ``TRACKING_MACHINE_OPEN_NETWORKS``) that do
    not even claim to be a browser are proxies too.
    """
    agent = (user_agent or "").strip()
    if agent == "Mozilla/5.0":
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return "mozilla" not in agent.lower() and any(address in net for net in machine_networks())


# --- the queue ---------------------------------------------------------------------------


class RedisQueue:
    """A Redis list shared by every process. A request only appends to this process's
    buffer; a shipper thread pushes the buffer every ``SHIP_SECONDS`` in one RPUSH (and at
    exit), so no request waits for a round trip to Redis. A process killed outright loses
    at most that fraction of a second of clicks."""

    SHIP_SECONDS = 0.1

    def __init__(self, url: str):
        import redis

        self.redis = redis.Redis.from_url(url)
        self.pending = collections.deque()
        self.shipper, self.pid = None, None
        self.lock = threading.Lock()

    def append(self, line: str) -> int:
        self.pending.append(line)
        if self.pid != os.getpid() or self.shipper is None or not self.shipper.is_alive():
            with self.lock:
                if self.pid != os.getpid() or self.shipper is None or not self.shipper.is_alive():
                    self.pid = os.getpid()
                    self.shipper = threading.Thread(target=self._ship_forever, daemon=True)
                    self.shipper.start()
                    atexit.register(self.ship)
        return 0  # the shipper starts a flush when the list is long

    def _ship_forever(self):
        while True:
            time.sleep(self.SHIP_SECONDS)
            try:
                queued = self.ship()
            except Exception:  # noqa: BLE001 - Redis away: the lines wait in the buffer
                logger.exception("could not push tracked clicks to Redis")
                time.sleep(1)
                continue
            if queued >= flush_every():
                threading.Thread(target=_flush_in_background, daemon=True).start()

    def ship(self) -> int:
        """Push this process's buffer; the list's length after it (0 when nothing went)."""
        lines = []
        while self.pending:
            lines.append(self.pending.popleft())
        if not lines:
            return 0
        try:
            return int(self.redis.rpush(REDIS_QUEUE, *lines))
        except Exception:
            self.pending.extendleft(reversed(lines))
            raise

    @contextmanager
    def drain(self):
        """The queued lines, removed from Redis only once the caller stored them; a flush
        that died midway leaves its lines in the work list for the next one."""
        self.ship()
        token = uuid.uuid4().hex
        if not self.redis.set(REDIS_LOCK, token, nx=True, ex=300):
            yield []  # another process is flushing
            return
        try:
            if not self.redis.exists(REDIS_WORK):
                try:
                    self.redis.rename(REDIS_QUEUE, REDIS_WORK)
                except Exception as exc:  # noqa: BLE001 - redis: "no such key": nothing queued
                    if "no such key" not in str(exc).lower():
                        raise
            lines = [raw.decode() for raw in self.redis.lrange(REDIS_WORK, 0, -1)]
            yield lines
            self.redis.delete(REDIS_WORK)
        finally:
            if self.redis.get(REDIS_LOCK) == token.encode():
                self.redis.delete(REDIS_LOCK)


class SpoolQueue:
    """Spool files, one per web process, appended under a lock; drained by renaming."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.appended = 0

    def path(self) -> Path:
        return self.directory / f"{os.getpid()}.log"

    def append(self, line: str) -> int:
        data = line.encode()
        for _attempt in range(5):
            path = self.path()
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except FileNotFoundError:
                self.directory.mkdir(parents=True, exist_ok=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                # A flush renamed the file between our open and our lock: write to the new one.
                try:
                    same = os.stat(path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    os.write(fd, data)
                    self.appended += 1
                    return self.appended
            finally:
                os.close(fd)
        raise OSError(f"could not append to the tracking spool in {self.directory}")

    @contextmanager
    def drain(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / "flush.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield []  # another process is flushing
                return
            for path in self.directory.glob("*.log"):
                try:
                    path.rename(path.with_name(f"{path.stem}.{uuid.uuid4().hex}.work"))
                except FileNotFoundError:
                    continue
            works = sorted(self.directory.glob("*.work"))
            lines = []
            for work in works:
                with open(work, "rb") as handle:
                    # Waits for a writer that opened the file before the rename.
                    fcntl.flock(handle, fcntl.LOCK_EX)
                    lines += handle.read().decode("utf-8", "replace").splitlines()
            yield lines
            for work in works:
                work.unlink(missing_ok=True)
            self.appended = 0


_queue = None
_queue_lock = threading.Lock()
SETTINGS = {"REDIS_URL", "TRACKING_SPOOL_DIR", "TRACKING_FLUSH_EVERY", "VAR_DIR"}


def queue():
    """This process's queue, made once from the settings (again when a test changes them)."""
    global _queue
    if _queue is not None:
        return _queue
    with _queue_lock:
        if _queue is None:
            redis_url = getattr(settings, "REDIS_URL", "")
            spool = Path(getattr(settings, "TRACKING_SPOOL_DIR", settings.VAR_DIR / "tracking"))
            _queue = RedisQueue(redis_url) if redis_url else SpoolQueue(spool)
            _queue.flush_every = flush_every()
        return _queue


@receiver(setting_changed)
def _forget_queue(setting, **kwargs):
    global _queue
    if setting in SETTINGS:
        _queue = None


# --- recording ---------------------------------------------------------------------------

_flushing = threading.Lock()


def record(kind: str, delivery_id: int, link_id: int = 0) -> None:
    """Queue one hit; past ``TRACKING_FLUSH_EVERY`` queued, flush in a background thread."""
    backend = queue()
    size = backend.append(f"{kind} {delivery_id} {link_id} {int(time.time())}\n")
    if size >= backend.flush_every and size % backend.flush_every == 0:
        threading.Thread(target=_flush_in_background, daemon=True).start()


def _flush_in_background():
    if not _flushing.acquire(blocking=False):
        return
    try:
        flush()
    except Exception:  # noqa: BLE001 - the schedule will try again; never lose the request
        logger.exception("flushing tracked clicks and opens")
    finally:
        _flushing.release()
        connections.close_all()


def flush() -> int:
    """Store every queued hit; how many were stored."""
    with queue().drain() as lines:
        return store(lines)


def _parse(lines):
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or parts[0] not in KINDS:
            continue
        try:
            delivery, link, moment = int(parts[1]), int(parts[2]), int(parts[3])
        except ValueError:
            continue
        yield parts[0], delivery, link, datetime.fromtimestamp(moment, tz=UTC)


def store(lines) -> int:
    hits = list(_parse(lines))
    if not hits:
        return 0
    delivery_ids = {d for _k, d, _l, _t in hits}
    link_ids = {link for k, _d, link, _t in hits if k == CLICK}
    campaign_of = dict(
        Delivery.objects.filter(pk__in=delivery_ids).values_list("pk", "campaign_id")
    )
    link_campaign = dict(
        CampaignLink.objects.filter(pk__in=link_ids).values_list("pk", "campaign_id")
    )
    rows, wanted = [], {}
    for kind, delivery, link, moment in hits:
        campaign = campaign_of.get(delivery)
        if campaign is None:
            continue  # the campaign was deleted since
        if kind == CLICK and link_campaign.get(link) != campaign:
            continue
        rows.append(
            Engagement(
                campaign_id=campaign,
                delivery_id=delivery,
                link_id=link if kind == CLICK else None,
                kind=KINDS[kind],
                occurred_at=moment,
            )
        )
        if kind in EVENT_ID:
            event_id = EVENT_ID[kind].format(link)
            wanted.setdefault((delivery, event_id), (kind, moment, link))
    with transaction.atomic():
        Engagement.objects.bulk_create(rows, batch_size=500)
        existing = set(
            DeliveryEvent.objects.filter(
                delivery_id__in={d for d, _e in wanted},
                kind__in=[DeliveryEvent.Kind.CLICKED, DeliveryEvent.Kind.OPENED],
                esp_event_id__startswith="tracking:",
            ).values_list("delivery_id", "esp_event_id")
        )
        events = [
            DeliveryEvent(
                delivery_id=delivery,
                kind=DeliveryEvent.Kind.CLICKED if kind == CLICK else DeliveryEvent.Kind.OPENED,
                occurred_at=moment,
                esp_event_id=event_id,
                detail="our click tracking" if kind == CLICK else "our open pixel",
                raw={"source": "tracking", **({"link": link} if kind == CLICK else {})},
            )
            for (delivery, event_id), (kind, moment, link) in wanted.items()
            if (delivery, event_id) not in existing
        ]
        DeliveryEvent.objects.bulk_create(events, batch_size=500)
    return len(rows)


def credit_unsubscribe(delivery_id: int | None, subscriber_id: int) -> bool:
    """An unsubscribe through a campaign's link or header, as that delivery's event (once)."""
    if not delivery_id:
        return False
    delivery = Delivery.objects.filter(pk=delivery_id, subscriber_id=subscriber_id).first()
    if delivery is None:
        return False
    _event, created = DeliveryEvent.objects.get_or_create(
        delivery=delivery,
        kind=DeliveryEvent.Kind.UNSUBSCRIBED,
        esp_event_id="tracking:unsubscribe",
        defaults={"detail": "unsubscribed through the link in this message"},
    )
    return created
