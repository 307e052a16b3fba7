"""The one place that turns Wagtail rich text into email-safe HTML and into plain text."""

import re
from html import unescape

from bs4 import BeautifulSoup
from wagtail.models import Page
from wagtail.rich_text import expand_db_html

from cms.links import frontend_url, site_url
from newsletters.blocks import LINK_LEFT_OUT, hidden_reason, shown

_BLOCK_TAGS = {"p", "h2", "h3", "h4", "li", "blockquote"}
LINK_STYLE = "color:#6b2c91;text-decoration:underline;"


def _page_links(source: str, problems: list | None) -> str:
    """Internal page links point at the external site; links to pages an email may not
    show (``blocks.shown``) lose their address and are reported."""
    if 'linktype="page"' not in source:
        return source
    soup = BeautifulSoup(source, "html.parser")
    ids = {
        int(a["id"])
        for a in soup.find_all("a", attrs={"linktype": "page"})
        if str(a.get("id", "")).isdigit()
    }
    pages = {page.pk: page for page in Page.objects.filter(pk__in=ids).specific()}
    allowed = set(shown(Page.objects.filter(pk__in=ids)).values_list("pk", flat=True))
    for a in soup.find_all("a", attrs={"linktype": "page"}):
        page = pages.get(int(a["id"])) if str(a.get("id", "")).isdigit() else None
        href = frontend_url(page) if page is not None and page.pk in allowed else ""
        if page is not None and not href and problems is not None:
            reason = hidden_reason(page) or "unpublished"
            message = str(LINK_LEFT_OUT[reason] % {"title": page.title})
            if message not in problems:
                problems.append(message)
        a.attrs = {"href": href} if href else {}
    return str(soup)


def email_html(value, problems: list | None = None) -> str:
    """Rich text (stored or RichText) → HTML with every link absolute and inline styles."""
    source = _page_links(str(getattr(value, "source", value) or ""), problems)
    soup = BeautifulSoup(expand_db_html(source), "html.parser")
    for a in soup.find_all("a"):
        if not a.get("href"):
            a.unwrap()
            continue
        if not re.match(r"^(https?:|mailto:|tel:|%%)", a["href"]):
            a["href"] = site_url(a["href"])
        a["style"] = LINK_STYLE
    for p in soup.find_all("p"):
        p["style"] = "margin:0 0 12px 0;"
    for list_tag in soup.find_all(["ul", "ol"]):
        list_tag["style"] = "margin:0 0 12px 0;padding-left:24px;"
    return str(soup)


def plain_text(value, problems: list | None = None) -> str:
    """Rich text → readable plain text: paragraphs kept, links written as “text (url)”."""
    soup = BeautifulSoup(email_html(value, problems), "html.parser")
    for a in soup.find_all("a", href=True):
        label = a.get_text(" ", strip=True)
        a.replace_with(f"{label} ({a['href']})" if label and label != a["href"] else a["href"])
    for li in soup.find_all("li"):
        li.insert(0, "- ")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    chunks = []
    for element in soup.find_all(_BLOCK_TAGS):
        if element.find(_BLOCK_TAGS):
            continue
        text = re.sub(r"[ \t]+", " ", element.get_text()).strip()
        if text:
            chunks.append(text)
    if not chunks:
        chunks = [soup.get_text(" ", strip=True)]
    return unescape("\n\n".join(chunk for chunk in chunks if chunk))
