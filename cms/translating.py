"""Translating a page or snippet the way a translator does, through wagtail-localize.

`translate_from_po` exports the object's PO file for a locale, fills in each message
from a dictionary (source text → translation) and imports it, then saves the
translation: the same path as an editor's "Download PO file" / "Upload PO file", so
the result is a real wagtail-localize translation that editors can keep working on
in the admin (the demo's French pages are made this way).
"""

from __future__ import annotations

from wagtail.models import DraftStateMixin, Page
from wagtail_localize.models import Translation, TranslationSource


class MissingStrings(ValueError):
    """Source strings without a translation in the dictionary given."""


def translate_from_po(instance, locale, strings: dict[str, str], *, user=None):
    """`instance`'s translation into `locale`, created and published (pages) from the
    `strings` dictionary; an existing translation is returned as it is."""
    existing = instance.get_translation_or_none(locale)
    if existing is not None:
        return existing.specific if isinstance(existing, Page) else existing
    source, _ = TranslationSource.get_or_create_from_instance(instance)
    translation, _ = Translation.objects.get_or_create(source=source, target_locale=locale)
    po = translation.export_po()
    missing = []
    for entry in po:
        if entry.obsolete:
            continue
        if entry.msgid in strings:
            entry.msgstr = strings[entry.msgid]
        else:
            missing.append(entry.msgid)
    if missing:
        raise MissingStrings(f"{instance}: no {locale.language_code} text for {missing!r}")
    translation.import_po(po, user=user, tool_name="translate_from_po")
    # Saved as a draft and published here rather than on commit (as wagtail-localize
    # does): the caller's transaction sees the live translation at once.
    is_draftable = isinstance(instance, DraftStateMixin)
    translation.save_target(user=user, publish=not is_draftable)
    translated = instance.get_translation(locale)
    if isinstance(translated, Page):
        translated = translated.specific
    if is_draftable:
        translated.get_latest_revision().publish(user=user)
        translated.refresh_from_db()
    return translated
