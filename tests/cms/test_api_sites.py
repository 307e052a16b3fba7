"""The request's site is remembered per host (`cms.api.sites`) and forgotten as soon as
a site or a root page's place changes: the API never answers for the wrong site."""

import pytest
from wagtail.models import Page, Site

from cms.api import sites
from cms.models import EventPage

pytestmark = pytest.mark.django_db

EVENTS = "/api/v2/pages/?type=cms.EventPage&fields=title"


def _titles(client, host, url=EVENTS):
    response = client.get(url, HTTP_HOST=host)
    assert response.status_code == 200, response.content[:300]
    return sorted(item["title"] for item in response.json()["items"])


@pytest.fixture
def second_site(seeded):
    """A second site on its own host, whose tree holds one event of its own."""
    root = Page.get_first_root_node()
    home = root.add_child(instance=Page(title="Partner home", slug="partner-home"))
    home.add_child(
        instance=EventPage(
            title="Partner event",
            slug="partner-event",
            start="2030-01-01T10:00:00Z",
            summary="A partner's event.",
            is_online=True,
        )
    )
    site = Site.objects.create(hostname="partner.example", port=80, root_page=home)
    return site


def test_each_host_gets_its_own_site_and_the_answer_is_remembered(
    second_site, client, django_assert_max_num_queries
):
    default = _titles(client, "testserver")
    assert "Partner event" not in default and default
    assert _titles(client, "partner.example") == ["Partner event"]
    # Remembered: no site query on the next request for either host.
    for host in ("testserver", "partner.example"):
        with django_assert_max_num_queries(1):
            client.get(f"{EVENTS}&_=again", HTTP_HOST=host)
    assert set(sites.cache.get(sites.KEY)) == {"testserver:80", "partner.example:80"}


def test_a_site_change_is_seen_by_the_next_request(second_site, client, seeded):
    assert _titles(client, "partner.example") == ["Partner event"]
    # The host moves to another site: the default one answers for it at once.
    second_site.hostname = "elsewhere.example"
    second_site.save()
    assert "Partner event" not in _titles(client, "partner.example")
    assert _titles(client, "elsewhere.example") == ["Partner event"]
    # A site's root page changes: its listings follow.
    default_site = Site.objects.get(is_default_site=True)
    default_root = default_site.root_page
    second_site.root_page = default_root
    second_site.save()
    assert _titles(client, "elsewhere.example") == _titles(client, "testserver")
    second_site.delete()
    assert _titles(client, "elsewhere.example") == _titles(client, "testserver")


def test_a_moved_root_page_is_followed(second_site, client):
    assert _titles(client, "partner.example") == ["Partner event"]
    home = second_site.root_page
    holder = Page.get_first_root_node().add_child(instance=Page(title="Holder", slug="holder"))
    home.move(holder, pos="last-child")
    assert _titles(client, "partner.example") == ["Partner event"]
    assert Page.objects.get(pk=home.pk).path.startswith(holder.path)


def test_an_html_path_is_found_under_the_requests_site(second_site, client):
    response = client.get(
        "/api/v2/pages/find/?html_path=partner-event/", HTTP_HOST="partner.example"
    )
    assert response.status_code in (200, 302), response.content[:300]
    if response.status_code == 302:
        response = client.get(response["Location"], HTTP_HOST="partner.example")
    assert response.json()["title"] == "Partner event"
    missing = client.get("/api/v2/pages/find/?html_path=partner-event/", HTTP_HOST="testserver")
    assert missing.status_code == 404
