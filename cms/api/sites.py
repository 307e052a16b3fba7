"""The request's Wagtail site, as the API needs it (its id and root page's path), cached
per host.

Wagtail's `Site.find_for_request` runs a query on every request, about a third of a
cold listing's own time. Its answer depends only on the Host header and the sites, so it
is kept in the cache per hostname and port, and forgotten whenever a site is saved or
deleted or a page moves (a root page's path may change): the way Wagtail keeps its own
site root paths (`Site.get_site_root_paths`), which the API reads as well. With a
local-memory cache per process (the embedded setup) another process sees a site's change
within `TIMEOUT` seconds; with Redis, at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.http.request import split_domain_port
from wagtail.models import Site

KEY = "cms-api:sites"
TIMEOUT = 60
MAX_HOSTS = 64  # hosts remembered at once (ALLOWED_HOSTS usually bounds them anyway)


@dataclass(frozen=True, slots=True)
class SiteRoot:
    pk: int
    path: str  # the root page's tree path


def request_site(request) -> SiteRoot | None:
    """The site answering this request (Wagtail's rules), or None when no site does; read
    once per request (a listing asks for it more than once)."""
    if not hasattr(request, "_cms_site_root"):
        request._cms_site_root = _lookup(request)
    return request._cms_site_root


def _lookup(request) -> SiteRoot | None:
    # As Wagtail matches: the raw Host header (ALLOWED_HOSTS is checked by the middleware).
    hostname = split_domain_port(request._get_raw_host())[0]
    host = f"{hostname}:{request.get_port()}"
    known = cache.get(KEY) or {}
    if host in known:
        found = known[host]
    else:
        site = Site.find_for_request(request)
        found = (site.pk, site.root_page.path) if site is not None else None
        if len(known) < MAX_HOSTS:
            cache.set(KEY, {**known, host: found}, TIMEOUT)
    return SiteRoot(*found) if found else None


def forget(**kwargs) -> None:
    cache.delete(KEY)
