"""API endpoints: pages, images and documents, with filters and HTTP caching."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, time

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import slugify
from wagtail.api.v2.utils import BadRequestError, page_models_from_string
from wagtail.api.v2.views import BaseAPIViewSet, PagesAPIViewSet
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.models import Page, Site
from wagtail.search.backends import get_search_backend

from cms.api import compiled, fragments
from cms.api.caching import (
    SCHEMA_VERSION,
    cached_response,
    content_state,
    json_response,
    time_bucket,
    validated_response,
)
from cms.api.models import ContentVersion
from cms.api.representation import (
    Context,
    default_language,
    serialise_documents,
    serialise_images,
)
from cms.api.sites import request_site
from cms.visibility import public_media, visible_pages

# Ordering a front end asks for → database ordering (ties broken by id for stable pages).
PAGE_ORDERINGS = {
    "published": ("first_published_at",),
    "first_published_at": ("first_published_at",),
    "last_published_at": ("last_published_at",),
    "title": ("title",),
    "id": ("id",),
    "path": ("path",),
    "start": ("start",),  # events only
    "date": ("date",),  # interviews, good practices
    "public_sent_at": ("public_sent_at",),  # newsletter issues: when they went to a public list
}
MAX_ID = 2**63 - 1  # the largest BigAutoField
MAX_VALUES = 50  # per comma-separated filter: each is a condition in one SQL query
MAX_OFFSET = 1_000_000  # deeper than any listing; keeps OFFSET within every database
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # Last-Modified of an empty answer on a new site
TRUE = {"1", "true", "yes"}
FALSE = {"0", "false", "no"}


def site_roots(request) -> tuple[int, str, tuple[str, ...]] | None:
    """The request's site: its id, its root page's tree path and the URL paths of its
    root's translations (each language's tree), or None when no site answers."""
    site = request_site(request)
    if site is None:
        return None
    translations = (r.root_path for r in Site.get_site_root_paths() if r.site_id == site.pk)
    return site.pk, site.path, tuple(translations)


def public_pages(request, queryset=None, *, now=None) -> Page.objects.__class__:
    """Visible pages (`cms.visibility`, at `now`) of the request's site, of ``queryset``
    (a page type's pages) if given.

    Unlike Wagtail's stock queryset this ignores the visitor's session: responses are
    shared through caches, so a page under a password or login never appears.
    """
    queryset = Page.objects.all() if queryset is None else queryset
    site = site_roots(request)
    if site is None:
        return queryset.none()
    _pk, path, translations = site
    # The site's root page and its translations, from Wagtail's cached root paths.
    roots = Q(path__startswith=path)
    for root_path in translations:
        roots |= Q(url_path__startswith=root_path)
    return visible_pages(queryset, now=now).filter(roots)


def paginate(request, *, default=20):
    """`limit` (1 … API_LIMIT_MAX, default 20) and `offset` (at most MAX_OFFSET), validated."""
    offset = _integer(request, "offset", 0)
    limit = _integer(request, "limit", default)
    if limit > settings.WAGTAILAPI_LIMIT_MAX:
        raise BadRequestError(f"limit cannot be higher than {settings.WAGTAILAPI_LIMIT_MAX}")
    if offset > MAX_OFFSET:
        raise BadRequestError(f"offset cannot be higher than {MAX_OFFSET}")
    return offset, limit


def _integer(request, name, default):
    """A non-negative integer parameter, in ASCII digits and within a database integer."""
    value = request.GET.get(name)
    if value is None:
        return default
    number = parse_id(value)
    if number is None:
        raise BadRequestError(f"{name} must be a non-negative integer")
    return number


def parse_id(value: str) -> int | None:
    """An id or count from a URL, or None: ASCII digits only (`int()` also takes "١٢" and
    " 12"), and no larger than the database's integers (SQLite overflows past them)."""
    if not value or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def reject_nul(request):
    """PostgreSQL cannot compare text holding NUL: refuse it before any query sees it."""
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            raise BadRequestError(f"{name or 'a parameter'} holds a NUL character")


def _csv(request, name) -> list[str]:
    """Comma-separated values, distinct, at most MAX_VALUES of them."""
    values = dict.fromkeys(v.strip() for v in request.GET.get(name, "").split(",") if v.strip())
    if len(values) > MAX_VALUES:
        raise BadRequestError(f"{name} takes at most {MAX_VALUES} values")
    return list(values)


def search_text(request) -> str:
    """The `search` words. Double quotes go: the SQLite backend wraps each word in quotes
    without escaping them, and they are never part of an indexed word anyway."""
    return " ".join(request.GET.get("search", "").replace('"', " ").split())


def locale_param(request) -> str | None:
    """`locale`: one of the enabled content languages (WAGTAIL_CONTENT_LANGUAGES), or None
    when absent. Anything else is refused without echoing it."""
    if "locale" not in request.GET:
        return None
    value = request.GET["locale"]
    codes = [code for code, _name in settings.WAGTAIL_CONTENT_LANGUAGES]
    if not value:
        raise BadRequestError("locale cannot be empty: give a language code, e.g. locale=fr")
    if value not in codes:
        raise BadRequestError("locale must be one of the enabled languages: " + ", ".join(codes))
    return value


def _bool(request, name):
    value = request.GET.get(name)
    if value is None:
        return None
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise BadRequestError(f"{name} must be true or false")


def _moment(value: str, name: str, *, end=False):
    """An ISO date or date-time; a bare date covers the whole day."""
    try:
        day = parse_date(value)
        moment = parse_datetime(value) if day is None else None
    except ValueError:
        day = moment = None
    if day is not None:
        moment = datetime.combine(day, time.max if end else time.min)
    if moment is None:
        raise BadRequestError(f"{name} must be an ISO 8601 date or date-time")
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        # The database compares in UTC: 0001-01-01 in Brussels is in year 0 there.
        return moment.astimezone(UTC)
    except (OverflowError, ValueError) as e:
        raise BadRequestError(f"{name} is out of range") from e


def _parameters(request, *, leaving=frozenset()) -> tuple:
    """The query parameters but those in `leaving`, in a canonical order, each with its
    values: (name, (value, …)) pairs, hashable and JSON-ready."""
    return tuple(
        sorted((name, tuple(values)) for name, values in request.GET.lists() if name not in leaving)
    )


def _models_with(field_name, models):
    return [m for m in models if any(f.name == field_name for f in m._meta.get_fields())]


class CachedEndpointMixin:
    """Listing and detail answered from the shared HTTP cache (ETag, 304, cached body);
    every query parameter checked before it reaches the database."""

    def listing_view(self, request):
        reject_nul(request)
        return cached_response(request, lambda: self._listing(request))

    def detail_view(self, request, pk):
        reject_nul(request)
        if pk > MAX_ID:
            raise Http404("not found")
        return cached_response(request, lambda: self._detail(request, pk))

    def find_view(self, request):
        reject_nul(request)
        return super().find_view(request)

    def find_object(self, queryset, request):
        if "id" in request.GET:
            pk = parse_id(request.GET["id"])
            if pk is None:
                raise BadRequestError("id must be a non-negative integer")
            return queryset.filter(pk=pk).first()
        return None


class PagesEndpoint(CachedEndpointMixin, PagesAPIViewSet):
    """Published pages with every field, references expanded, filters for front ends."""

    # Anonymous and shared through caches: no session, no `Vary: Cookie`.
    authentication_classes = []
    permission_classes = []
    known_query_parameters = frozenset(
        [
            "limit",
            "offset",
            "order",
            "search",
            "search_operator",
            "type",
            "tags",
            "topic",
            "country",
            "organisation",
            "upcoming",
            "start_from",
            "start_to",
            "child_of",
            "descendant_of",
            "slug",
            "sent",
            "locale",
            "translation_of",
            "fields",
            "format",
            "_",
        ]
    )

    # Responses are assembled from per-page fragments (`cms.api.fragments`) and validated
    # by their keys, not by one cache entry per URL.

    def listing_view(self, request):
        reject_nul(request)
        return self._listing(request)

    def detail_view(self, request, pk):
        reject_nul(request)
        if pk > MAX_ID:
            raise Http404("not found")
        return self._detail(request, pk)

    # Listing -----------------------------------------------------------------

    def _listing(self, request):
        unknown = set(request.GET) - self.known_query_parameters
        if unknown:
            raise BadRequestError(
                "query parameter is not an operation or a recognised field: "
                + ", ".join(sorted(unknown))
            )
        offset, limit = paginate(request)
        event_filters = {"upcoming", "start_from", "start_to"} & set(request.GET)
        now = timezone.now()

        def members(moment):
            """The listing's pages, their types and order, with `moment` as the clock."""
            queryset, models = self._typed_queryset(
                request, default="cms.EventPage" if event_filters else None, now=moment
            )
            queryset = self._filter(request, queryset, models, now=moment)
            return queryset, self._ordering(request, models, searching=bool(search))

        search = search_text(request)
        if search:
            queryset, ordering = members(now)
            operator = request.GET.get("search_operator") or None
            if operator not in (None, "and", "or"):
                raise BadRequestError("search_operator must be and or or")
            if ordering == ("?",):
                raise BadRequestError("order=random cannot be combined with search")
            # Search backends filter only on indexed fields (expire_at is not one): hand
            # them the visible pages by id.
            queryset = queryset.model.objects.filter(pk__in=queryset.order_by().values("pk"))
            results = get_search_backend().search(
                search,
                queryset.order_by(*ordering) if ordering else queryset,
                operator=operator,
                order_by_relevance=not ordering,
            )
            total = results.count()
            ids = [page.pk for page in results[offset : offset + limit]]
            found, _rows = fragments.entries(fragments.stamped(Page.objects.filter(pk__in=ids)))
            position = {pk: i for i, pk in enumerate(ids)}
            found.sort(key=lambda entry: position[entry.pk])
            version, expired = content_state()
            changed = [version.changed_at, expired]
        else:
            # One query: the window's ids with their keys' parts, and the content version
            # with the dates a listing's Last-Modified also needs (the last change
            # anywhere, the latest expiry: a listing loses pages without any of its own
            # pages changing). Its SQL is compiled once per shape (`cms.api.compiled`);
            # the total comes from `_total`.
            def window(moment):
                queryset, ordering = members(moment)
                version_row = ContentVersion.objects.filter(pk=1)
                ordered = queryset.order_by(*(ordering or ("path",)), "id")
                stamped = fragments.stamped(ordered, now=moment).annotate(
                    _changed=Subquery(version_row.values("changed_at")),
                    _counter=Subquery(version_row.values("counter")),
                )
                return fragments.keyed(stamped[offset : offset + limit], "_changed", "_counter")

            found, rows = fragments.entries_of(compiled.rows(self._shape(request), window, now))
            if rows:
                expired, latest, counter = rows[0]
                total = self._total(request, lambda: members(now)[0], (counter, latest, expired))
                changed = [latest, expired]
            else:
                total = members(now)[0].count() if offset else 0
                version, expired = content_state()
                changed = [version.changed_at, expired]
        dates = [e.last_modified for e in found] + changed
        last_modified = max((d for d in dates if d), default=EPOCH)
        fields = _csv(request, "fields")

        def body():
            parts = fragments.fragments(found)
            if fields and fields != ["*"]:
                items = self._select_fields(request, [json.loads(part) for part in parts])
                return fragments.dumps({"meta": {"total_count": total}, "items": items})
            head = b'{"meta":{"total_count":%d},"items":[' % total
            return head + b",".join(parts) + b"]}"

        return validated_response(request, [total, *(e.key for e in found)], last_modified, body)

    # Parameters that choose neither which pages a listing holds nor how many there are.
    NOT_MEMBERSHIP = frozenset(["limit", "offset", "order", "fields", "format", "_"])
    # Parameters that change neither the listing's query nor its SQL.
    NOT_QUERY = frozenset(["fields", "format", "_"])
    # Filters that read a page while the query is built (its path, its translation key):
    # their SQL holds what was read, so it is not kept.
    READ_WHILE_BUILDING = frozenset(["translation_of", "child_of", "descendant_of"])

    def _shape(self, request):
        """What a listing's SQL depends on besides the clock (`cms.api.compiled`), or None
        when it is not to be kept."""
        site = site_roots(request)
        if site is None or self.READ_WHILE_BUILDING & set(request.GET):
            return None
        return ("pages", site, _parameters(request, leaving=self.NOT_QUERY))

    def _total(self, request, members, state) -> int:
        """How many pages the listing holds: counted once per set of filters and state of
        the content (the version, moved by every publish, unpublish, move, deletion and
        change of what pages embed or who may see them; the latest expiry passed; the time
        bucket for answers that depend on the time), then shared by the listing's every
        page, field set and order. Counting is the costliest part of a cold listing's
        query: it reads every row the filters select, where the window stops at 20.
        `members()` builds the listing's queryset, when it must be counted."""
        timeout = settings.API_CACHE_TIMEOUT
        if not timeout:
            return members().count()
        site = request_site(request)
        filters = _parameters(request, leaving=self.NOT_MEMBERSHIP)
        counter, changed_at, expired = state
        fingerprint = json.dumps(
            [
                SCHEMA_VERSION,
                site.pk if site else None,
                filters,
                time_bucket(request),
                counter,
                changed_at.isoformat() if changed_at else None,
                expired.isoformat() if expired else None,
            ]
        )
        key = f"cms-api:total:{hashlib.sha256(fingerprint.encode()).hexdigest()}"
        total = cache.get(key)
        if total is None:
            total = members().count()
            cache.set(key, total, timeout)
        return total

    def _typed_queryset(self, request, default=None, *, now=None):
        """The public pages of the requested types; event filters imply events."""
        type_param = ",".join(_csv(request, "type")) or default
        try:
            models = page_models_from_string(type_param) if type_param else ()
        except (LookupError, ValueError) as e:
            raise BadRequestError("type doesn't exist") from e
        models = tuple(dict.fromkeys(models))  # "cms.EventPage,cms.eventpage" is one type
        if len(models) == 1:
            # The type's own table, filtered directly (not through a subquery of pages).
            return public_pages(request, models[0].objects.all(), now=now), models
        base = public_pages(request, now=now)
        if models:
            return base.type(*models), models
        from wagtail.models import get_page_models

        return base, tuple(m for m in get_page_models() if m is not Page)

    def _filter(self, request, queryset, models, *, now=None):
        def by_model(field, lookup, values):
            """Pages of any of `models` whose `field` matches: one subquery per model."""
            owners = _models_with(field, models)
            if not owners:
                raise BadRequestError(f"no page type in this listing has {field}")
            condition = Q()
            for model in owners:
                condition |= Q(pk__in=model.objects.filter(**{lookup: values}).values("pk"))
            return queryset.filter(condition)

        tags = _csv(request, "tags") + _csv(request, "topic")
        if tags:
            queryset = by_model("tags", "tags__slug__in", [slugify(t) for t in tags])
        countries = [c.upper() for c in _csv(request, "country")]
        if countries:
            queryset = by_model("country", "country__in", countries)
        organisations = _csv(request, "organisation")
        if organisations:
            # Digits are an id (a number too large for one matches nothing), else a name.
            ids = [parse_id(o) for o in organisations if o.isascii() and o.isdigit()]
            ids = [i for i in ids if i is not None]
            names = [o for o in organisations if not (o.isascii() and o.isdigit())]
            condition = Q()
            for model in _models_with("organisation", models) + _models_with("organiser", models):
                field = "organisation" if hasattr(model, "organisation") else "organiser"
                match = Q(**{f"{field}_id__in": ids})
                for name in names:
                    match |= Q(**{f"{field}__name__iexact": name})
                    match |= Q(**{f"{field}__short_name__iexact": name})
                condition |= Q(pk__in=model.objects.filter(match).values("pk"))
            if not condition:
                raise BadRequestError("no page type in this listing has an organisation")
            queryset = queryset.filter(condition)

        upcoming = _bool(request, "upcoming")
        start_from, start_to = request.GET.get("start_from"), request.GET.get("start_to")
        if upcoming is not None or start_from or start_to:
            from cms.models import EventPage

            events = EventPage.objects.all()
            if upcoming is True:
                events = events.upcoming(now=now)
            elif upcoming is False:
                events = events.past(now=now)
            if start_from:
                events = events.filter(start__gte=_moment(start_from, "start_from"))
            if start_to:
                events = events.filter(start__lte=_moment(start_to, "start_to", end=True))
            queryset = queryset.filter(pk__in=events.order_by().values("pk"))

        sent = _bool(request, "sent")
        if sent is not None:
            # Newsletter issues sent to a public list (their archive), or not yet.
            queryset = by_model("public_sent_at", "public_sent_at__isnull", not sent)

        if "slug" in request.GET:
            queryset = queryset.filter(slug=request.GET["slug"])
        locale = locale_param(request)
        if locale is not None:
            queryset = queryset.filter(locale__language_code=locale)
        if "translation_of" in request.GET:
            # The page's published translations (itself left out), as Wagtail's filter.
            pk = parse_id(request.GET["translation_of"])
            page = public_pages(request).filter(pk=pk).first() if pk is not None else None
            if page is None:
                raise BadRequestError("translation_of must be the id of a published page")
            queryset = queryset.filter(translation_key=page.translation_key).exclude(pk=page.pk)
        for name, inclusive in (("child_of", False), ("descendant_of", False)):
            if name in request.GET:
                pk = parse_id(request.GET[name])
                parent = public_pages(request).filter(pk=pk).first() if pk is not None else None
                if parent is None:
                    raise BadRequestError(f"{name} must be the id of a published page")
                if name == "child_of":
                    queryset = queryset.child_of(parent)
                else:
                    queryset = queryset.descendant_of(parent, inclusive=inclusive)
        return queryset

    def _ordering(self, request, models, *, searching):
        order = request.GET.get("order")
        if not order:
            if models and all(_models_with("start", [m]) for m in models) and not searching:
                return ("start",)  # events read best in date order
            return ()
        if order == "random":
            return ("?",)
        name = order.removeprefix("-")
        if name not in PAGE_ORDERINGS:
            raise BadRequestError(f"cannot order by {order!r}")
        fields = PAGE_ORDERINGS[name]
        if name in {"start", "date", "public_sent_at"} and len(models) != 1:
            raise BadRequestError(f"order={name} needs a single page type (type=…)")
        if name in {"start", "date", "public_sent_at"} and not _models_with(fields[0], models):
            raise BadRequestError(f"this page type has no {name}")
        prefix = "-" if order.startswith("-") else ""
        return tuple(prefix + f for f in fields)

    @staticmethod
    def _select_fields(request, items):
        """`fields=a,b` keeps only those fields, `fields=-body` drops some; id, meta, title stay."""
        fields = _csv(request, "fields")
        if not fields or fields == ["*"]:
            return items
        keep = {f for f in fields if not f.startswith("-") and f != "*"}
        drop = {f[1:] for f in fields if f.startswith("-")}
        always = {"id", "meta", "title"}
        return [
            {
                k: v
                for k, v in item.items()
                if k in always or ((not keep or k in keep) and k not in drop)
            }
            for item in items
        ]

    # Detail ------------------------------------------------------------------

    def _detail(self, request, pk):
        found, _rows = fragments.entries(fragments.stamped(public_pages(request).filter(pk=pk)))
        if not found:
            raise Http404("not found")

        def body():
            parts = fragments.fragments(found)
            if not parts:  # deleted since the query
                raise Http404("not found")
            return parts[0]

        entry = found[0]
        return validated_response(request, [entry.key], entry.last_modified or EPOCH, body)

    def find_object(self, queryset, request):
        # Stock `find` walks the site's routing; resolve against public pages only.
        if "html_path" in request.GET:
            site = request_site(request)
            if site is None:
                return None
            root = Page.objects.filter(path=site.path).first()
            if root is None:  # deleted since the site was looked up
                return None
            path = request.GET["html_path"].strip("/")
            # `/fr/entretiens/…`: a page under the French translation of the site's root.
            language, _slash, rest = path.partition("/")
            codes = {code for code, _name in settings.WAGTAIL_CONTENT_LANGUAGES}
            if language in codes - {default_language()}:
                translated = Page.objects.filter(
                    translation_key=root.translation_key, locale__language_code=language
                ).first()
                if translated is not None:
                    root, path = translated, rest
            url_path = (root.url_path + path + "/").replace("//", "/")
            return public_pages(request).filter(url_path=url_path).first()
        return super().find_object(public_pages(request), request)


class _MediaEndpoint(CachedEndpointMixin, BaseAPIViewSet):
    """Shared listing/detail of images and documents, cached like pages."""

    serialise = None
    authentication_classes = []
    permission_classes = []
    known_query_parameters = frozenset(["limit", "offset", "order", "search", "tags", "format"])
    orderings = {"id", "title", "created_at"}

    def get_queryset(self):
        """Images or documents of unrestricted collections only (`cms.visibility`)."""
        return public_media(self.model.objects.all()).order_by("id")

    def _listing(self, request):
        unknown = set(request.GET) - self.known_query_parameters
        if unknown:
            raise BadRequestError("unknown query parameter: " + ", ".join(sorted(unknown)))
        offset, limit = paginate(request)
        queryset = self.get_queryset()
        tags = _csv(request, "tags")
        if tags:
            # A subquery, not a join + DISTINCT, which the search backends cannot take.
            tagged = self.model.objects.filter(tags__name__in=tags).values("pk")
            queryset = queryset.filter(pk__in=tagged)
        order = request.GET.get("order", "id")
        if order.removeprefix("-") not in self.orderings:
            raise BadRequestError(f"cannot order by {order!r}")
        queryset = queryset.order_by(order, "id")
        search = search_text(request)
        if search:
            # By id: search backends filter only on indexed fields (not collection paths).
            queryset = self.model.objects.filter(pk__in=queryset.values("pk")).order_by(order, "id")
            results = get_search_backend().search(
                search, queryset, order_by_relevance="order" not in request.GET
            )
            total = results.count()
            objects = list(results[offset : offset + limit])
        else:
            total = queryset.count()
            objects = list(queryset.prefetch_related("tags")[offset : offset + limit])
        for obj in objects:
            obj.prefetched_tags = list(obj.tags.all())
        items = type(self).serialise(objects, Context(request))
        return json_response({"meta": {"total_count": total}, "items": items})

    def _detail(self, request, pk):
        obj = self.get_queryset().prefetch_related("tags").filter(pk=pk).first()
        if obj is None:
            raise Http404("not found")
        obj.prefetched_tags = list(obj.tags.all())
        return json_response(type(self).serialise([obj], Context(request))[0])


class ImagesEndpoint(_MediaEndpoint):
    name = "images"
    model = get_image_model()
    serialise = staticmethod(serialise_images)


class DocumentsEndpoint(_MediaEndpoint):
    name = "documents"
    model = get_document_model()
    serialise = staticmethod(serialise_documents)
