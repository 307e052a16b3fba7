"""The campaign report: counters, event counts and the chart (sends and events in time
buckets, as SVG polyline data), read together so that they always agree."""

import math
from collections import Counter
from datetime import timedelta

from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.db.models.functions import TruncHour, TruncMinute, TruncSecond
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from mailing.models import Bounce, Campaign, CampaignLink, Delivery, DeliveryEvent, Engagement
from mailing.sending.transports.capabilities import esp_name


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


# --- engagement: delivered, bounced, opened, clicked, unsubscribed ----------------------


def transport_label() -> tuple[str, str | None]:
    """(what sends, the anymail ESP name or None for SMTP and other Django backends)."""
    name = esp_name()
    return (name or "SMTP"), name


# What each figure rests on, for the transport in use (shown under the report).
def sources(campaign: Campaign) -> list[tuple[str, str]]:
    label, esp = transport_label()
    # ESPs whose webhooks report deliveries (the README's capability table).
    no_webhooks = {"scaleway"}
    if esp is None:
        delivered = _(
            "accepted by the receiving mail server (SMTP 250), less the messages that bounced later"
        )
    elif esp in no_webhooks:
        delivered = _("not reported: %(esp)s sends no delivery webhooks") % {"esp": label}
    else:
        delivered = _("reported by %(esp)s's delivery webhooks") % {"esp": label}
    bounced = (
        _("the mail server's refusals and the bounce messages that came back")
        if esp is None
        else _("%(esp)s's bounce webhooks") % {"esp": label}
    )
    opened = (
        _(
            "our invisible image, for lists that track opens; automatic loads by Apple Mail "
            "Privacy Protection are counted apart"
        )
        if campaign.track_opens
        else _("not measured: none of the lists tracks opens")
        if esp is None
        else _("%(esp)s's open webhooks, when its open tracking is on") % {"esp": label}
    )
    clicked = (
        _("our link redirect on this site")
        if campaign.track_clicks
        else _("not measured: a list of this campaign does not track clicks")
        if esp is None
        else _("%(esp)s's click webhooks, when its click tracking is on") % {"esp": label}
    )
    return [
        (_("Delivered"), delivered),
        (_("Bounced"), bounced),
        (_("Complained"), _("feedback loops of the mail providers, where they report")),
        (_("Opened"), opened),
        (_("Clicked"), clicked),
        (_("Unsubscribed"), _("the unsubscribe link and the one-click header of this campaign")),
    ]


def figures(campaign: Campaign, *, flush: bool = True) -> dict:
    """The report's figures, each counting recipients (deliveries) except ``clicks``.

    ``flush``: first store the clicks and opens still queued, so the figures are current.
    """
    from mailing import hits

    if flush:
        hits.flush()
    deliveries = campaign.deliveries
    sent = deliveries.filter(status=Delivery.Status.SENT).count()
    events = dict(
        DeliveryEvent.objects.filter(delivery__campaign=campaign)
        .values_list("kind")
        .annotate(n=Count("delivery_id", distinct=True))
        .order_by()
    )
    bounces = dict(
        Bounce.objects.filter(delivery__campaign=campaign)
        .values_list("type")
        .annotate(n=Count("delivery_id", distinct=True))
        .order_by()
    )
    bounced_any = (
        deliveries.filter(
            Q(bounces__type__in=[Bounce.Type.HARD, Bounce.Type.SOFT])
            | Q(events__kind=DeliveryEvent.Kind.BOUNCED)
        )
        .distinct()
        .count()
    )
    complained = (
        deliveries.filter(
            Q(bounces__type=Bounce.Type.COMPLAINT) | Q(events__kind=DeliveryEvent.Kind.COMPLAINED)
        )
        .distinct()
        .count()
    )
    engaged = dict(
        Engagement.objects.filter(campaign=campaign)
        .values_list("kind")
        .annotate(n=Count("id"), readers=Count("delivery_id", distinct=True))
        .order_by()
        .values_list("kind", "readers")
    )
    clicks = Engagement.objects.filter(campaign=campaign, kind=Engagement.Kind.CLICK).count()
    if not campaign.track_clicks:
        clicks = DeliveryEvent.objects.filter(
            delivery__campaign=campaign, kind=DeliveryEvent.Kind.CLICKED
        ).count()
    _label, esp = transport_label()
    delivered = (
        max(0, sent - bounced_any) if esp is None else events.get(DeliveryEvent.Kind.DELIVERED, 0)
    )
    return {
        "sent": sent,
        "delivered": delivered,
        "bounced": bounced_any,
        "bounced_hard": bounces.get(Bounce.Type.HARD, 0),
        "bounced_soft": bounces.get(Bounce.Type.SOFT, 0),
        "complained": complained,
        "opened": events.get(DeliveryEvent.Kind.OPENED, 0),
        "machine_opened": engaged.get(Engagement.Kind.MACHINE_OPEN, 0),
        "clicked": events.get(DeliveryEvent.Kind.CLICKED, 0),
        "clicks": clicks,
        "unsubscribed": events.get(DeliveryEvent.Kind.UNSUBSCRIBED, 0),
    }


def language_rows(campaign: Campaign) -> list[dict]:
    """The campaign per language its readers got (``mailing.variants``): recipients, sent,
    failed, and readers who opened or clicked; empty when it went out in one language."""
    from mailing import languages

    sent, failed = Delivery.Status.SENT, Delivery.Status.FAILED
    rows = (
        campaign.deliveries.values("variant__language")
        .annotate(
            recipients=Count("id", distinct=True),
            sent=Count("id", filter=Q(status=sent), distinct=True),
            failed=Count("id", filter=Q(status=failed), distinct=True),
            opened=Count("id", filter=Q(events__kind=DeliveryEvent.Kind.OPENED), distinct=True),
            clicked=Count("id", filter=Q(events__kind=DeliveryEvent.Kind.CLICKED), distinct=True),
        )
        .order_by()
    )
    merged: dict[str, dict] = {}
    for row in rows:
        code = row.pop("variant__language") or campaign.language
        into = merged.setdefault(code, dict.fromkeys(row, 0))
        for key, value in row.items():
            into[key] += value
    if len(merged) < 2:
        return []
    ordered = sorted(merged.items(), key=lambda item: (-item[1]["recipients"], item[0]))
    return [{"code": code, "name": languages.name(code), **counts} for code, counts in ordered]


def link_rows(campaign: Campaign) -> list[dict]:
    """Each tracked link with its clicks (total) and clickers (unique), most clicked first."""
    rows = (
        CampaignLink.objects.filter(campaign=campaign)
        .select_related("page")
        .annotate(
            n=Count("engagements"),
            readers=Count("engagements__delivery", distinct=True),
        )
        .order_by("-n", "position")
    )
    return [
        {
            "url": row.url,
            "page": row.page_id,
            "page_title": row.page.title if row.page else "",
            "clicks": row.n,
            "unique": row.readers,
        }
        for row in rows
    ]


def page_rows(campaign: Campaign) -> list[dict]:
    """Clicks credited to each content page the campaign linked to (several links to one
    page add up; unique readers are counted once per page)."""
    rows = (
        Engagement.objects.filter(campaign=campaign, link__page__isnull=False)
        .values("link__page", "link__page__title")
        .annotate(n=Count("id"), readers=Count("delivery_id", distinct=True))
        .order_by("-n", "link__page__title")
    )
    return [
        {
            "page": row["link__page"],
            "title": row["link__page__title"],
            "clicks": row["n"],
            "unique": row["readers"],
            "edit_url": reverse("wagtailadmin_pages:edit", args=[row["link__page"]]),
        }
        for row in rows
    ]


def page_clicks(page) -> dict:
    """Clicks from newsletters to ``page``, summed across issues, and per campaign."""
    from mailing import hits

    hits.flush()
    per_campaign = list(
        Engagement.objects.filter(link__page=page)
        .values("campaign", "campaign__page__title", "campaign__started_at")
        .annotate(n=Count("id"), readers=Count("delivery_id", distinct=True))
        .order_by("-campaign__started_at", "-campaign")
    )
    return {
        "clicks": sum(row["n"] for row in per_campaign),
        "unique": sum(row["readers"] for row in per_campaign),
        "campaigns": [
            {
                "campaign": row["campaign"],
                "issue": row["campaign__page__title"],
                "started_at": local(row["campaign__started_at"]),
                "clicks": row["n"],
                "unique": row["readers"],
                "url": reverse("mailing_campaign", args=[row["campaign"]]),
            }
            for row in per_campaign
        ],
    }
