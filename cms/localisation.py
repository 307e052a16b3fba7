"""Pages in one language point at pages in that language.

wagtail-localize copies a page's page choosers and rich-text page links as they are in
the source (it leaves pages to be "localised at runtime"): the French translation of an
issue would still point at the English interviews. `localise_page_references` points
each reference at the referenced page's translation in the page's own locale when that
translation exists, else leaves it on the source; pages call it whenever they are saved
(`LocalisedReferencesMixin`), so a translation synced or published by wagtail-localize
and a page saved in the admin alike hold references in their language.
"""

from __future__ import annotations

import re

from wagtail import blocks
from wagtail.fields import RichTextField, StreamField

# `<a linktype="page" id="12">` in stored rich text (attributes in any order).
PAGE_LINK = re.compile(r'(<a\b[^>]*\blinktype="page"[^>]*>)')
LINK_ID = re.compile(r'(\bid=")(\d+)(")')


def _page_links(html: str) -> list[int]:
    return [int(m.group(2)) for tag in PAGE_LINK.findall(html) for m in LINK_ID.finditer(tag)]


def _relink(html: str, mapping: dict[int, int]) -> str:
    def tag(match):
        return LINK_ID.sub(
            lambda m: f"{m.group(1)}{mapping.get(int(m.group(2)), int(m.group(2)))}{m.group(3)}",
            match.group(1),
        )

    return PAGE_LINK.sub(tag, html)


TEXT_BLOCKS = (blocks.CharBlock, blocks.TextBlock, blocks.BlockQuoteBlock)


def _walk(block, raw, visit):
    """Walk a block's stored (JSON) value, replacing page ids by `visit(ids) → ids`."""
    if raw is None:
        return raw
    if isinstance(block, blocks.StreamBlock):
        for child in raw or []:
            child_block = (
                block.child_blocks.get(child.get("type")) if isinstance(child, dict) else None
            )
            if child_block is not None:
                child["value"] = _walk(child_block, child.get("value"), visit)
        return raw
    if isinstance(block, blocks.ListBlock):
        for i, item in enumerate(raw or []):
            if isinstance(item, dict) and "type" in item and "value" in item:
                item["value"] = _walk(block.child_block, item["value"], visit)
            else:
                raw[i] = _walk(block.child_block, item, visit)
        return raw
    if isinstance(block, blocks.StructBlock):
        if isinstance(raw, dict):
            for name, child in block.child_blocks.items():
                if raw.get(name) is None:
                    # An optional text left out (content made in code, not in the admin
                    # form) reads as None, which wagtail-localize cannot extract: "".
                    if isinstance(child, TEXT_BLOCKS):
                        raw[name] = visit("blank", name)
                    elif isinstance(child, blocks.StructBlock) and not isinstance(
                        child, blocks.StreamBlock
                    ):
                        raw[name] = {}
                if name in raw:
                    raw[name] = _walk(child, raw[name], visit)
        return raw
    if isinstance(block, blocks.PageChooserBlock):
        return visit("page", raw)
    if isinstance(block, blocks.RichTextBlock) and isinstance(raw, str):
        return visit("html", raw)
    return raw


def localise_page_references(page) -> int:
    """Point `page`'s page choosers and rich-text page links at the same-locale
    translations of their targets (two queries when it has any), and store optional texts
    left out of its blocks as "" (see `_walk`); returns how many references moved."""
    if not page.locale_id:
        return 0
    fields = [f for f in page._meta.get_fields() if isinstance(f, StreamField | RichTextField)]
    found: set[int] = set()
    blanks = 0

    def collect(kind, value):
        nonlocal blanks
        if kind == "blank":
            blanks += 1
            return ""
        if kind == "page":
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                found.add(int(value))
        else:
            found.update(_page_links(value))
        return value

    raws = {}
    for field in fields:
        if isinstance(field, StreamField):
            raw = _loads(field.get_prep_value(getattr(page, field.name)))
            _walk(field.stream_block, raw, collect)
        else:
            raw = getattr(page, field.name) or ""
            found.update(_page_links(raw))
        raws[field] = raw

    mapping = _same_locale(found, page.locale_id) if found else {}
    moved = 0

    def rewrite(kind, value):
        nonlocal moved
        if kind == "page":
            if value is not None and str(value).isdigit() and int(value) in mapping:
                moved += 1
                return mapping[int(value)]
            return value
        if kind == "html":
            relinked = _relink(value, mapping)
            moved += relinked != value
            return relinked
        return value

    for field, raw in raws.items():
        if isinstance(field, StreamField):
            before = moved
            if mapping:
                _walk(field.stream_block, raw, rewrite)
            if blanks or moved != before:
                setattr(page, field.name, raw)
        elif mapping:
            relinked = _relink(raw, mapping)
            if relinked != raw:
                moved += 1
                setattr(page, field.name, relinked)
    return moved


def _same_locale(ids, locale_id) -> dict[int, int]:
    """Page id → id of its translation in `locale_id`, for pages of other locales that
    have one."""
    from wagtail.models import Page

    foreign = dict(
        Page.objects.filter(pk__in=ids)
        .exclude(locale_id=locale_id)
        .values_list("pk", "translation_key")
    )
    if not foreign:
        return {}
    by_key = dict(
        Page.objects.filter(
            translation_key__in=set(foreign.values()), locale_id=locale_id
        ).values_list("translation_key", "pk")
    )
    return {pk: by_key[key] for pk, key in foreign.items() if key in by_key}


def _loads(raw):
    import json

    if isinstance(raw, str):
        return json.loads(raw) if raw else []
    return raw or []


class LocalisedReferencesMixin:
    """Pages whose references follow their language (see `localise_page_references`)."""

    # Before validation: Wagtail cleans a page on every save (`minimal_clean` for a
    # draft, `full_clean` for a live page) and every revision, and wagtail-localize saves
    # each translation it creates or syncs.

    def full_clean(self, *args, **kwargs):
        localise_page_references(self)
        return super().full_clean(*args, **kwargs)

    def minimal_clean(self):
        localise_page_references(self)
        return super().minimal_clean()
