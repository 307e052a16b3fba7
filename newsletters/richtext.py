"""The one place that turns Wagtail rich text into email-safe HTML and into plain text."""

import re
from html import unescape

from bs4 import BeautifulSoup
from wagtail.rich_text import expand_db_html

from cms.links import site_url

_BLOCK_TAGS = {"p", "h2", "h3", "h4", "li", "blockquote"}


def email_html(value) -> str:
    """Rich text (stored or RichText) → HTML with every link absolute and inline styles."""
    soup = BeautifulSoup(expand_db_html(str(getattr(value, "source", value))), "html.parser")
    for a in soup.find_all("a", href=True):
        if not re.match(r"^(https?:|mailto:|tel:|%%)", a["href"]):
            a["href"] = site_url(a["href"])
        a["style"] = "color:#6b2c91;text-decoration:underline;"
    for p in soup.find_all("p"):
        p["style"] = "margin:0 0 12px 0;"
    return str(soup)


def plain_text(value) -> str:
    """Rich text → readable plain text: paragraphs kept, links written as “text (url)”."""
    soup = BeautifulSoup(email_html(value), "html.parser")
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
    return unescape("\n\n".join(chunks))
