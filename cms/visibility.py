"""What the public may see: one rule for pages, one for images and documents.

Every public output (the content API, its references, the calendar, the CMS's own
page templates, media) asks here, so a page or file is either visible everywhere or
nowhere. Visitors' sessions never widen it: API responses are shared through caches.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Length, Substr
from django.utils import timezone
from wagtail.models import CollectionViewRestriction, Page, PageViewRestriction


def visible_pages(queryset=None, *, now=None):
    """Live pages outside every view restriction and not past their ``expire_at``.

    Wagtail unpublishes an expired page only when ``publish_scheduled`` runs (a
    django-q2 schedule does, every minute); until then the page is still ``live``, so
    the expiry is checked here as well.
    """
    queryset = Page.objects.all() if queryset is None else queryset
    # Wagtail's ``public()`` (no page at or under a restricted page), in the same query:
    # a restricted page's path is a prefix of the path of every page it covers.
    restricted = PageViewRestriction.objects.filter(
        page__path=Substr(OuterRef("path"), 1, Length("page__path"))
    )
    return queryset.live().exclude(Exists(restricted)).exclude(expire_at__lte=now or timezone.now())


def is_expired(page, *, now=None) -> bool:
    return page.expire_at is not None and page.expire_at <= (now or timezone.now())


def restricted_collections_q(field: str = "collection") -> Q:
    """Matches objects whose collection (or one of its ancestors) has a view restriction."""
    condition = Q()
    for path in CollectionViewRestriction.objects.values_list("collection__path", flat=True):
        condition |= Q(**{f"{field}__path__startswith": path})
    return condition


def public_media(queryset):
    """Images or documents outside every restricted collection."""
    condition = restricted_collections_q()
    return queryset.exclude(condition) if condition else queryset


def may_view_media(request, obj, restrictions, permission_policy) -> bool:
    """Whether this request may load an image or document file.

    Visitors need every restriction on the collection (``restrictions``) passed (login,
    group, password, as Wagtail checks for documents); editors who may choose or change
    the object in the admin always may, so that thumbnails show there.
    """
    if all(restriction.accept_request(request) for restriction in restrictions):
        return True
    return permission_policy.user_has_any_permission_for_instance(
        request.user, ["choose", "change"], obj
    )
