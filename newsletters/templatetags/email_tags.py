"""Template helpers for the MJML and plain-text email templates."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from cms.links import frontend_url, site_url
from newsletters import richtext

register = template.Library()


@register.filter
def absolute(url):
    return site_url(str(url)) if url else ""


@register.filter
def page_url(page):
    return frontend_url(page)


@register.simple_tag(takes_context=True)
def email_richtext(context, value):
    """Rich text as email HTML; links to unpublished pages are reported."""
    html = richtext.email_html(value, context.get("email_problems"))
    return mark_safe(html)  # noqa: S308 - Wagtail rich text, links rewritten


@register.simple_tag(takes_context=True)
def text_richtext(context, value):
    return richtext.plain_text(value, context.get("email_problems"))


@register.simple_tag
def email_image_attrs(image, width, alt=""):
    """src/alt/width/height for an <mj-image>: a rendition at twice the display width."""
    width = int(width)
    rendition = image.get_rendition(f"width-{width * 2}")
    shown = min(width, rendition.width)
    height = round(rendition.height * shown / rendition.width)
    return format_html(
        'src="{}" alt="{}" width="{}px" height="{}px"',
        site_url(rendition.url),
        alt,
        shown,
        height,
    )


@register.filter
def upper_text(value):
    """Upper case for plain-text headings (the HTML uses CSS for the same effect)."""
    return str(value).upper()


@register.simple_tag(takes_context=True)
def email_block_preview(context, bound_block):
    """The block picker's preview: the block's MJML compiled to HTML on its own."""
    from newsletters.rendering import render_block_preview

    return mark_safe(render_block_preview(bound_block, {"request": context.get("request")}))  # noqa: S308
