"""Compile the gettext catalogues (``locale/*/LC_MESSAGES/*.po`` → ``.mo``) with polib.

GNU gettext's ``msgfmt`` is not needed: ``make install``, ``make run``, ``make test`` and
the test suite call this, and it only writes a ``.mo`` that is missing or older than its
``.po``. Like ``msgfmt``, it leaves fuzzy and untranslated entries out (the English text
is shown for them). Imports nothing from Django, so the test suite can run it before
Django is set up.
"""

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import polib


def catalogues(locale_dirs: Iterable[Path]) -> list[Path]:
    """Every ``.po`` file under the locale directories, sorted."""
    return sorted(po for d in locale_dirs for po in Path(d).glob("*/LC_MESSAGES/*.po"))


def is_stale(po: Path) -> bool:
    mo = po.with_suffix(".mo")
    return not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime


def compile_catalogue(po: Path) -> Path:
    """Write ``po``'s ``.mo`` beside it; the file is replaced whole, so that a process
    reading it meanwhile (a parallel test worker, a running server) never sees half."""
    mo = po.with_suffix(".mo")
    handle, temporary = tempfile.mkstemp(dir=po.parent, prefix=".", suffix=".mo")
    os.close(handle)
    try:
        polib.pofile(str(po)).save_as_mofile(temporary)
        os.replace(temporary, mo)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return mo


def compile_all(locale_dirs: Iterable[Path], *, force: bool = False) -> list[Path]:
    """Compile the stale catalogues (all with ``force``); the ``.mo`` files written."""
    return [compile_catalogue(po) for po in catalogues(locale_dirs) if force or is_stale(po)]
