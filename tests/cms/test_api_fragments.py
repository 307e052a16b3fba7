"""Per-page fragments: a change reaches the page, the pages embedding it and the
listings holding them, and leaves every other fragment and validator as it was."""

import pytest
from django.core.cache import cache
from wagtail.models import Page

from cms.api.fragments import Entry, entries, stamped
from cms.models import EventPage, GoodPracticePage
from interviews.models import InterviewPage

pytestmark = pytest.mark.django_db

LISTINGS = [
    "/api/v2/pages/?type=interviews.InterviewPage",
    "/api/v2/pages/?type=cms.EventPage&order=start",
    "/api/v2/pages/?type=cms.GoodPracticePage",
    "/api/v2/pages/?limit=50",
]


def _keys(model=None) -> dict[int, str]:
    queryset = (model or Page).objects.filter(live=True)
    found, _rows = entries(stamped(queryset))
    return {entry.pk: entry.key for entry in found}


def _validators(client, urls):
    return {url: client.get(url)["ETag"] for url in urls}


def _details(pages):
    return [f"/api/v2/pages/{page.pk}/" for page in pages]


def test_a_publish_touches_its_page_and_leaves_the_others_fragments(seeded, client):
    event = EventPage.objects.live().first()
    others = list(InterviewPage.objects.live()) + list(GoodPracticePage.objects.live())
    details = _details([event, *others])
    before = _validators(client, LISTINGS + details)
    keys = _keys()
    assert all(cache.get(keys[page.pk]) is not None for page in [event, *others])

    event.title = "A renamed event"
    event.save_revision().publish()

    after = _validators(client, LISTINGS + details)
    new_keys = _keys()
    assert new_keys[event.pk] != keys[event.pk]
    assert after[details[0]] != before[details[0]]
    assert client.get(details[0]).json()["title"] == "A renamed event"
    # The event's listings change; the interviews' and practices' do not.
    assert after[LISTINGS[1]] != before[LISTINGS[1]]
    assert after[LISTINGS[3]] != before[LISTINGS[3]]
    assert after[LISTINGS[0]] == before[LISTINGS[0]]
    assert after[LISTINGS[2]] == before[LISTINGS[2]]
    for page, url in zip(others, details[1:], strict=True):
        assert new_keys[page.pk] == keys[page.pk]
        assert cache.get(keys[page.pk]) is not None
        assert after[url] == before[url]
        assert client.get(url, HTTP_IF_NONE_MATCH=before[url]).status_code == 304


def test_a_publish_touches_the_pages_that_card_it(seeded, client):
    interview = seeded["interviews"][0]
    newsletter = f"/api/v2/pages/{seeded['newsletter'].pk}/"
    before = client.get(newsletter)
    interview.title = "A new interview title"
    interview.save_revision().publish()
    after = client.get(newsletter, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert "A new interview title" in after.content.decode()


def test_a_draft_and_a_publish_elsewhere_keep_a_page_at_304(seeded, client):
    page, other = seeded["interviews"][2], seeded["interviews"][3]
    url = f"/api/v2/pages/{page.pk}/"
    first = client.get(url)
    page.title = "Draft only"
    page.save_revision()
    other.save_revision().publish()
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    since = client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert since.status_code == 304


def test_moving_a_page_touches_it_and_what_links_to_it(seeded, client):
    from cms.models import EventIndexPage

    interview = seeded["interviews"][0]
    newsletter = f"/api/v2/pages/{seeded['newsletter'].pk}/"
    handbook = f"/api/v2/pages/{seeded['handbook'].pk}/"
    before = _validators(client, [newsletter, handbook, f"/api/v2/pages/{interview.pk}/"])
    interview.move(EventIndexPage.objects.get(), pos="last-child")
    after = _validators(client, list(before))
    detail = client.get(f"/api/v2/pages/{interview.pk}/").json()
    assert detail["meta"]["url_path"].startswith("/events/")
    assert after[newsletter] != before[newsletter]
    assert after[f"/api/v2/pages/{interview.pk}/"] != before[f"/api/v2/pages/{interview.pk}/"]
    assert after[handbook] == before[handbook]


def test_an_image_change_touches_only_the_pages_showing_it(seeded, client):
    interview = seeded["interviews"][0]
    portrait = interview.portrait
    showing = [p for p in InterviewPage.objects.live() if p.portrait_id == portrait.pk]
    not_showing = [seeded["handbook"]]
    urls = _details(showing + not_showing)
    before = _validators(client, urls)
    portrait.title = "A new portrait title"
    portrait.save()
    after = _validators(client, urls)
    for url in _details(showing):
        assert after[url] != before[url]
        assert "A new portrait title" in client.get(url).content.decode()
    for url in _details(not_showing):
        assert after[url] == before[url]


def test_a_page_made_live_without_the_publish_signal_gets_a_state(seeded, client):
    """Pages loaded in bulk (no revision, no signal) are recorded when first served, so
    later changes to what they embed reach them too."""
    from cms.api.models import PageReference, PageState

    page = seeded["interviews"][1]
    PageState.objects.filter(page_id=page.pk).delete()
    url = f"/api/v2/pages/{page.pk}/"
    first = client.get(url)
    assert PageState.objects.filter(page_id=page.pk).exists()
    assert PageReference.objects.filter(page_id=page.pk, kind="o").exists()
    org = page.specific.organisation
    org.short_name = "NEW"
    org.save()
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_an_entry_key_holds_page_revision_and_token():
    entry = Entry(7, 12, "abc", None, None, None)
    assert entry.key.endswith(":7:12:abc")
    assert Entry(7, 13, "abc", None, None, None).key != entry.key


@pytest.mark.parametrize("url", LISTINGS + ["/api/v2/pages/{pk}/"])
def test_a_warm_answer_is_one_query_for_the_ids(seeded, client, url, django_assert_max_num_queries):
    """View restrictions are part of that query (`cms.visibility`)."""
    url = url.format(pk=seeded["handbook"].pk)
    first = client.get(f"{url}{'&' if '?' in url else '?'}_=warm")
    assert first.status_code == 200
    with django_assert_max_num_queries(1):
        again = client.get(f"{url}{'&' if '?' in url else '?'}_=again")
    assert again.content == first.content


@pytest.mark.parametrize("url", LISTINGS)
def test_nothing_cached_still_costs_bounded_queries(
    make_pages, client, url, django_assert_max_num_queries
):
    make_pages(3)
    client.get(url)  # renditions are generated once, on first use
    cache.clear()
    # One query per page type and kind of reference, and the count (kept with the
    # fragments): a mixed listing holds every type (31 on PostgreSQL, with its savepoints
    # and the site's nine page types).
    with django_assert_max_num_queries(31 if "type=" not in url else 26):
        response = client.get(url)
    assert response.status_code == 200
