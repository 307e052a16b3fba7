from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.widgets import Button, HeaderButton

from newsletters.admin_views import DraftNextIssueView
from newsletters.models import NewsletterIndexPage

DRAFT_LABEL = _("Draft the next issue")


@hooks.register("register_admin_urls")
def register_admin_urls():
    return [
        path(
            "newsletters/<int:archive_id>/draft-next-issue/",
            DraftNextIssueView.as_view(),
            name="newsletters_draft_next_issue",
        )
    ]


def can_draft(page, user) -> bool:
    return isinstance(page.specific_deferred, NewsletterIndexPage) and (
        page.permissions_for_user(user).can_add_subpage()
    )


def draft_url(page) -> str:
    return reverse("newsletters_draft_next_issue", args=[page.pk])


def listing_header_buttons(page, user) -> list:
    """The archive's own listing shows the action beside its title, not in a menu: it is
    what an editor comes to the archive for (see templates/wagtailadmin/pages/)."""
    if not can_draft(page, user):
        return []
    return [HeaderButton(DRAFT_LABEL, url=draft_url(page), icon_name="mail")]


@hooks.register("register_page_header_buttons")
def draft_next_issue_header_button(page, user, view_name=None, next_url=None):
    # On the archive's listing ("index") the button is in the header itself.
    if view_name != "index" and can_draft(page, user):
        yield Button(DRAFT_LABEL, url=draft_url(page), icon_name="mail", priority=16)


@hooks.register("register_page_listing_more_buttons")
def draft_next_issue_listing_button(page, user, next_url=None):
    if can_draft(page, user):
        yield Button(DRAFT_LABEL, url=draft_url(page), icon_name="mail", priority=9)
