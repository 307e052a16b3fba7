"""What an editor should fix before sending an issue."""

from dataclasses import dataclass

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from newsletters.rendering import GMAIL_CLIP_BYTES, RenderedEmail, render_email


@dataclass(frozen=True)
class IssueCheck:
    message: str
    level: str = "warning"

    @property
    def blocks_sending(self) -> bool:
        return self.level == "error"


def has_line_break(value: str) -> bool:
    """True when a header value would break its line (CR, LF or a Unicode line separator)."""
    value = value or ""
    return value != "".join(value.splitlines())


def check_issue(page, rendered: RenderedEmail | None = None) -> list[IssueCheck]:
    """Warnings about a rendered issue: empty subject, Gmail clipping, alt text, pages left
    out; errors (``blocks_sending``) stop a send to lists."""
    checks = []
    if not (page.subject or "").strip():
        checks.append(IssueCheck(_("The subject line is empty."), "error"))
    elif has_line_break(page.subject):
        checks.append(
            IssueCheck(
                _("The subject line holds a line break: put it on one line and save the issue."),
                "error",
            )
        )
    rendered = rendered or render_email(page)
    if rendered.html_bytes > GMAIL_CLIP_BYTES:
        checks.append(
            IssueCheck(
                _(
                    "The email's HTML weighs %(size)s: Gmail clips messages over %(limit)s, "
                    "hiding the end of the issue and the unsubscribe link."
                )
                % {
                    "size": filesizeformat(rendered.html_bytes),
                    "limit": filesizeformat(GMAIL_CLIP_BYTES),
                }
            )
        )
    checks.extend(IssueCheck(message) for message in rendered.problems)
    return checks
