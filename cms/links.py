"""Absolute URLs for things that leave the CMS: emails, API payloads, feeds."""

from urllib.parse import urljoin

from django.conf import settings


def site_url(path: str) -> str:
    """A path on this CMS (media, documents, hosted pages) as an absolute URL."""
    if not path:
        return ""
    return urljoin(settings.SITE_URL + "/", path)


def frontend_path_url(path: str) -> str:
    """A path on the external site (relative to its root) as an absolute URL."""
    return urljoin(settings.FRONTEND_URL + "/", path.lstrip("/"))


def frontend_url(page) -> str:
    """Where the external site shows a page: FRONTEND_URL + the page's path in its site."""
    parts = page.specific_deferred.get_url_parts() if page else None
    if not parts:
        return ""
    _site_id, _root_url, path = parts
    return frontend_path_url(path)
