"""An iCalendar (RFC 5545) feed of upcoming events, for external sites and calendars."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from django.utils import timezone

from cms.api.caching import cached_response
from cms.api.representation import Context

CRLF = "\r\n"


def escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11)."""
    return (
        str(text)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (§3.1)."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(encoded):
        end = min(start + limit, len(encoded))
        while end < len(encoded) and (encoded[end] & 0xC0) == 0x80:
            end -= 1  # don't cut inside a multi-byte character
        parts.append(encoded[start:end].decode())
        start, limit = end, 74  # continuation lines start with a space
    return (CRLF + " ").join(parts)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(events, *, now=None) -> str:
    now = now or timezone.now()
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    ctx = Context()
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//{escape(settings.WAGTAIL_SITE_NAME)}//Events//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(settings.WAGTAIL_SITE_NAME)} events",
    ]
    for event in events:
        url = ctx.frontend_url(event.url_path)
        description = event.summary + (f"\n\n{url}" if url else "")
        lines += [
            "BEGIN:VEVENT",
            f"UID:event-{event.pk}@{host}",
            f"DTSTAMP:{utc(now)}",
            f"DTSTART:{utc(event.start)}",
        ]
        if event.end:
            lines.append(f"DTEND:{utc(event.end)}")
        lines += [
            f"SUMMARY:{escape(event.title)}",
            f"DESCRIPTION:{escape(description)}",
            f"LOCATION:{escape(event.location)}",
        ]
        if url:
            lines.append(f"URL:{url}")
        if event.last_published_at:
            lines.append(f"LAST-MODIFIED:{utc(event.last_published_at)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return CRLF.join(fold(line) for line in lines) + CRLF


def upcoming_events_ics(request):
    """The upcoming events; `?locale=fr` keeps those of one language."""
    from wagtail.api.v2.utils import BadRequestError

    from cms.api.views import locale_param

    try:
        locale = locale_param(request)
    except BadRequestError as e:
        return HttpResponseBadRequest(f"{e}\n", content_type="text/plain; charset=utf-8")

    def build():
        from cms.api.views import public_pages
        from cms.models import EventPage

        pages = public_pages(request)
        if locale is not None:
            pages = pages.filter(locale__language_code=locale)
        events = EventPage.objects.filter(pk__in=pages.values("pk")).upcoming()
        return HttpResponse(calendar(events), content_type="text/calendar; charset=utf-8")

    return cached_response(request, build)
