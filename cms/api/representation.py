"""JSON representations of pages, images and documents, built in batches.

Wagtail's stock serialisers resolve every chooser, tag, rendition and rich-text link
one object at a time. Here a whole listing is walked once to collect what it refers
to, every reference is fetched with one query per kind, and the walk's placeholders
are then filled in: the query count depends on the number of page types and kinds of
reference, never on the number of items.
"""

from __future__ import annotations

import re
from collections import defaultdict

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils.html import escape
from wagtail import blocks
from wagtail.documents import get_document_model
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.embeds.blocks import EmbedBlock
from wagtail.fields import RichTextField, StreamField
from wagtail.images import get_image_model
from wagtail.images.blocks import ImageChooserBlock
from wagtail.models import Page, Site
from wagtail.rich_text.rewriters import FIND_A_TAG, FIND_EMBED_TAG, extract_attrs

from cms.links import frontend_path_url, site_url
from cms.visibility import public_media, visible_pages

# Draftail's editor-only paragraph ids (`<p data-block-key="x1y2z">`): nothing outside
# the editor needs them.
BLOCK_KEY = re.compile(r'\s+data-block-key="[^"]*"')
TAG = re.compile(r"<[^<>]+>")

# Renditions every image object carries: sized for thumbnails, cards and heroes.
RENDITIONS = {
    "thumbnail": "fill-160x160",
    "card": "fill-640x400",
    "hero": "fill-1600x700",
    "inline": "width-800",
}


def api_field_names(model) -> tuple[str, ...]:
    """The fields a page model declares for the API (its ``api_fields``), in JSON order.

    Relations (organisation, images, tags, documents) named there are fetched in bulk.
    """
    return tuple(getattr(field, "name", field) for field in getattr(model, "api_fields", ()))


def page_type(page) -> str:
    return page._meta.label


def model_from_label(label: str):
    from django.apps import apps

    return apps.get_model(label)


class _Ref:
    """A placeholder for an object fetched after the walk."""

    __slots__ = ("kind", "key", "extra")

    def __init__(self, kind, key, extra=None):
        self.kind = kind
        self.key = key
        self.extra = extra


class Context:
    """What one response refers to, fetched once for all its items."""

    def __init__(self, request=None, *, preview=False):
        self.request = request
        self.preview = preview
        self.image_ids: set[int] = set()
        self.document_ids: set[int] = set()
        self.page_ids: set[int] = set()
        self.organisation_ids: set[int] = set()
        self.images: dict[int, dict] = {}
        self.documents: dict[int, dict] = {}
        self.pages: dict[int, dict] = {}
        self.organisations: dict[int, dict] = {}
        # Languages: translation_key → [(page id, locale id)] of the visible pages of
        # each key (one query for a whole response), and locale id → language code.
        self.translation_keys: set = set()
        self.locale_ids: set[int] = set()
        self.translations: dict = {}
        self.locale_codes: dict[int, str] = {}
        self._root_paths = None
        # What the page being walked refers to, as (kind, id): see `walk_pages`.
        self.tracked: set | None = None

    # Walk --------------------------------------------------------------------

    def image(self, image_id, alt=None):
        if not image_id:
            return None
        self.image_ids.add(int(image_id))
        if self.tracked is not None:
            self.tracked.add(("i", int(image_id)))
        return _Ref("image", int(image_id), alt)

    def document(self, document_id):
        if not document_id:
            return None
        self.document_ids.add(int(document_id))
        if self.tracked is not None:
            self.tracked.add(("d", int(document_id)))
        return _Ref("document", int(document_id))

    def page(self, page_id):
        if not page_id:
            return None
        self.page_ids.add(int(page_id))
        if self.tracked is not None:
            self.tracked.add(("p", int(page_id)))
        return _Ref("page", int(page_id))

    def organisation(self, organisation_id):
        if not organisation_id:
            return None
        self.organisation_ids.add(int(organisation_id))
        if self.tracked is not None:
            self.tracked.add(("o", int(organisation_id)))
        return _Ref("organisation", int(organisation_id))

    def locale(self, page):
        """Placeholders for a page's `meta.locale` and `meta.translations`."""
        if page.locale_id:
            self.locale_ids.add(page.locale_id)
        if page.translation_key:
            self.translation_keys.add(page.translation_key)
        return (
            _Ref("locale", page.locale_id),
            _Ref("translations", (page.pk, page.translation_key)),
        )

    def rich_text(self, html):
        html = str(getattr(html, "source", html) or "")
        for match in FIND_A_TAG.finditer(html):
            attrs = extract_attrs(match.group(1))
            if attrs.get("linktype") == "page":
                self.page(attrs.get("id"))
            elif attrs.get("linktype") == "document":
                self.document(attrs.get("id"))
        for match in FIND_EMBED_TAG.finditer(html):
            attrs = extract_attrs(match.group(1))
            if attrs.get("embedtype") == "image":
                self.image(attrs.get("id"))
        return _Ref("rich_text", html)

    # Fetch -------------------------------------------------------------------

    def fetch(self):
        # Organisations first: their logos are images to fetch with the others.
        if self.organisation_ids:
            from cms.models import Organisation

            for org in Organisation.objects.filter(pk__in=self.organisation_ids):
                self.organisations[org.pk] = {
                    "id": org.pk,
                    "name": org.name,
                    "short_name": org.short_name,
                    "country": country(org.country),
                    "website": org.website,
                    "description": org.description,
                    "logo": self.image(org.logo_id),
                }
        if self.page_ids:
            self._fetch_pages()
        if self.translation_keys or self.locale_ids:
            self._fetch_translations()
        # Files of restricted collections are left out, as if they did not exist.
        if self.document_ids:
            documents = public_media(get_document_model().objects.filter(pk__in=self.document_ids))
            for doc in documents:
                self.documents[doc.pk] = document_object(doc)
        if self.image_ids:
            images = public_media(get_image_model().objects.filter(pk__in=self.image_ids))
            images = images.prefetch_renditions(*RENDITIONS.values())
            for image in images:
                self.images[image.pk] = image_object(image)

    def _fetch_pages(self):
        """Referenced pages become cards; drafts, unpublished, expired and private pages
        vanish."""
        pages = visible_pages(Page.objects.filter(pk__in=self.page_ids))
        for page in pages.only("id", "title", "slug", "url_path", "path", "content_type_id"):
            model = ContentType.objects.get_for_id(page.content_type_id).model_class()
            self.pages[page.pk] = {
                "id": page.pk,
                "type": model._meta.label if model else "wagtailcore.Page",
                "title": page.title,
                "slug": page.slug,
                "html_url": self.frontend_url(page.url_path),
                "detail_url": detail_url(page.pk),
            }

    def _fetch_translations(self):
        """Every visible page sharing a translation key with the response's pages, with
        its language: one query (plus one for the locales of pages not visible, such as
        a previewed draft)."""
        rows = visible_pages(Page.objects.filter(translation_key__in=self.translation_keys))
        by_key = defaultdict(list)
        for pk, key, locale_id, code in rows.values_list(
            "pk", "translation_key", "locale_id", "locale__language_code"
        ):
            by_key[key].append((pk, locale_id))
            self.locale_codes[locale_id] = code
        missing = self.locale_ids - set(self.locale_codes)
        if missing:
            from wagtail.models import Locale

            self.locale_codes.update(
                Locale.objects.filter(pk__in=missing).values_list("pk", "language_code")
            )
        order = {code: i for i, (code, _name) in enumerate(settings.WAGTAIL_CONTENT_LANGUAGES)}
        for key, pages in by_key.items():
            pages.sort(key=lambda p: (order.get(self.locale_codes[p[1]], len(order)), p[0]))
            self.translations[key] = pages

    # Fill --------------------------------------------------------------------

    def resolve(self, value):
        if isinstance(value, _Ref):
            return self._resolve_ref(value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _resolve_ref(self, ref):
        if ref.kind == "image":
            image = self.images.get(ref.key)
            if image is not None and ref.extra:
                image = {**image, "alt": ref.extra}
            return image
        if ref.kind == "document":
            return self.documents.get(ref.key)
        if ref.kind == "page":
            return self.pages.get(ref.key)
        if ref.kind == "organisation":
            org = self.organisations.get(ref.key)
            return self.resolve(org) if org else None
        if ref.kind == "rich_text":
            return self.rich_text_html(ref.key)
        if ref.kind == "locale":
            return self.locale_codes.get(ref.key)
        if ref.kind == "translations":
            pk, key = ref.key
            return [
                {"id": other, "locale": self.locale_codes[locale_id]}
                for other, locale_id in self.translations.get(key, [])
                if other != pk
            ]
        raise ValueError(ref.kind)

    def rich_text_html(self, html: str) -> str:
        def link(match):
            attrs = extract_attrs(match.group(1))
            linktype = attrs.get("linktype")
            if linktype == "page":
                target = self.pages.get(int(attrs.get("id") or 0))
                return f'<a href="{target["html_url"]}">' if target else "<a>"
            if linktype == "document":
                target = self.documents.get(int(attrs.get("id") or 0))
                return f'<a href="{target["url"]}">' if target else "<a>"
            return match.group(0)

        def embed(match):
            attrs = extract_attrs(match.group(1))
            if attrs.get("embedtype") == "image":
                image = self.images.get(int(attrs.get("id") or 0))
                if not image:
                    return ""
                rendition = image["renditions"]["inline"] or image
                alt = attrs.get("alt") or image["alt"]
                return (
                    f'<img src="{rendition["url"]}" width="{rendition["width"]}" '
                    f'height="{rendition["height"]}" alt="{escape(alt)}">'
                )
            if attrs.get("embedtype") == "media" and attrs.get("url"):
                url = escape(attrs["url"])
                return f'<figure class="embed"><a href="{url}">{url}</a></figure>'
            return ""

        html = FIND_EMBED_TAG.sub(embed, FIND_A_TAG.sub(link, html))
        return TAG.sub(lambda tag: BLOCK_KEY.sub("", tag.group(0)), html)

    # URLs --------------------------------------------------------------------

    def frontend_path(self, url_path: str) -> str | None:
        """A page's path on the external site: its url_path below its site's root, after
        a language prefix (`/fr/…`) for pages under a translation of that root."""
        if self._root_paths is None:
            default = default_language()
            self._root_paths = sorted(
                (
                    (rp.root_path, "" if rp.language_code in (None, default) else rp.language_code)
                    for rp in Site.get_site_root_paths()
                ),
                key=lambda root: len(root[0]),
                reverse=True,
            )
        for root_path, language in self._root_paths:
            if url_path.startswith(root_path):
                path = url_path[len(root_path) - 1 :]
                return f"/{language}{path}" if language else path
        return None

    def frontend_url(self, url_path: str) -> str | None:
        path = self.frontend_path(url_path)
        if path is None:
            return None
        return frontend_path_url(path)


def default_language() -> str:
    """The language code of the default locale (the source of translations)."""
    from wagtail.coreutils import get_supported_content_language_variant

    return get_supported_content_language_variant(settings.LANGUAGE_CODE)


def detail_url(page_id: int, endpoint: str = "pages") -> str:
    return site_url(reverse(f"wagtailapi:{endpoint}:detail", args=[page_id]))


def country(value):
    if not value:
        return None
    return {"code": value.code, "name": str(value.name)}


def image_object(image) -> dict:
    try:
        by_spec = image.get_renditions(*RENDITIONS.values())
    except Exception:  # noqa: BLE001 - a missing source file must not break a listing
        by_spec = {}
    renditions = {}
    for name, spec in RENDITIONS.items():
        rendition = by_spec.get(spec)
        renditions[name] = rendition and {
            "url": site_url(rendition.url),
            "width": rendition.width,
            "height": rendition.height,
        }
    return {
        "id": image.pk,
        "title": image.title,
        "alt": image.default_alt_text,
        "url": site_url(image.file.url),
        "width": image.width,
        "height": image.height,
        "focal_point": (
            {
                "x": image.focal_point_x,
                "y": image.focal_point_y,
                "width": image.focal_point_width,
                "height": image.focal_point_height,
            }
            if image.has_focal_point()
            else None
        ),
        "renditions": renditions,
        "detail_url": detail_url(image.pk, "images"),
    }


def document_object(document) -> dict:
    return {
        "id": document.pk,
        "title": document.title,
        "url": site_url(document.url),
        "filename": document.filename,
        "file_extension": document.file_extension,
        "file_size": _file_size(document),
        "detail_url": detail_url(document.pk, "documents"),
    }


def _file_size(document):
    if document.file_size is not None:
        return document.file_size
    return None


# StreamField ----------------------------------------------------------------------


def stream(ctx: Context, block, raw):
    """Walk a block's stored (JSON) value; choosers become placeholders filled in later."""
    if raw is None:
        return None
    if isinstance(block, blocks.StreamBlock):
        items = []
        for child in raw or []:
            child_block = block.child_blocks.get(child.get("type"))
            if child_block is None:
                continue
            items.append(
                {
                    "type": child["type"],
                    "id": child.get("id"),
                    "value": stream(ctx, child_block, child.get("value")),
                }
            )
        return items
    if isinstance(block, blocks.ListBlock):
        values = [
            item.get("value") if isinstance(item, dict) and "type" in item else item
            for item in raw or []
        ]
        return [stream(ctx, block.child_block, v) for v in values]
    if isinstance(block, blocks.StructBlock):
        raw = raw or {}
        value = {
            name: stream(ctx, child, raw.get(name)) for name, child in block.child_blocks.items()
        }
        # An image with its own alt text (CaptionedImageBlock, ImageBlock) overrides the
        # image's default description.
        if isinstance(value.get("image"), _Ref) and raw.get("alt_text"):
            value["image"].extra = raw["alt_text"]
        return value
    if isinstance(block, ImageChooserBlock):
        return ctx.image(raw)
    if isinstance(block, DocumentChooserBlock):
        return ctx.document(raw)
    if isinstance(block, blocks.PageChooserBlock):
        return ctx.page(raw)
    if isinstance(block, blocks.RichTextBlock):
        return ctx.rich_text(raw)
    if isinstance(block, EmbedBlock):
        return {"url": raw} if raw else None
    if isinstance(block, blocks.StaticBlock):
        return None
    if isinstance(block, blocks.URLBlock) and isinstance(raw, str) and raw.startswith("/"):
        return site_url(raw)  # a path on this CMS (a document, say) leaves as an absolute URL
    return raw


def _stream_raw(value):
    raw = getattr(value, "raw_data", None)
    if raw is None:
        return []
    return list(raw)


# Pages ----------------------------------------------------------------------------


def _tags_by_page(pages, ctx) -> dict[int, list]:
    """Tags of every page, one query per tagged page type (in memory for previews)."""
    result = defaultdict(list)
    by_model = defaultdict(list)
    for page in pages:
        if "tags" in api_field_names(type(page)):
            by_model[type(page)].append(page)
    for model, model_pages in by_model.items():
        if ctx.preview:
            for page in model_pages:
                result[page.pk] = [{"name": t.name, "slug": t.slug} for t in page.tags.all()]
            continue
        through = model.tags.through
        rows = (
            through.objects.filter(content_object_id__in=[p.pk for p in model_pages])
            .select_related("tag")
            .order_by("tag__name")
        )
        for row in rows:
            result[row.content_object_id].append({"name": row.tag.name, "slug": row.tag.slug})
    return result


def _children_by_page(pages, ctx, relation) -> dict[int, list]:
    """Inline children (good-practice documents, links), in editor order."""
    result = defaultdict(list)
    owners = [p for p in pages if relation in api_field_names(type(p))]
    if not owners:
        return result
    if ctx.preview:
        for page in owners:
            result[page.pk] = list(getattr(page, relation).all())
        return result
    model = type(owners[0])._meta.get_field(relation).related_model
    for row in model.objects.filter(page_id__in=[p.pk for p in owners]).order_by("sort_order"):
        result[row.page_id].append(row)
    return result


def page_meta(page, ctx: Context) -> dict:
    locale, translations = ctx.locale(page)
    return {
        "type": page_type(page),
        "locale": locale,
        "translations": translations,
        "detail_url": detail_url(page.pk) if page.pk else None,
        "html_url": ctx.frontend_url(page.url_path) if page.url_path else None,
        "url_path": ctx.frontend_path(page.url_path) if page.url_path else None,
        "slug": page.slug,
        "seo_title": page.seo_title,
        "search_description": page.search_description,
        "first_published_at": page.first_published_at,
        "last_published_at": page.last_published_at,
    }


def _field(page, name, ctx, tags, documents, links):
    if name == "tags":
        return tags.get(page.pk, [])
    if name == "documents":
        return [
            {"label": row.label or None, "document": ctx.document(row.document_id)}
            for row in documents.get(page.pk, [])
        ]
    if name == "links":
        return [{"title": row.title, "url": row.url} for row in links.get(page.pk, [])]
    if name == "location":
        return page.location
    try:
        field = page._meta.get_field(name)
    except Exception:  # noqa: BLE001 - a field another app renamed is simply left out
        return _Missing
    if field.is_relation and field.many_to_one:
        target = field.related_model._meta.label
        value_id = getattr(page, field.attname)
        if target == "wagtailimages.Image":
            return ctx.image(value_id)
        if target == "wagtaildocs.Document":
            return ctx.document(value_id)
        if target == "cms.Organisation":
            return ctx.organisation(value_id)
        if issubclass(field.related_model, Page):
            return ctx.page(value_id)
        return value_id
    value = getattr(page, name)
    if isinstance(field, StreamField):
        return stream(ctx, field.stream_block, _stream_raw(value))
    if isinstance(field, RichTextField):
        return ctx.rich_text(value)
    if name == "country":
        return country(value)
    return value


class _MissingType:
    pass


_Missing = _MissingType()


def walk_pages(pages, ctx: Context, references: dict | None = None) -> list[dict]:
    """Each (specific) page's representation with placeholders for what it refers to.

    :param references: filled with page id → {(kind, id)} of the pages, images, documents
        and organisations each page embeds (kinds as `PageReference.Kind`).
    """
    tags = _tags_by_page(pages, ctx)
    documents = _children_by_page(pages, ctx, "documents")
    links = _children_by_page(pages, ctx, "links")
    items = []
    for page in pages:
        if references is not None:
            ctx.tracked = references[page.pk] = set()
        item = {"id": page.pk, "meta": page_meta(page, ctx), "title": page.title}
        for name in api_field_names(type(page)):
            value = _field(page, name, ctx, tags, documents, links)
            if value is not _Missing:
                item[name] = value
        items.append(item)
    ctx.tracked = None
    return items


def serialise_pages(pages, ctx: Context, references: dict | None = None) -> list[dict]:
    """The full representation of each (specific) page, with its references expanded."""
    items = walk_pages(pages, ctx, references)
    ctx.fetch()
    return ctx.resolve(items)


def serialise_images(images, ctx: Context) -> list[dict]:
    items = [ctx.image(image.pk) for image in images]
    ctx.fetch()
    return [
        {**image, "tags": [t.name for t in getattr(source, "prefetched_tags", [])]}
        for image, source in zip(ctx.resolve(items), images, strict=True)
        if image is not None
    ]


def serialise_documents(documents, ctx: Context) -> list[dict]:
    items = [ctx.document(doc.pk) for doc in documents]
    ctx.fetch()
    return [
        {**doc, "tags": [t.name for t in getattr(source, "prefetched_tags", [])]}
        for doc, source in zip(ctx.resolve(items), documents, strict=True)
        if doc is not None
    ]
