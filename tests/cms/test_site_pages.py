import pytest
from wagtail.models import Page

from cms.models import EventIndexPage, EventPage, GoodPracticePage, HomePage
from interviews.models import InterviewIndexPage, InterviewPage

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "model",
    [HomePage, InterviewIndexPage, InterviewPage, GoodPracticePage, EventIndexPage, EventPage],
)
def test_seeded_pages_are_served(client, seeded, model):
    for page in model.objects.live():
        response = client.get(page.url)
        assert response.status_code == 200, page.url
        assert page.title.encode() in response.content or page.title in response.text


def test_event_index_separates_upcoming_from_past(client, seeded):
    text = client.get(EventIndexPage.objects.get().url).text
    upcoming, past = text.split("<h2>Past</h2>")
    assert "Virtual Learning Environment" in upcoming
    assert "European Cluster Conference 2024" in past and "500 participants" in past


def test_handbook_page_offers_the_download(client, seeded):
    page = GoodPracticePage.objects.get()
    text = client.get(page.url).text
    assert "Click here to download the handbook" in text
    assert page.main_document.url in text


def test_unpublished_page_is_not_served(client, seeded):
    page = InterviewPage.objects.get(slug="paivi-ekdahl")
    url = page.url
    page.unpublish()
    assert client.get(url).status_code == 404
    assert Page.objects.live().filter(pk=page.pk).count() == 0
