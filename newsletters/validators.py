"""Validators for text that ends up in an email header (subject, preheader, sender, list)."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Unicode's categories Cc (U+0000-U+001F, U+007F-U+009F), Zl (U+2028) and Zp (U+2029),
# the tab left out; a test holds this equal to ``unicodedata.category`` over every code
# point. One regular expression: every message's To header goes through it.
_BREAKING = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def header_breaking(value: str) -> list[str]:
    """The characters that must never reach a header: line breaks of any kind (Python's
    ``splitlines`` and SMTP's), NUL and other control characters but the tab."""
    return _BREAKING.findall(str(value or ""))  # str(): a lazy translation too


def single_line(value: str) -> None:
    """Refuse line breaks and control characters: the value becomes an email header."""
    if header_breaking(value):
        raise ValidationError(
            _("Use one line: line breaks and control characters cannot go in an email header."),
            code="header_breaking",
        )
