"""A listing's SQL kept per shape (`cms.api.compiled`): same answers as building it anew,
with each request's clock, the rules of the moment and nothing read while building."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from wagtail.models import Page, PageViewRestriction

from cms.api import compiled
from cms.api.views import PagesEndpoint
from cms.models import EventPage

pytestmark = pytest.mark.django_db

EVENTS = "/api/v2/pages/?type=cms.EventPage&limit=50"


def _ids(client, url, **headers):
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content[:300]
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def fresh(monkeypatch):
    """No shape kept from an earlier test; counts the compilations."""
    compiled.forget()
    made = []
    original = compiled._compile

    def counting(build):
        made.append(1)
        return original(build)

    monkeypatch.setattr(compiled, "_compile", counting)
    yield made
    compiled.forget()


def test_a_shape_is_compiled_once_and_answers_as_built_anew(seeded, client, fresh, monkeypatch):
    urls = [
        EVENTS,
        "/api/v2/pages/?type=interviews.InterviewPage&order=-title",
        "/api/v2/pages/?limit=5&offset=2",
        "/api/v2/pages/?type=cms.EventPage&upcoming=false",
        "/api/v2/pages/?tags=mentoring,inclusion&locale=en",
    ]
    kept = {url: client.get(url).content for url in urls}
    assert len(fresh) == len(urls)
    for url in urls:  # another `_`, other fields: the same SQL
        assert client.get(f"{url}&_=again").content == kept[url]
    assert client.get(f"{urls[1]}&fields=title").status_code == 200
    assert len(fresh) == len(urls)
    # Built anew for every request, as before shapes were kept: the same answers.
    monkeypatch.setattr(PagesEndpoint, "_shape", lambda self, request: None)
    for url in urls:
        assert client.get(f"{url}&_=built").content == kept[url]
    assert len(fresh) == len(urls)


def test_a_kept_shape_is_one_query(seeded, client, fresh):
    client.get(EVENTS)
    with CaptureQueriesContext(connection) as ctx:
        client.get(f"{EVENTS}&_=kept")
    assert len(ctx.captured_queries) == 1


def test_the_clock_is_each_requests_own(seeded, client, fresh, monkeypatch):
    """An event that ends soon leaves `upcoming` and a page past its expiry leaves every
    listing, through the SQL compiled before they did."""
    now = timezone.now()
    event = EventPage.objects.live().first()
    event.start, event.end = now - timedelta(hours=1), now + timedelta(hours=1)
    event.expire_at = now + timedelta(hours=3)
    event.save_revision().publish()
    upcoming = "/api/v2/pages/?type=cms.EventPage&upcoming=true&limit=50"
    assert event.pk in _ids(client, upcoming)
    assert event.pk in _ids(client, EVENTS)
    made = len(fresh)
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(hours=2))
    assert event.pk not in _ids(client, f"{upcoming}&_=2h")
    assert event.pk in _ids(client, f"{EVENTS}&_=2h")
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(hours=4))
    assert event.pk not in _ids(client, f"{EVENTS}&_=4h")
    assert len(fresh) == made  # the same two shapes throughout


def test_a_date_in_the_url_is_not_taken_for_the_clock(seeded, client, fresh):
    """A `start_from` equal to the instant the shape is compiled with stays the URL's."""
    at = compiled._AT[0]
    event = EventPage.objects.live().first()
    event.start, event.end = at + timedelta(days=1), None
    event.save_revision().publish()
    url = f"{EVENTS}&start_from={quote(at.isoformat())}"
    first = _ids(client, url)
    assert event.pk in first
    assert _ids(client, f"{url}&_=again") == first
    later = quote((at + timedelta(days=2)).isoformat())
    assert event.pk not in _ids(client, f"{EVENTS}&start_from={later}")


def test_a_restriction_made_after_compiling_hides_the_page(seeded, client, fresh):
    event = EventPage.objects.live().first()
    assert event.pk in _ids(client, EVENTS)
    PageViewRestriction.objects.create(page=event, restriction_type="password", password="x")
    assert event.pk not in _ids(client, f"{EVENTS}&_=restricted")
    assert len(fresh) == 1


def test_filters_that_read_pages_while_building_are_not_kept(seeded, client, fresh):
    """`child_of` holds its parent's path: after a move it must be read again."""
    event = EventPage.objects.live().first()
    parent = event.get_parent()
    url = f"/api/v2/pages/?child_of={parent.pk}&limit=50"
    assert event.pk in _ids(client, url)
    assert fresh == []  # not even tried
    other = Page.objects.get(pk=seeded["interviews"][0].get_parent().pk)
    event.move(other, pos="last-child")
    assert event.pk not in _ids(client, f"{url}&_=moved")
    assert event.pk in _ids(client, f"/api/v2/pages/?child_of={other.pk}&limit=50")


def test_each_site_has_its_own_shape(seeded, client, fresh, settings):
    from wagtail.models import Site

    settings.ALLOWED_HOSTS = ["*"]
    Site.objects.create(hostname="partner.example", port=80, root_page=seeded["interviews"][0])
    assert _ids(client, EVENTS)
    assert _ids(client, EVENTS, HTTP_HOST="partner.example") == []
    assert len(fresh) == 2


def test_a_query_built_from_a_value_derived_from_the_clock_is_not_kept(seeded, monkeypatch):
    """Only the instant itself can be filled in: a day before it cannot."""

    def build(moment):
        return EventPage.objects.filter(start__gte=moment - timedelta(days=1)).values_list("pk")

    assert compiled._compile(build) is compiled.NOT_KEPT
    now = datetime.now(UTC)
    expected = list(build(now))
    assert compiled.rows(("derived",), build, now) == expected
    # Remembered as not kept: the next request builds once, without trying again.
    tried = []
    monkeypatch.setattr(compiled, "_compile", lambda build: tried.append(1))
    assert compiled.rows(("derived",), build, now) == expected
    assert tried == []


def test_a_query_reading_the_database_while_built_is_not_kept(seeded):
    def build(moment):
        first = EventPage.objects.order_by("pk").first()  # read while building
        return EventPage.objects.filter(pk=first.pk, start__lte=moment).values_list("pk")

    assert compiled._compile(build) is None  # tried again next time: it may be a cache


def test_a_query_that_selects_nothing_by_construction_is_not_kept(seeded):
    def build(moment):
        return EventPage.objects.filter(pk__in=[], start__lte=moment).values_list("pk")

    assert compiled._compile(build) is compiled.NOT_KEPT
    assert compiled.rows(("nothing",), build, timezone.now()) == []


def test_the_shapes_kept_are_bounded(seeded, monkeypatch):
    monkeypatch.setattr(compiled, "MAX_SHAPES", 3)
    compiled.forget()

    def build(moment):
        return EventPage.objects.filter(start__lte=moment).values_list("pk")

    for n in range(5):
        compiled.rows(("bounded", n), build, timezone.now())
    assert [shape for shape, _generation in compiled._shapes()] == [
        ("bounded", 2),
        ("bounded", 3),
        ("bounded", 4),
    ]
    compiled.forget()
