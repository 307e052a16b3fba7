"""Hostile input to the content API: every case is a 4xx with a JSON message, never a 5xx."""

import pytest

pytestmark = pytest.mark.django_db

HUGE = "9" * 30  # past every database integer
BIGINT_MAX = str(2**63 - 1)


@pytest.fixture
def refuse(db, api):
    """GET `url`; assert a 4xx JSON answer whose message mentions `words`."""

    def check(url, status=400, *words):
        response, body = api(url)
        assert response.status_code == status, (url, response.content[:300])
        assert response["Content-Type"].startswith("application/json")
        assert body["message"]
        for word in words:
            assert word in body["message"], body["message"]
        return body

    return check


@pytest.mark.parametrize(
    "url",
    [
        "/api/v2/pages/find/?id=abc",
        f"/api/v2/pages/find/?id={HUGE}",
        "/api/v2/pages/find/?id=%D9%A1%D9%A2",  # Arabic-Indic digits, which int() accepts
        "/api/v2/pages/find/?id=-1",
        "/api/v2/pages/find/?id=%201",
        "/api/v2/images/find/?id=abc",
        "/api/v2/documents/find/?id=1.5",
    ],
)
def test_find_with_a_malformed_id(refuse, url):
    refuse(url, 400, "id")


@pytest.mark.parametrize(
    "value",
    [HUGE, BIGINT_MAX, "%D9%A1%D9%A2", "%C2%B2", "%EF%BC%91"],  # …, superscript 2, full-width 1
)
def test_organisation_filter_with_a_huge_or_non_ascii_number_matches_nothing(seeded, api, value):
    response, body = api(f"/api/v2/pages/?organisation={value}")
    assert response.status_code == 200
    assert body["meta"]["total_count"] == 0


def test_organisation_by_id_still_works(seeded, api):
    org = seeded["organisations"]["AMBIT"]
    _, body = api(f"/api/v2/pages/?organisation={org.pk}")
    assert body["meta"]["total_count"] > 0


@pytest.mark.parametrize(
    "query",
    [
        "start_from=0001-01-01",
        "start_from=0001-01-01T00:00:00",
        "start_to=9999-12-31T23:00:00-05:00",
        "start_from=0001-01-01T00:30:00%2B01:00",
    ],
)
def test_event_dates_beyond_what_utc_can_hold(refuse, query):
    refuse(f"/api/v2/pages/?{query}", 400, "out of range")


def test_the_widest_dates_that_fit_still_work(seeded, api):
    response, body = api("/api/v2/pages/?start_from=0002-01-01&start_to=9999-12-31")
    assert response.status_code == 200
    assert body["meta"]["total_count"] == len(seeded["events"])


@pytest.mark.parametrize(
    ("query", "word"),
    [
        (f"offset={HUGE}", "offset"),
        (f"offset={BIGINT_MAX}", "offset"),
        ("offset=-1", "offset"),
        ("offset=%D9%A1", "offset"),
        (f"limit={HUGE}", "limit"),
        ("limit=1e3", "limit"),
    ],
)
def test_offset_and_limit_out_of_range(refuse, query, word):
    refuse(f"/api/v2/pages/?{query}", 400, word)
    refuse(f"/api/v2/images/?{query}", 400, word)


def test_an_offset_past_the_end_is_an_empty_page(seeded, api):
    response, body = api("/api/v2/pages/?offset=1000000")
    assert response.status_code == 200
    assert body["items"] == [] and body["meta"]["total_count"] > 0


@pytest.mark.parametrize("endpoint", ["images", "documents"])
def test_media_tags_and_search_together(seeded, api, endpoint):
    response, body = api(f"/api/v2/{endpoint}/?tags=x&search=y")
    assert response.status_code == 200
    assert body["items"] == []


def test_media_tags_and_search_find_the_tagged_match(seeded, api):
    portrait = seeded["interviews"][0].portrait
    portrait.tags.add("people")
    _, body = api("/api/v2/images/?tags=people&search=portrait")
    assert [i["id"] for i in body["items"]] == [portrait.pk]


@pytest.mark.parametrize(
    "search", ["%22", "%22unterminated", "%20", "a%22b", "(", "-", "*", "a%20OR%20b", "NEAR("]
)
def test_search_syntax_is_taken_as_words(seeded, api, search):
    for endpoint in ("pages", "images", "documents"):
        response, body = api(f"/api/v2/{endpoint}/?search={search}")
        assert response.status_code == 200, (endpoint, search)
        assert isinstance(body["items"], list)


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("search=x&search_operator=xor", "search_operator"),
        ("search=x&order=random", "random"),
        ("slug=%00", "NUL"),
        ("search=a%00b", "NUL"),
        ("html_path=%00", "NUL"),
        ("tags=" + ",".join(str(i) for i in range(51)), "at most 50"),
        ("organisation=" + ",".join(f"n{i}" for i in range(51)), "at most 50"),
        ("child_of=abc", "child_of"),
        (f"descendant_of={HUGE}", "descendant_of"),
        ("type=cms.Organisation", "type"),
        ("unknown=1", "unknown"),
    ],
)
def test_page_listing_refuses_bad_parameters(refuse, query, word):
    url = "/api/v2/pages/find/" if query.startswith("html_path") else "/api/v2/pages/"
    refuse(f"{url}?{query}", 400, word)


def test_a_type_named_twice_is_one_type(seeded, api):
    response, body = api("/api/v2/pages/?type=cms.EventPage,cms.EventPage,cms.eventpage")
    assert response.status_code == 200
    assert body["meta"]["total_count"] == len(seeded["events"])


@pytest.mark.parametrize("endpoint", ["pages", "images", "documents"])
def test_detail_of_an_id_past_every_integer_is_not_found(refuse, endpoint):
    refuse(f"/api/v2/{endpoint}/{HUGE}/", 404)


@pytest.mark.parametrize(
    "query",
    [
        "content_type=a.b.c&token=x",
        "content_type=%00.x&token=x",
        "content_type=cms.organisation&token=x",
        "content_type=interviews.interviewpage&token=%00",
        "",
    ],
)
def test_preview_refuses_malformed_requests(refuse, query):
    body = refuse(f"/api/v2/page_preview/?{query}", 400)
    assert "id" not in body
