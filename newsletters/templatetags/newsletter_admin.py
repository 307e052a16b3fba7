"""Template helpers for the newsletter app's additions to Wagtail's admin screens."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def page_listing_header_buttons(context, parent_page):
    """Header buttons that a page listing shows beside the page's title."""
    from newsletters.wagtail_hooks import listing_header_buttons

    request = context.get("request")
    if parent_page is None or request is None:
        return []
    return listing_header_buttons(parent_page, request.user)
