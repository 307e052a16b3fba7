"""Small things an editor notices when composing an issue in the admin."""

import pytest
from bs4 import BeautifulSoup
from django.urls import reverse
from wagtail.blocks.struct_block import StructBlockValidationError

from cms.models import EventPage
from newsletters.blocks import EventsBlock
from newsletters.models import NewsletterIndexPage, NewsletterPage

pytestmark = pytest.mark.django_db


def events_value(**fields):
    block = EventsBlock()
    return block, block.to_python({"heading": "Where we presented the handbook", **fields})


def test_chosen_events_need_no_count(seeded):
    talks = EventPage.objects.get(slug="eu-clusters-talks-gender-equality-2024")
    block, value = events_value(source="chosen", events=[talks.pk], count=None)
    cleaned = block.clean(value)
    assert [event.pk for event in cleaned["events"]] == [talks.pk]
    assert not block.child_blocks["count"].required


def test_upcoming_events_still_need_a_count(seeded):
    block, value = events_value(source="upcoming", events=[], count=None)
    with pytest.raises(StructBlockValidationError) as error:
        block.clean(value)
    assert list(error.value.block_errors) == ["count"]
    assert block.clean(events_value(source="upcoming", events=[], count=2)[1])["count"] == 2


def test_a_new_issue_starts_with_the_next_number(editor_client, issue3):
    archive = NewsletterIndexPage.objects.get()
    assert NewsletterPage().issue_number == 4
    url = reverse("wagtailadmin_pages:add", args=["newsletters", "newsletterpage", archive.pk])
    form = BeautifulSoup(editor_client.get(url).content, "html.parser")
    assert form.find("input", attrs={"name": "issue_number"})["value"] == "4"
    # An issue being edited keeps its own number.
    edit = reverse("wagtailadmin_pages:edit", args=[issue3.pk])
    form = BeautifulSoup(editor_client.get(edit).content, "html.parser")
    assert form.find("input", attrs={"name": "issue_number"})["value"] == "3"


def test_the_archive_listing_shows_draft_the_next_issue_in_its_header(editor_client, issue3):
    archive = NewsletterIndexPage.objects.get()
    draft = reverse("newsletters_draft_next_issue", args=[archive.pk])
    page = BeautifulSoup(
        editor_client.get(reverse("wagtailadmin_explore", args=[archive.pk])).content,
        "html.parser",
    )
    header = page.find("nav", id="w-slim-header-buttons")
    button = header.find("a", href=draft, recursive=False)
    assert button is not None and "Draft the next issue" in button.get_text()
    # Once, beside the title: not repeated in the actions menu.
    assert len(page.find_all("a", href=draft)) == 1
    # The issue's listing and other sections have no such button.
    for other in (issue3.get_parent().get_parent(), issue3):
        listing = editor_client.get(reverse("wagtailadmin_explore", args=[other.pk]))
        header = BeautifulSoup(listing.content, "html.parser").find(
            "nav", id="w-slim-header-buttons"
        )
        assert header is None or header.find("a", href=draft, recursive=False) is None
