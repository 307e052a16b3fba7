"""HTTP validators and response caches.

Pages (`validated_response`): the ETag is derived from the keys of the page fragments a
response holds (`cms.api.fragments`), with the URL, so it moves exactly when the answer
does. Images, documents and the calendar (`cached_response`): every response is a
function of (published content, request URL, time for date-relative filters); the
content version moves on every change to published content (see
`cms.api.signal_handlers`), so an ETag built from it and the URL is exact, and the same
key can hold the rendered body for other requests.
"""

import hashlib
import json
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Subquery
from django.http import HttpResponse, HttpResponseNotModified
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date, parse_http_date_safe, quote_etag
from wagtail.models import Page

from cms.api.models import ContentVersion

# Bump when the shape of the JSON changes, so CDNs and browsers drop old copies.
SCHEMA_VERSION = "2"  # 2: meta.locale and meta.translations on pages


class UTCJSONEncoder(DjangoJSONEncoder):
    """Every date-time as UTC (`…Z`), in whatever zone it was read: a page read from the
    database and a draft rebuilt from its revision (in the site's zone) look the same."""

    def default(self, o):
        if isinstance(o, datetime):
            if timezone.is_naive(o):
                o = timezone.make_aware(o)
            o = o.astimezone(UTC)
        return super().default(o)


def json_response(data, status=200) -> HttpResponse:
    body = json.dumps(data, cls=UTCJSONEncoder, ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(body, status=status, content_type="application/json")


def time_bucket(request) -> str:
    """Responses that depend on “now” (upcoming events) also change as time passes."""
    if request.GET.get("upcoming") is None and not request.path.endswith(".ics"):
        return ""
    return str(int(time.time()) // settings.API_TIME_BUCKET_SECONDS)


def cached_response(request, build):
    """Serve `build()` (an HttpResponse) with ETag, Last-Modified and a shared cache.

    Only 200 responses are cached and validated; errors pass through untouched.
    """
    version, expired = content_state()
    fingerprint = "|".join(
        [
            SCHEMA_VERSION,
            # The time as well as the counter: a restored or recreated database restarts
            # the counter, and must not meet the bodies cached for the old one.
            f"{version.counter}@{version.changed_at.isoformat()}",
            expired.isoformat() if expired else "",
            request.get_full_path(),
            time_bucket(request),
        ]
    )
    etag = quote_etag(hashlib.sha256(fingerprint.encode()).hexdigest()[:32])
    last_modified = int(max(version.changed_at, expired or version.changed_at).timestamp())

    if _not_modified(request, etag, last_modified):
        response = HttpResponseNotModified()
        _set_validators(response, etag, last_modified)
        return response

    key = f"cms-api:{etag}"
    timeout = settings.API_CACHE_TIMEOUT
    hit = cache.get(key) if timeout else None
    if hit is not None:
        body, cached_type = hit
        response = HttpResponse(body, content_type=cached_type)
    else:
        response = build()
        if response.status_code != 200:
            return response
        if timeout:
            cache.set(key, (response.content, response["Content-Type"]), timeout)
    _set_validators(response, etag, last_modified)
    return response


def validated_response(request, parts, last_modified: datetime, body) -> HttpResponse:
    """A 304 when the client holds this answer, else `body()` (JSON bytes); both with an
    ETag made of `parts` (what the body is built from) and the URL."""
    fingerprint = "|".join(
        [SCHEMA_VERSION, request.get_full_path(), time_bucket(request), *map(str, parts)]
    )
    etag = quote_etag(hashlib.sha256(fingerprint.encode()).hexdigest()[:32])
    last_modified = int(last_modified.timestamp())
    if _not_modified(request, etag, last_modified):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body(), content_type="application/json")
    _set_validators(response, etag, last_modified)
    return response


def content_state():
    """The content version and when the latest page still live passed its `expire_at`.

    Such a page leaves every answer at once, before `publish_scheduled` unpublishes it
    (which moves the version): the expiry moves the validators in between. One query.
    """
    latest_expiry = (
        Page.objects.filter(live=True, expire_at__lte=timezone.now())
        .order_by("-expire_at")
        .values("expire_at")[:1]
    )
    version = ContentVersion.objects.filter(pk=1).annotate(expired=Subquery(latest_expiry)).first()
    if version is None:  # a fresh database
        version = ContentVersion.current()
        row = latest_expiry.first()
        version.expired = row["expire_at"] if row else None
    return version, version.expired


def _not_modified(request, etag, last_modified) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match:
        candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag in candidates or "*" in candidates
    since = parse_http_date_safe(request.headers.get("If-Modified-Since") or "")
    return since is not None and last_modified <= since


def _set_validators(response, etag, last_modified):
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    response["Cache-Control"] = settings.API_CACHE_CONTROL
    patch_vary_headers(response, ["Accept", "Origin"])


def never_cache_response(response):
    response["Cache-Control"] = "private, no-store"
    return response
