"""Registers the mailing admin (defined in ``mailing.admin``) with Wagtail."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.snippets.models import register_snippet

from mailing.admin import audience, campaigns, imports, segments
from mailing.admin import digests as digests_admin

register_snippet(audience.AudienceGroup)

for _action in audience.BULK_ACTIONS:
    hooks.register("register_bulk_action", _action)


@hooks.register("register_admin_urls")
def register_audience_urls():
    return imports.urls()


@hooks.register("register_admin_urls")
def register_segment_urls():
    return segments.urls()


@hooks.register("register_admin_urls")
def register_campaign_urls():
    return campaigns.urls()


@hooks.register("register_admin_menu_item")
def register_campaigns_menu_item():
    return campaigns.menu_item()


@hooks.register("register_page_header_buttons")
def register_send_header_button(page, user, view_name=None, next_url=None):
    return campaigns.header_button(page, user, view_name, next_url)


@hooks.register("register_page_listing_more_buttons")
def register_send_listing_button(page, user, next_url=None):
    return campaigns.listing_button(page, user, next_url)


@hooks.register("register_log_actions")
def register_digest_log_action(actions):
    actions.register_action(
        digests_admin.LOG_ACTION,
        _("Drafted by the digest schedule"),
        _("Drafted by the digest schedule"),
    )


@hooks.register("construct_homepage_panels")
def add_digest_drafts_panel(request, panels):
    panels.append(digests_admin.DraftsWaitingPanel(request))
