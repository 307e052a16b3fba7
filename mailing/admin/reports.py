"""The campaign report: counters, event counts and the chart (sends and events in time
buckets, as SVG polyline data), read together so that they always agree."""

import math
from collections import Counter
from datetime import timedelta

from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.db.models.functions import TruncHour, TruncMinute, TruncSecond
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy, ngettext

from mailing.models import Campaign, Delivery, DeliveryEvent


def local(moment):
    return timezone.localtime(moment) if moment else None


# Bucket widths the chart may use, in seconds; the first giving at most MAX_BUCKETS wins.
BUCKETS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]
MAX_BUCKETS = 60
SERIES_LABELS = {
    "sent": gettext_lazy("Sent"),
    "opened": gettext_lazy("Opened"),
    "clicked": gettext_lazy("Clicked"),
    "bounced": gettext_lazy("Bounced"),
}
CHART_EVENTS = ("opened", "clicked", "bounced")
SERIES_COLOURS = {
    "sent": "#007d7e",
    "opened": "#d97706",
    "clicked": "#2563eb",
    "bounced": "#cd4444",
}


def bucket_seconds(span: float) -> int:
    for size in BUCKETS:
        if span / size <= MAX_BUCKETS:
            return size
    return math.ceil(span / MAX_BUCKETS / 86400) * 86400


def bucket_label(size: int) -> str:
    if size < 60:
        return ngettext("per second", "per %(n)s seconds", size) % {"n": size}
    if size < 3600:
        n = size // 60
        return ngettext("per minute", "per %(n)s minutes", n) % {"n": n}
    n = size // 3600
    return ngettext("per hour", "per %(n)s hours", n) % {"n": n}


def first_events(campaign: Campaign):
    """Each delivery's first event of each kind: counting them counts unique recipients."""
    earlier = DeliveryEvent.objects.filter(
        delivery_id=OuterRef("delivery_id"), kind=OuterRef("kind")
    ).filter(
        Q(occurred_at__lt=OuterRef("occurred_at"))
        | Q(occurred_at=OuterRef("occurred_at"), pk__lt=OuterRef("pk"))
    )
    return DeliveryEvent.objects.filter(delivery__campaign=campaign).filter(~Exists(earlier))


def _bounds(campaign: Campaign) -> list:
    """The first and last send and event: they size the chart's buckets."""
    sent = campaign.deliveries.filter(status=Delivery.Status.SENT, sent_at__isnull=False)
    events = DeliveryEvent.objects.filter(delivery__campaign=campaign, kind__in=CHART_EVENTS)
    return [
        moment
        for qs, name in ((sent, "sent_at"), (events, "occurred_at"))
        for moment in qs.aggregate(first=Min(name), last=Max(name)).values()
        if moment is not None
    ]


def snapshot(campaign: Campaign, width=640, height=160) -> dict:
    """Counters, report and chart from one reading of the ledger and one of the events.

    ``counts`` (recipients, sent, failed, pending), ``events`` (unique recipients per
    event kind) and ``chart``: the chart's lines are the same rows the counters sum, so
    "Sent" beside the chart always equals the chart's "Sent".
    """
    moments = _bounds(campaign)
    size = bucket_seconds((max(moments) - min(moments)).total_seconds()) if moments else 1
    trunc = TruncSecond if size < 60 else TruncMinute if size < 3600 else TruncHour
    ledger = (
        campaign.deliveries.annotate(t=trunc("sent_at"))
        .values_list("status", "t")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_status, sent_rows = Counter(), []
    for status, t, n in ledger:
        by_status[status] += n
        if status == Delivery.Status.SENT and t is not None:
            sent_rows.append((t, n))
    events = (
        first_events(campaign)
        .annotate(t=trunc("occurred_at"))
        .values_list("kind", "t")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_kind, event_rows = Counter(), {kind: [] for kind in CHART_EVENTS}
    for kind, t, n in events:
        by_kind[kind] += n
        if kind in event_rows:
            event_rows[kind].append((t, n))
    counts = {
        "recipients": campaign.recipients_count,
        "sent": by_status[Delivery.Status.SENT],
        "failed": by_status[Delivery.Status.FAILED],
        "pending": by_status[Delivery.Status.PENDING] + by_status[Delivery.Status.LEASED],
    }
    series = {"sent": sent_rows, **event_rows}
    return {
        "counts": counts,
        "events": {kind: by_kind[kind] for kind in DeliveryEvent.Kind.values},
        "chart": _chart(series, moments, size, width, height) if moments else {},
    }


def chart(campaign: Campaign, width=640, height=160) -> dict:
    """Cumulative sends and events (unique recipients), in buckets sized to the span, as SVG."""
    return snapshot(campaign, width, height)["chart"]


def _chart(series: dict, moments: list, size: int, width: int, height: int) -> dict:
    epoch = min(moments).replace(microsecond=0)
    start = epoch - timedelta(seconds=epoch.timestamp() % size)
    buckets = int((max(moments) - start).total_seconds() // size) + 1
    top = max(sum(n for _, n in rows) for rows in series.values()) or 1
    lines = []
    for kind, rows in series.items():
        if not rows:
            continue
        counts = [0] * buckets
        for t, n in rows:
            # Rows written after the bounds were read land in the last bucket.
            index = min(buckets - 1, max(0, int((t - start).total_seconds() // size)))
            counts[index] += n
        total, points = 0, [f"0,{height}"]
        for index, n in enumerate(counts):
            total += n
            x = round((index + 1) / buckets * width, 1)
            points.append(f"{x},{round(height - total / top * height, 1)}")
        lines.append(
            {
                "kind": kind,
                "label": SERIES_LABELS[kind],
                "colour": SERIES_COLOURS[kind],
                "points": " ".join(points),
                "total": total,
            }
        )
    end = start + timedelta(seconds=buckets * size)
    fmt = "H:i:s" if size < 60 else "H:i"
    ticks = []
    steps = min(buckets, 4)
    for i in range(steps + 1):
        moment = start + timedelta(seconds=buckets * size * i / steps)
        ticks.append({"x": round(width * i / steps, 1), "label": date_format(local(moment), fmt)})
    return {
        "width": width,
        "height": height,
        "lines": lines,
        "top": top,
        "ticks": ticks,
        "bucket": size,
        "bucket_label": bucket_label(size),
        "buckets": buckets,
        "start": local(start),
        "end": local(end),
    }
