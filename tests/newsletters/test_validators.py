import sys
import unicodedata

import pytest
from django.core.exceptions import ValidationError

from newsletters.validators import header_breaking, single_line


def test_header_breaking_is_unicodes_control_and_separator_characters_but_the_tab():
    """The regular expression holds exactly the characters of categories Cc, Zl and Zp
    (the tab left out), over every code point."""
    expected = [
        chr(point)
        for point in range(sys.maxunicode + 1)
        if chr(point) != "\t" and unicodedata.category(chr(point)) in {"Cc", "Zl", "Zp"}
    ]
    every = "".join(chr(point) for point in range(sys.maxunicode + 1))
    assert header_breaking(every) == expected
    assert len(expected) == 66  # the 65 controls less the tab, U+2028, U+2029


@pytest.mark.parametrize(
    "value", ["Hello\r\nBcc: x@example.org", "a\nb", "nul\x00", "nel\x85", "ls\u2028", "ps\u2029"]
)
def test_a_line_break_or_control_character_is_refused(value):
    with pytest.raises(ValidationError):
        single_line(value)


@pytest.mark.parametrize("value", ["", None, "Tab\there", "Ünïcödé — “quotes” 日本", "a\u200bb"])
def test_one_line_of_any_script_passes(value):
    single_line(value)
    assert header_breaking(value) == []


def test_a_lazy_translation_is_read_as_its_text():
    from django.utils.functional import lazy

    assert header_breaking(lazy(lambda: "a\r\nb", str)()) == ["\r", "\n"]
    assert header_breaking(lazy(lambda: "one line", str)()) == []
