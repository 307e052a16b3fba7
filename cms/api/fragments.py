"""Per-page fragments: each page's JSON, cached by page, live revision and state token.

A listing or detail is one query (`entries`: the ids with their revisions, state tokens
and dates) and one cache read (`cache.get_many`) of the pages' fragments, joined as they
are. A missing fragment is built (`representation`) and cached for every response that
holds the page. A change replaces the tokens of the pages it reaches (`touch_*`, called
by `signal_handlers`): the page itself and the pages that embed it, and no other, so a
publish leaves the rest of the site's fragments and validators as they were.

Keys come from the database, never from a cache deletion: every web process (each with
its own local-memory cache, in the embedded setup) sees a change at its next query.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Func, IntegerField, OuterRef, Subquery
from django.utils import timezone
from wagtail.models import Page

from cms.api.caching import SCHEMA_VERSION, UTCJSONEncoder
from cms.api.models import PageReference, PageState
from cms.api.representation import Context, serialise_pages, walk_pages

Kind = PageReference.Kind

_FIELDS = (
    "pk",
    "live_revision_id",
    "api_state__token",
    "api_state__changed_at",
    "last_published_at",
)


@dataclass(slots=True)
class Entry:
    """One page of a response, as its key and validators need it."""

    pk: int
    revision_id: int | None
    token: str | None
    changed_at: datetime | None
    published_at: datetime | None
    # The latest `expire_at` passed by a still-live page it links to: until Wagtail
    # unpublishes that page (and touches this one), the expiry alone changes the key.
    ref_expired: datetime | None = None

    @property
    def key(self) -> str:
        expired = f":x{self.ref_expired.timestamp()}" if self.ref_expired else ""
        revision = self.revision_id or 0
        return f"cms-api:page:{SCHEMA_VERSION}:{self.pk}:{revision}:{self.token}{expired}"

    @property
    def last_modified(self) -> datetime | None:
        dates = [d for d in (self.changed_at, self.published_at, self.ref_expired) if d]
        return max(dates) if dates else None


def stamped(queryset, *, total=False, now=None):
    """`queryset` with what `entries` reads, in the same query: the latest expiry passed
    by a page still live (None nearly always: Wagtail unpublishes such pages within a
    minute), and the total before slicing when `total`."""
    now = now or timezone.now()
    latest_expiry = (
        Page.objects.filter(live=True, expire_at__lte=now)
        .order_by("-expire_at")
        .values("expire_at")[:1]
    )
    if total:
        # COUNT in a scalar subquery, not a window: the window would build every row of
        # the listing where LIMIT lets the database stop after a page of them.
        count = Func(F("pk"), function="COUNT", output_field=IntegerField())
        counted = queryset.order_by().annotate(_n=count).values("_n")
        queryset = queryset.annotate(_total=Subquery(counted))
    return queryset.annotate(_expiry=Subquery(latest_expiry))


def keyed(queryset, *extra):
    """The rows `entries_of` reads, of a `stamped` queryset (sliced as wanted): each page's
    key parts, `_expiry` and the `extra` values."""
    return queryset.values_list(*_FIELDS, "_expiry", *extra)


def entries(queryset, *extra) -> tuple[list[Entry], list[tuple]]:
    """Entries of a `stamped` queryset (sliced as wanted), with `_expiry` and its `extra`
    values per row."""
    return entries_of(list(keyed(queryset, *extra)))


def entries_of(rows) -> tuple[list[Entry], list[tuple]]:
    """Entries of `keyed` rows, and each row's values from `_expiry` on; pages without a
    state get one first (see `ensure_states`)."""
    width = len(_FIELDS)
    found = [Entry(*row[:width]) for row in rows]
    missing = [e.pk for e in found if e.token is None]
    if missing:
        states = ensure_states(missing)
        for entry in found:
            if entry.token is None and entry.pk in states:
                entry.token, entry.changed_at = states[entry.pk]
    if rows and rows[0][width] is not None:
        # Some page is past its expiry but still live: the pages linking to it change.
        linked = _linked_expiries([e.pk for e in found])
        for entry in found:
            entry.ref_expired = linked.get(entry.pk)
    return found, [row[width:] for row in rows]


def _linked_expiries(ids) -> dict[int, datetime]:
    """page id → the latest expiry passed by a still-live page it links to (one query)."""
    expire_at = Page.objects.filter(
        pk=OuterRef("object_id"), live=True, expire_at__lte=timezone.now()
    ).values("expire_at")
    latest: dict[int, datetime] = {}
    linked = (
        PageReference.objects.filter(page_id__in=ids, kind=Kind.PAGE)
        .annotate(expired=Subquery(expire_at))
        .filter(expired__isnull=False)
        .values_list("page_id", "expired")
    )
    for pk, expired in linked:
        latest[pk] = max(expired, latest.get(pk, expired))
    return latest


def fragments(found: list[Entry]) -> list[bytes]:
    """The JSON of each entry's page, from the cache or built (and then cached)."""
    timeout = settings.API_CACHE_TIMEOUT
    keys = [e.key for e in found]
    cached = cache.get_many(keys) if timeout and keys else {}
    todo = [e for e in found if e.key not in cached]
    if todo:
        built = build(todo)
        if timeout:
            cache.set_many(built, timeout)
        cached.update(built)
    return [cached[e.key] for e in found if e.key in cached]


def build(found: list[Entry]) -> dict[str, bytes]:
    pages = load([e.pk for e in found])
    items = serialise_pages(pages, Context())
    by_pk = {item["id"]: item for item in items}
    return {e.key: dumps(by_pk[e.pk]) for e in found if e.pk in by_pk}


def dumps(data) -> bytes:
    return json.dumps(data, cls=UTCJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()


def load(ids) -> list:
    """The specific pages of `ids`, in that order (one query per page type)."""
    by_id = {page.pk: page for page in Page.objects.filter(pk__in=ids).specific()}
    return [by_id[pk] for pk in ids if pk in by_id]


# States and references ---------------------------------------------------------------


def new_token() -> str:
    return secrets.token_hex(8)


def references_of(pages) -> dict[int, set]:
    """page id → {(kind, id)} of what each page's representation embeds."""
    references: dict[int, set] = {}
    walk_pages(pages, Context(), references)
    return references


def _write_references(references: dict[int, set]) -> None:
    PageReference.objects.filter(page_id__in=list(references)).delete()
    PageReference.objects.bulk_create(
        [
            PageReference(page_id=pk, kind=kind, object_id=object_id)
            for pk, refs in references.items()
            for kind, object_id in refs
        ],
        ignore_conflicts=True,
    )


def ensure_states(ids) -> dict[int, tuple[str, datetime]]:
    """States (token, changed_at) for pages that have none yet (made live without
    Wagtail's publish signal, or before this table existed), with their references
    recorded before any fragment of theirs is cached."""
    pages = load(ids)
    references = references_of(pages)
    now = timezone.now()
    mine = {page.pk: new_token() for page in pages}
    with transaction.atomic():
        PageState.objects.bulk_create(
            [PageState(page_id=pk, token=token, changed_at=now) for pk, token in mine.items()],
            ignore_conflicts=True,
        )
        states = {
            pk: (token, changed_at)
            for pk, token, changed_at in PageState.objects.filter(page_id__in=ids).values_list(
                "page_id", "token", "changed_at"
            )
        }
        # Another process (a publish) may have been first: its references stand.
        _write_references({pk: references[pk] for pk in mine if states[pk][0] == mine[pk]})
    return states


def record_published(page) -> None:
    """A page was published: a new token, and its references as now published."""
    references = references_of([page.specific])
    with transaction.atomic():
        PageState.objects.update_or_create(
            page_id=page.pk, defaults={"token": new_token(), "changed_at": timezone.now()}
        )
        _write_references(references)


def touch_pages(ids) -> int:
    """New tokens for these pages (ids, or a query of ids)."""
    return PageState.objects.filter(page_id__in=ids).update(
        token=new_token(), changed_at=timezone.now()
    )


def touch_dependents(kind: str, ids) -> int:
    """New tokens for the pages that embed these objects.

    Run again once the transaction commits: a fragment built meanwhile by another
    process, from the data before this change, then loses its token as well.
    """

    def touch():
        embedding = PageReference.objects.filter(kind=kind, object_id__in=ids).values("page_id")
        return touch_pages(embedding)

    ids = list(ids)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(touch)
    return touch()


def touch_translations(keys, exclude=()) -> int:
    """New tokens for the pages of these translation keys (their `meta.translations`
    lists the live translations), but not `exclude`; again once the transaction commits,
    as `touch_dependents`."""

    def touch():
        pages = Page.objects.filter(translation_key__in=keys).exclude(pk__in=exclude)
        return touch_pages(pages.values("pk"))

    keys, exclude = list(keys), list(exclude)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(touch)
    return touch()


def touch_all() -> int:
    """A change that can reach any page (sites, collection privacy): every token."""
    return PageState.objects.update(token=new_token(), changed_at=timezone.now())
