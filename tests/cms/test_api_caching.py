"""HTTP caching of the content API: validators, 304s, and invalidation on publish."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wagtail.models import PageViewRestriction

from cms.models import Organisation

pytestmark = pytest.mark.django_db

URLS = ["/api/v2/pages/?type=interviews.InterviewPage", "/api/v2/pages/{pk}/"]


def _urls(page):
    return [url.format(pk=page.pk) for url in URLS]


def test_list_and_detail_carry_validators_and_cdn_cache_control(seeded, client):
    for url in _urls(seeded["interviews"][0]):
        response = client.get(url)
        assert response.status_code == 200
        assert response["ETag"].startswith('"')
        assert response["Last-Modified"].endswith("GMT")
        assert "public" in response["Cache-Control"]
        assert "s-maxage=" in response["Cache-Control"]


def test_conditional_requests_get_304_without_a_body(seeded, client):
    for url in _urls(seeded["interviews"][0]):
        first = client.get(url)
        again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304
        assert again.content == b""
        assert again["ETag"] == first["ETag"]
        since = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
        assert since.status_code == 304
        assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_different_queries_have_different_etags(seeded, client):
    a = client.get("/api/v2/pages/?limit=1")["ETag"]
    b = client.get("/api/v2/pages/?limit=2")["ETag"]
    assert a != b


def _etags(client, page):
    return [client.get(url)["ETag"] for url in _urls(page)]


def test_publishing_changes_every_validator(seeded, client):
    page = seeded["interviews"][0]
    before = _etags(client, page)
    page.title = "A new title"
    page.save_revision().publish()
    after = _etags(client, page)
    assert all(a != b for a, b in zip(before, after, strict=True))
    assert client.get(_urls(page)[1]).json()["title"] == "A new title"


def test_saving_a_draft_changes_nothing(seeded, client):
    page = seeded["interviews"][0]
    before = _etags(client, page)
    page.title = "Draft title"
    page.save_revision()
    assert _etags(client, page) == before


@pytest.mark.parametrize("change", ["unpublish", "delete", "restrict", "organisation"])
def test_unpublish_delete_privacy_and_snippet_edits_change_validators(seeded, client, change):
    """The listing holding the page changes, so does a page that embeds it (the newsletter
    cards the interview; the other interview shows the organisation); a page that embeds
    nothing of it keeps its validators."""
    page, other = seeded["interviews"][0], seeded["interviews"][1]
    newsletter = f"/api/v2/pages/{seeded['newsletter'].pk}/"
    listing = client.get(URLS[0])
    detail = client.get(_urls(other)[1])
    embedding = client.get(newsletter)
    if change == "unpublish":
        page.unpublish()
    elif change == "delete":
        page.delete()
    elif change == "restrict":
        PageViewRestriction.objects.create(
            page=page, restriction_type=PageViewRestriction.PASSWORD, password="x"
        )
    else:
        org = Organisation.objects.get(name="Danubius University")
        org.short_name = "UDD"
        org.save()

    new_listing = client.get(URLS[0], HTTP_IF_NONE_MATCH=listing["ETag"])
    assert new_listing.status_code == 200
    again = client.get(_urls(other)[1], HTTP_IF_NONE_MATCH=detail["ETag"])
    ids = {item["id"] for item in new_listing.json()["items"]}
    if change == "organisation":
        assert again.status_code == 200
        assert client.get(_urls(other)[1]).json()["organisation"]["short_name"] == "UDD"
    else:
        assert again.status_code == 304
        assert page.pk not in ids
        card = client.get(newsletter, HTTP_IF_NONE_MATCH=embedding["ETag"])
        assert card.status_code == 200
        assert f'"id":{page.pk},"type":"interviews.InterviewPage"' not in card.content.decode()
        assert f'"id":{page.pk},"type":"interviews.InterviewPage"' in embedding.content.decode()


def test_upcoming_answers_follow_the_clock(seeded, client, settings, monkeypatch):
    import time

    url = "/api/v2/pages/?type=cms.EventPage&upcoming=true"
    first = client.get(url)["ETag"]
    later = time.time() + settings.API_TIME_BUCKET_SECONDS
    monkeypatch.setattr("cms.api.caching.time.time", lambda: later)
    assert client.get(url)["ETag"] != first


def test_errors_are_not_cached_as_content(seeded, client):
    response = client.get("/api/v2/pages/?limit=1000")
    assert response.status_code == 400
    assert "ETag" not in response


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        # The ids with their fragments' keys, view restrictions included (the request's
        # site is remembered per host: `cms.api.sites`).
        ("/api/v2/pages/?type=cms.EventPage", 1),
        ("/api/events.ics", 1),  # the content version (with the last expiry) only
    ],
)
def test_a_repeated_request_is_served_from_the_cache(
    seeded, client, django_assert_num_queries, url, queries
):
    first = client.get(url)
    with django_assert_num_queries(queries):
        again = client.get(url)
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert again["ETag"] == first["ETag"]


INTERVIEWS = "/api/v2/pages/?type=interviews.InterviewPage&limit=1"


def _count(client, url, *, counted=None):
    """The listing's total_count; `counted`: whether the request must (True) or must not
    (False) have counted the pages."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    if counted is not None:
        counts = [q for q in ctx.captured_queries if q["sql"].startswith("SELECT COUNT(")]
        assert bool(counts) is counted, [q["sql"][:80] for q in ctx.captured_queries]
    return response.json()["meta"]["total_count"]


def test_a_listings_total_is_counted_once_and_shared_by_its_pages(seeded, client):
    """Paging, other fields or another order reuse the count; the ids are always read."""
    total = _count(client, INTERVIEWS, counted=True)
    assert total == len(seeded["interviews"]) and total > 1
    for url in [
        f"{INTERVIEWS}&offset=1",
        f"{INTERVIEWS}&fields=title&order=-title",
        f"{INTERVIEWS}&_=anything",
        INTERVIEWS.replace("limit=1", "limit=20"),
    ]:
        assert _count(client, url, counted=False) == total
    # Another set of filters is counted on its own.
    assert _count(client, f"{INTERVIEWS}&locale=en", counted=True) == total


def test_a_listings_total_follows_publishing(seeded, client):
    first = seeded["interviews"][0]
    total = _count(client, INTERVIEWS, counted=True)
    first.unpublish()
    assert _count(client, f"{INTERVIEWS}&offset=1", counted=True) == total - 1
    assert _count(client, INTERVIEWS, counted=False) == total - 1
    first.get_latest_revision().publish()
    assert _count(client, INTERVIEWS, counted=True) == total


def test_a_time_dependent_total_is_counted_again_as_time_passes(
    seeded, client, settings, monkeypatch
):
    import time

    url = "/api/v2/pages/?type=cms.EventPage&upcoming=true&limit=1"
    total = _count(client, url, counted=True)
    assert _count(client, f"{url}&offset=0", counted=False) == total
    later = time.time() + settings.API_TIME_BUCKET_SECONDS
    monkeypatch.setattr("cms.api.caching.time.time", lambda: later)
    assert _count(client, url, counted=True) == total


def test_without_a_cache_every_listing_counts(seeded, client, settings):
    settings.API_CACHE_TIMEOUT = 0
    total = _count(client, INTERVIEWS, counted=True)
    seeded["interviews"][0].unpublish()
    assert _count(client, INTERVIEWS, counted=True) == total - 1
