from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.widgets import Button

from newsletters.admin_views import DraftNextIssueView
from newsletters.models import NewsletterIndexPage


@hooks.register("register_admin_urls")
def register_admin_urls():
    return [
        path(
            "newsletters/<int:archive_id>/draft-next-issue/",
            DraftNextIssueView.as_view(),
            name="newsletters_draft_next_issue",
        )
    ]


def _draft_button(page, user, priority):
    if isinstance(page.specific_deferred, NewsletterIndexPage) and (
        page.permissions_for_user(user).can_add_subpage()
    ):
        yield Button(
            _("Draft the next issue"),
            url=reverse("newsletters_draft_next_issue", args=[page.pk]),
            icon_name="mail",
            priority=priority,
        )


@hooks.register("register_page_header_buttons")
def draft_next_issue_header_button(page, user, view_name=None, next_url=None):
    yield from _draft_button(page, user, priority=16)


@hooks.register("register_page_listing_more_buttons")
def draft_next_issue_listing_button(page, user, next_url=None):
    yield from _draft_button(page, user, priority=9)
