"""The one place that renders a newsletter issue: MJML → HTML with mjml-python, and plain text.

An issue is rendered once per campaign and language, in the language of its locale
(``in_language``: the chrome, the dates, the ``lang`` it declares); each translation of
an issue is a page of its own. Per-recipient values are placeholders
(``PLACEHOLDERS``) that survive rendering and are filled in by ``personalise``.
Both parts come from the same blocks and the same resolved context (see
``newsletters.blocks``): each block's MJML template has a ``.txt`` twin.
"""

import re
import textwrap
from dataclasses import dataclass, field
from html import escape

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from mjml import mjml2html

from cms.links import frontend_url
from newsletters.blocks import image_alt, text_template

PLACEHOLDERS = {
    "name": "%%NAME%%",
    "email": "%%EMAIL%%",
    "unsubscribe_url": "%%UNSUBSCRIBE_URL%%",
    "preferences_url": "%%PREFERENCES_URL%%",
    "web_url": "%%WEB_URL%%",
}
_PLACEHOLDER_RE = re.compile("(" + "|".join(map(re.escape, PLACEHOLDERS.values())) + ")")
_KEYS = {placeholder: key for key, placeholder in PLACEHOLDERS.items()}
# Gmail clips messages whose HTML is larger than this.
GMAIL_CLIP_BYTES = 102 * 1024
# Lines stay well under SMTP's 998-octet limit, so senders can use 7bit/8bit, not QP,
# with room left for the per-recipient values substituted into a line after rendering.
MAX_LINE = 760
TEXT_WIDTH = 76
# “Label: URL” lines stay whole, so the label and its link read together.
_LABELLED_URL = re.compile(r"^[^\s].{0,80}: (https?://|%%)\S+$")
# Zero-width padding after the preheader keeps inboxes from appending body text to it.
PREHEADER_PADDING = "&#847;&zwnj;&nbsp;" * 40


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str
    # What an editor should fix: unpublished pages, images without alt text.
    problems: tuple[str, ...] = field(default=())

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode())


@dataclass(frozen=True)
class RenderedBlock:
    block_type: str
    mjml: str
    text: str


def activation_code(code: str) -> str:
    """What to activate to write in ``code``: LANGUAGE_CODE when it is a variant of it
    (``en`` → ``en-gb``: British spelling and dates), else the code itself."""
    if code and settings.LANGUAGE_CODE.split("-")[0] == code:
        return settings.LANGUAGE_CODE
    return code or settings.LANGUAGE_CODE


def in_language(code: str):
    """A context manager: what renders inside it is written in ``code``."""
    return translation.override(activation_code(code))


def language_of(page) -> str:
    """The language a page is written in: its locale's (Wagtail ``Locale``)."""
    locale_id = getattr(page, "locale_id", None)
    return page.locale.language_code if locale_id else settings.LANGUAGE_CODE.split("-")[0]


def render_mjml(template_name: str, context: dict) -> str:
    """Any email template in MJML (the issue, the confirmation email) to folded HTML; the
    preheader padding is in the context for ``newsletters/email/preheader.mjml``."""
    source = render_to_string(template_name, {"preheader_padding": PREHEADER_PADDING, **context})
    return fold_long_lines(mjml2html(source, disable_comments=True))


def render_email(page, *, extra_context=None) -> RenderedEmail:
    """Render a NewsletterPage (live object or a revision's ``as_object()``).

    ``extra_context``: e.g. ``{"no_web_link": True}`` when the email has no "view in
    browser" copy to link to (sent to an internal list). Written in the page's language."""
    with in_language(language_of(page)):
        context = issue_context(page, extra_context)
        html = render_mjml("newsletters/email/issue.mjml", context)
        text = render_to_string("newsletters/email/issue.txt", context)
    return RenderedEmail(
        subject=page.subject,
        preheader=page.preheader,
        html=html,
        text=tidy_text(text),
        problems=tuple(context["email_problems"]),
    )


def matches_reader_topics(page) -> bool:
    """Whether a block of the issue shows each reader the pages on their topics: then a
    campaign renders it once per distinct topic set (``reader_topics`` in the context)."""
    return any(
        ((getattr(bound, "value", None) or {}).get("topics") or {}).get("enabled")
        for bound in page.body
        if hasattr(getattr(bound, "value", None), "get")
    )


def issue_context(page, extra_context=None) -> dict:
    """The issue's template context, with every body block resolved and rendered once."""
    context = {
        "page": page,
        "placeholders": PLACEHOLDERS,
        "live_url": frontend_url(page) if page.pk and page.live else "",
        "sender_name": settings.NEWSLETTER_SENDER_NAME,
        "postal_address": settings.NEWSLETTER_POSTAL_ADDRESS,
        "preheader_padding": PREHEADER_PADDING,
        "now": timezone.now(),
        "email_problems": [],
        **(extra_context or {}),
    }
    if page.banner_image:
        context["banner_alt"] = image_alt(page.banner_image, "", context)
    context["rendered_blocks"] = [render_block(bound, context) for bound in page.body]
    return context


def render_block(bound_block, parent_context) -> RenderedBlock:
    """One body block as an MJML fragment and as text, from one resolved context."""
    block, value = bound_block.block, bound_block.value
    context = block.get_context(value, parent_context=parent_context)
    template = block.get_template(value, context=context)
    return RenderedBlock(
        block_type=getattr(bound_block, "block_type", block.name),
        mjml=mark_safe(render_to_string(template, context)),  # noqa: S308 - our template
        text=mark_safe(render_to_string(text_template(template), context).strip()),  # noqa: S308
    )


def render_block_preview(bound_block, parent_context=None) -> str:
    """A single block compiled to HTML on its own (the block picker's preview)."""
    context = {
        **(parent_context or {}),
        "placeholders": PLACEHOLDERS,
        "now": timezone.now(),
        "email_problems": [],
    }
    rendered = render_block(bound_block, context)
    source = render_to_string("newsletters/email/block_preview.mjml", {"block": rendered})
    return mjml2html(source, disable_comments=True)


def personalise(content: str, values: dict[str, str], *, html: bool = False) -> str:
    """Fill the per-recipient placeholders in rendered HTML or text.

    With ``html=True`` the values are HTML-escaped (a name may hold ``<`` or ``&``).
    For many recipients, build one ``Personaliser`` per part and call ``fill``.
    """
    return Personaliser(content, html=html).fill(values)


class Personaliser:
    """Rendered content split once at its placeholders, filled per recipient by one join."""

    def __init__(self, content: str, *, html: bool = False, extra: dict[str, str] | None = None):
        """``extra``: more placeholders (value key → placeholder) a sender adds."""
        pattern, self.keys = _PLACEHOLDER_RE, _KEYS
        if extra:
            self.keys = {**_KEYS, **{placeholder: key for key, placeholder in extra.items()}}
            pattern = re.compile("(" + "|".join(map(re.escape, self.keys)) + ")")
        # re.split with a group keeps the placeholders at the odd positions.
        self.parts = pattern.split(content)
        self.html = html

    def fill(self, values: dict[str, str]) -> str:
        parts = self.parts[:]
        for index in range(1, len(parts), 2):
            value = values.get(self.keys[parts[index]], "") or ""
            parts[index] = escape(value) if self.html else value
        return "".join(parts)


def fold_long_lines(html: str, limit: int = MAX_LINE) -> str:
    """Break lines longer than ``limit`` at spaces where a newline means the same.

    A space and a newline are the same whitespace to HTML and CSS, so the page renders
    the same and no line needs quoted-printable encoding. Spaces inside quoted values
    (attributes, CSS strings) and inside ``<!...>`` (Outlook's conditional comments)
    are never broken.
    """
    chars = list(html)
    line_start, last_safe = 0, None
    in_tag = bang = in_style = False
    quote, tag_start = "", 0
    for index, char in enumerate(chars):
        if char == "\n":
            line_start, last_safe = index + 1, None
            continue
        if quote:
            if char == quote:
                quote = ""
        elif (in_tag or in_style) and char in "\"'":
            quote = char
        elif char == "<" and not in_tag:
            in_tag, tag_start = True, index
            bang = html.startswith("<!", index)
        elif char == ">" and in_tag:
            in_tag = False
            tag = html[tag_start : index + 1].lower()
            if tag.startswith("<style"):
                in_style = True
            elif tag.startswith("</style"):
                in_style = False
        elif char == " " and not (in_tag and bang):
            last_safe = index
        if index - line_start >= limit and last_safe is not None:
            chars[last_safe] = "\n"
            line_start, last_safe = last_safe + 1, None
    return "".join(chars)


def tidy_text(text: str) -> str:
    """Collapse blank runs and wrap long lines without breaking URLs."""
    tidy, blank = [], 0
    for line in text.splitlines():
        line = line.rstrip()
        blank = blank + 1 if not line else 0
        if blank > 1:
            continue
        if len(line) <= TEXT_WIDTH or _LABELLED_URL.match(line):
            tidy.append(line)
            continue
        indent = "  " if line.startswith("- ") else ""
        tidy.extend(
            textwrap.wrap(
                line,
                TEXT_WIDTH,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return re.sub(r"\n{3,}", "\n\n", "\n".join(tidy)).strip() + "\n"
