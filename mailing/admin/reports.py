"""The campaign report's chart: sends and events in time buckets, as SVG polyline data."""

import math
from datetime import timedelta

from django.db.models import Count
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


def _series(campaign: Campaign, trunc) -> dict:
    series = {
        "sent": list(
            campaign.deliveries.filter(status=Delivery.Status.SENT, sent_at__isnull=False)
            .annotate(t=trunc("sent_at"))
            .values_list("t")
            .annotate(n=Count("id"))
            .order_by("t")
        )
    }
    for kind in ("opened", "clicked", "bounced"):
        series[kind] = list(
            DeliveryEvent.objects.filter(delivery__campaign=campaign, kind=kind)
            .annotate(t=trunc("occurred_at"))
            .values_list("t")
            .annotate(n=Count("id"))
            .order_by("t")
        )
    return series


def chart(campaign: Campaign, width=640, height=160) -> dict:
    """Cumulative sends and events, in buckets sized to the campaign's span, as SVG."""
    sent = campaign.deliveries.filter(status=Delivery.Status.SENT, sent_at__isnull=False)
    events = DeliveryEvent.objects.filter(
        delivery__campaign=campaign, kind__in=["opened", "clicked", "bounced"]
    )
    moments = [
        m
        for qs, field in ((sent, "sent_at"), (events, "occurred_at"))
        for m in (
            qs.order_by(field).values_list(field, flat=True).first(),
            qs.order_by(f"-{field}").values_list(field, flat=True).first(),
        )
        if m is not None
    ]
    if not moments:
        return {}
    span = (max(moments) - min(moments)).total_seconds()
    size = bucket_seconds(span)
    trunc = TruncSecond if size < 60 else TruncMinute if size < 3600 else TruncHour
    series = _series(campaign, trunc)

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
