"""Validators for text that ends up in an email header (subject, preheader, sender, list)."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def header_breaking(value: str) -> list[str]:
    """The characters that must never reach a header: line breaks of any kind (Python's
    ``splitlines`` and SMTP's), NUL and other control characters but the tab."""
    return [
        ch for ch in value or "" if ch != "\t" and unicodedata.category(ch) in {"Cc", "Zl", "Zp"}
    ]


def single_line(value: str) -> None:
    """Refuse line breaks and control characters: the value becomes an email header."""
    if header_breaking(value):
        raise ValidationError(
            _("Use one line: line breaks and control characters cannot go in an email header."),
            code="header_breaking",
        )
