"""Each block an editor can add renders in the HTML and in the plain text."""

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from django.utils import timezone
from wagtail.images.models import Image

from cms.models import EventIndexPage, EventPage, GoodPracticeDocument, GoodPracticePage
from interviews.models import InterviewPage
from newsletters.blocks import NewsletterBodyBlock
from newsletters.models import NewsletterPage
from newsletters.rendering import render_email

pytestmark = pytest.mark.django_db


def soup(rendered):
    return BeautifulSoup(rendered.html, "html.parser")


def words(text):
    return " ".join(text.split())


def shown(value):
    """Matches a text node as a reader sees it: folded lines read as spaces in HTML."""
    return lambda node: words(node) == value


def link(html, label):
    """The <a> whose visible text is ``label`` (MJML pads button text with whitespace)."""
    return next(a for a in html.find_all("a") if words(a.get_text()) == label)


def page_text(rendered):
    return words(soup(rendered).get_text(" "))


def test_story_with_image_and_button(make_issue, seeded):
    interview = InterviewPage.objects.get(slug="camille-esquerre")
    image = Image.objects.get(title="Gender Equality Training Handbook cover")
    rendered = render_email(
        make_issue(
            [
                (
                    "story",
                    {
                        "heading": "Our next actions",
                        "text": "<p>A <b>video toolkit</b> is coming.</p>",
                        "image": image,
                        "image_alt": "The toolkit's cover",
                        "button": {"label": "Meet Camille", "page": interview},
                    },
                )
            ]
        )
    )
    html = soup(rendered)
    assert html.find(string=shown("Our next actions"))
    assert html.find("b", string="video toolkit")
    img = html.find("img", alt="The toolkit's cover")
    assert img["width"] == "552" and ".width-1104" in img["src"]
    button = link(html, "Meet Camille")
    assert button["href"] == "https://www.example.org/interviews/camille-esquerre/"
    assert "OUR NEXT ACTIONS\n\nA video toolkit is coming." in rendered.text
    assert "Meet Camille: https://www.example.org/interviews/camille-esquerre/" in rendered.text


def test_interview_spotlight_uses_the_page_and_the_quote_override(make_issue, seeded):
    andrea = InterviewPage.objects.get(slug="andrea-luciana-marcu")
    paivi = InterviewPage.objects.get(slug="paivi-ekdahl")
    rendered = render_email(
        make_issue(
            [
                (
                    "interview_spotlight",
                    {
                        "heading": "In the spotlight",
                        "intro": "<p>Two voices.</p>",
                        "interviews": [
                            {"interview": paivi, "quote": "Digital factories attract women."},
                            {"interview": andrea, "quote": ""},
                        ],
                    },
                )
            ]
        )
    )
    text = words(rendered.text)
    html = soup(rendered)
    assert html.find(string=shown("Päivi Ekdahl")) and html.find(
        string=shown("Andrea Luciana Marcu")
    )
    assert "Development Director at Regional Council of Lapland" in page_text(rendered)
    assert "“Digital factories attract women.”" in page_text(rendered)
    assert paivi.pull_quote[:40] not in rendered.html  # overridden for this issue
    assert words(andrea.pull_quote) in page_text(rendered)
    assert html.find("img", alt="Portrait of Päivi Ekdahl")["width"] == "120"
    # The editor's order is kept.
    assert text.index("PÄIVI EKDAHL") < text.index("ANDREA LUCIANA MARCU")
    assert "Read the full interview: https://www.example.org/interviews/paivi-ekdahl/" in text


def test_good_practice_feature_offers_its_first_document(make_issue, seeded):
    handbook = GoodPracticePage.objects.get()
    rendered = render_email(make_issue([("good_practice", {"practice": handbook})]))
    html = soup(rendered)
    assert html.find(string=shown(handbook.title))
    assert "downloaded 273 times" in page_text(rendered)  # the page's summary
    assert html.find("img", alt="Cover of the PENELOPE Gender Equality Training Handbook")
    button = link(html, "Click here to download the handbook")
    assert button["href"].startswith("https://cms.example.org/documents/")
    assert "Click here to download the handbook: https://cms.example.org/documents/" in words(
        rendered.text
    )


def test_good_practice_without_document_reads_more(make_issue, seeded):
    handbook = GoodPracticePage.objects.get()
    GoodPracticeDocument.objects.filter(page=handbook).delete()
    rendered = render_email(
        make_issue([("good_practice", {"practice": handbook, "show_cover": False})])
    )
    button = link(soup(rendered), "Read more")
    assert (
        button["href"]
        == "https://www.example.org/good-practices/gender-equality-training-handbook/"
    )
    assert not soup(rendered).find("img")


def test_chosen_past_events_read_as_reports(make_issue, seeded):
    events = {event.slug: event for event in EventPage.objects.all()}
    rendered = render_email(
        make_issue(
            [
                (
                    "events",
                    {
                        "heading": "Where we presented the handbook",
                        "source": "chosen",
                        "events": [
                            events["european-cluster-conference-2024"],
                            events["eu-clusters-talks-gender-equality-2024"],
                        ],
                    },
                )
            ]
        )
    )
    text = rendered.text
    assert "8 May 2024 · The Square, Brussels, Belgium · 500 participants" in text
    assert "25 January 2024 · Online · 90 participants" in text
    # The editor's order is kept.
    assert text.index("European Cluster Conference") < text.index("EU Clusters Talks")
    assert "Watch the recording: https://www.clustercollaboration.eu/eu-clusters-talks" in text
    assert link(soup(rendered), "Read the report")


def test_upcoming_events_are_resolved_when_rendered(make_issue, seeded):
    issue = make_issue([("events", {"heading": "Save the date", "source": "upcoming", "count": 2})])
    first = render_email(issue).text
    assert "Launch of the PENELOPE video toolkit" in first
    assert "participants" not in first

    index = EventIndexPage.objects.get()
    soon = timezone.now() + timedelta(days=3)
    event = EventPage(
        title="Gender equality webinar",
        slug="gender-equality-webinar",
        start=soon,
        end=soon + timedelta(hours=1),
        is_online=True,
        summary="An hour on inclusive recruitment.",
        registration_url="https://example.org/webinar",
    )
    index.add_child(instance=event)
    event.save_revision().publish()

    later = render_email(issue).text
    assert later.index("Gender equality webinar") < later.index("Launch of the PENELOPE")
    assert "Register: https://example.org/webinar" in later


def test_rich_text_links_are_absolute(make_issue, seeded):
    interview = InterviewPage.objects.get(slug="massimiliano-rumignani")
    document = GoodPracticePage.objects.get().main_document
    rendered = render_email(
        make_issue(
            [
                (
                    "rich_text",
                    f'<p>Read <a linktype="page" id="{interview.pk}">Massimiliano</a> and '
                    f'<a linktype="document" id="{document.pk}">the handbook</a>.</p>'
                    "<ul><li>one</li><li>two</li></ul>",
                )
            ]
        )
    )
    html = soup(rendered)
    assert (
        link(html, "Massimiliano")["href"]
        == "https://www.example.org/interviews/massimiliano-rumignani/"
    )
    assert link(html, "the handbook")["href"].startswith("https://cms.example.org/documents/")
    assert (
        "Read Massimiliano (https://www.example.org/interviews/massimiliano-rumignani/) and"
        in words(rendered.text)
    )
    assert "- one\n\n- two" in rendered.text


def test_button_image_and_divider(make_issue, seeded):
    image = Image.objects.get(title="Portrait of Camille Esquerré")
    handbook_pdf = GoodPracticePage.objects.get().main_document
    rendered = render_email(
        make_issue(
            [
                ("button", {"label": "Get the PDF", "document": handbook_pdf}),
                ("divider", None),
                (
                    "image",
                    {
                        "image": image,
                        "alt_text": "",
                        "caption": "Camille at the cluster",
                        "url": "https://example.org/photo",
                    },
                ),
                ("button", {"label": "Visit us", "url": "https://www.penelope-project.eu"}),
            ]
        )
    )
    html = soup(rendered)
    assert link(html, "Get the PDF")["href"].endswith(".pdf")
    assert link(html, "Visit us")["href"] == "https://www.penelope-project.eu"
    img = html.find("img", alt="Portrait of Camille Esquerré")  # the image's description
    assert img.find_parent("a")["href"] == "https://example.org/photo"
    assert html.find(string=shown("Camille at the cluster"))
    assert html.find("p", style=lambda s: s and "border-top" in s)  # the divider
    text = rendered.text
    assert "Get the PDF: https://cms.example.org/documents/" in text
    assert "----------------------------------------" in text
    assert (
        "[Portrait of Camille Esquerré] Camille at the cluster (https://example.org/photo)"
        in words(text)
    )
    assert text.index("Get the PDF") < text.index("-----") < text.index("Visit us")


def test_every_block_has_an_icon_a_template_and_a_description():
    for name, block in NewsletterBodyBlock().child_blocks.items():
        assert block.meta.icon, name
        assert block.meta.template.endswith(".mjml"), name
        assert block.meta.description, name


def test_block_picker_previews_compile_to_html(seeded, editor_client):
    stream_block = NewsletterPage._meta.get_field("body").stream_block
    for name, block in stream_block.child_blocks.items():
        assert block.is_previewable, name
        response = editor_client.get("/admin/block-preview/", {"id": block.definition_prefix})
        assert response.status_code == 200, name
        assert b"<mj-" not in response.content and b"{%" not in response.content
    spotlight = stream_block.child_blocks["interview_spotlight"].definition_prefix
    response = editor_client.get("/admin/block-preview/", {"id": spotlight})
    assert b"Read the full interview" in response.content
