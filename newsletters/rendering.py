"""The one place that renders a newsletter issue: MJML → HTML with mjml-python, and plain text.

An issue is rendered once per campaign. Per-recipient values are placeholders
(``PLACEHOLDERS``) that survive rendering and are filled in by ``personalise``.
"""

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from mjml import mjml2html

from cms.links import frontend_url

PLACEHOLDERS = {
    "name": "%%NAME%%",
    "email": "%%EMAIL%%",
    "unsubscribe_url": "%%UNSUBSCRIBE_URL%%",
    "preferences_url": "%%PREFERENCES_URL%%",
    "web_url": "%%WEB_URL%%",
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str


def render_email(page, *, extra_context=None) -> RenderedEmail:
    """Render a NewsletterPage (live object or a revision's ``as_object()``)."""
    context = {
        "page": page,
        "blocks": list(page.body),
        "placeholders": PLACEHOLDERS,
        "live_url": frontend_url(page) if page.pk and page.live else "",
        "sender_name": settings.NEWSLETTER_SENDER_NAME,
        "postal_address": settings.NEWSLETTER_POSTAL_ADDRESS,
        **(extra_context or {}),
    }
    mjml_source = render_to_string("newsletters/email/issue.mjml", context)
    html = mjml2html(mjml_source, disable_comments=True)
    text = render_to_string("newsletters/email/issue.txt", context)
    return RenderedEmail(
        subject=page.subject,
        preheader=page.preheader,
        html=html,
        text=_tidy_text(text),
    )


def personalise(content: str, values: dict[str, str]) -> str:
    """Fill the per-recipient placeholders in rendered HTML or text."""
    for key, placeholder in PLACEHOLDERS.items():
        if placeholder in content:
            content = content.replace(placeholder, values.get(key, ""))
    return content


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    tidy, blank = [], 0
    for line in lines:
        blank = blank + 1 if not line else 0
        if blank <= 1:
            tidy.append(line)
    return "\n".join(tidy).strip() + "\n"
