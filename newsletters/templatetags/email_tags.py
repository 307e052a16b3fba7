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


@register.filter
def email_richtext(value):
    return mark_safe(richtext.email_html(value))  # noqa: S308 - sanitised rich text


@register.filter
def text_richtext(value):
    return richtext.plain_text(value)


@register.simple_tag
def email_image_attrs(image, width, alt=""):
    """src/alt/width/height for an <mj-image>: a rendition at twice the display width."""
    rendition = image.get_rendition(f"width-{int(width) * 2}")
    height = round(rendition.height * int(width) / rendition.width)
    return format_html(
        'src="{}" alt="{}" width="{}px" height="{}px"',
        site_url(rendition.url),
        alt or image.default_alt_text or image.title,
        int(width),
        height,
    )


@register.filter
def button_href(value):
    """A ButtonBlock's target: the chosen page on the front end, else its URL."""
    page = value.get("page")
    return frontend_url(page) if page else site_url(value.get("url") or "")
