"""The archive's RSS feed: sent issues of public lists, each linking to its web copy."""

from django.conf import settings
from django.http import HttpResponse
from django.utils.feedgenerator import Rss201rev2Feed
from django.utils.translation import gettext as _


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path if path.startswith("/") else path


def issues_feed(index, request, issues) -> HttpResponse:
    """RSS 2.0 (title, link, description, pubDate, guid per item)."""
    index_path = index.get_url(request=request) or "/"
    link = absolute(index_path)
    feed = Rss201rev2Feed(
        title=f"{settings.NEWSLETTER_SENDER_NAME}: {index.title}",
        link=link,
        description=_("Every issue of the newsletter as it was sent."),
        language=(index.locale.language_code if index.locale_id else settings.LANGUAGE_CODE),
        feed_url=absolute(index_path + index.reverse_subpage("feed")),
    )
    for issue in issues:
        url = absolute(issue.get_url(request=request))
        feed.add_item(
            title=issue.title,
            link=url,
            description=issue.preheader or issue.subject,
            pubdate=issue.public_sent_at,
            unique_id=url,
            unique_id_is_permalink=True,
        )
    response = HttpResponse(content_type="application/rss+xml; charset=utf-8")
    feed.write(response, "utf-8")
    return response
