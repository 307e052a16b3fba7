"""The content API as an external site sees it: representations, filters, no draft leak."""

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from wagtail.models import PageViewRestriction

from cms.models import EventPage
from interviews.models import InterviewPage

pytestmark = pytest.mark.django_db

SITE = "https://cms.example.org"
FRONT = "https://www.example.org"


def _item(body, page):
    return next(i for i in body["items"] if i["id"] == page.pk)


def _ids(body):
    return {item["id"] for item in body["items"]}


# Representations ------------------------------------------------------------------


def test_interview_has_every_field_with_relations_expanded(seeded, api):
    page = seeded["interviews"][0]
    page.tags.add("Gender equality", "Clusters")
    page.save_revision().publish()

    response, body = api(f"/api/v2/pages/{page.pk}/")

    assert response.status_code == 200
    assert body["meta"]["type"] == "interviews.InterviewPage"
    assert body["meta"]["html_url"] == f"{FRONT}/interviews/massimiliano-rumignani/"
    assert body["meta"]["url_path"] == "/interviews/massimiliano-rumignani/"
    assert body["interviewee_name"] == "Massimiliano Rumignani"
    assert body["role"] == "Project Manager"
    assert body["organisation"]["name"] == "AMBIT"
    assert body["organisation"]["country"] == {"code": "IT", "name": "Italy"}
    assert body["country"]["code"] == "IT"
    assert body["pull_quote"].startswith("Gender equality can represent")
    assert {t["slug"] for t in body["tags"]} == {"gender-equality", "clusters"}
    portrait = body["portrait"]
    assert portrait["alt"] == "Portrait of Massimiliano Rumignani"
    assert portrait["url"].startswith(f"{SITE}/media/original_images/")
    assert (portrait["width"], portrait["height"]) == (480, 480)
    assert set(portrait["renditions"]) == {"thumbnail", "card", "hero", "inline"}
    thumb = portrait["renditions"]["thumbnail"]
    assert thumb["url"].startswith(f"{SITE}/media/images/")
    assert (thumb["width"], thumb["height"]) == (160, 160)
    assert [block["type"] for block in body["body"]] == ["question_answer", "quote"]
    assert body["body"][0]["value"]["answer"].startswith("<p>Gender equality")
    assert body["body"][1]["value"]["attribution"] == "Massimiliano Rumignani"


def test_good_practice_expands_documents_links_and_stream_blocks(seeded, api):
    _, body = api(f"/api/v2/pages/{seeded['handbook'].pk}/")

    assert body["organisation"]["short_name"] == "PENELOPE"
    assert body["cover_image"]["alt"].startswith("Cover of the PENELOPE")
    assert body["documents"][0]["label"] == "Click here to download the handbook"
    doc = body["documents"][0]["document"]
    assert doc["url"] == f"{SITE}/documents/{seeded['handbook_pdf'].pk}/" + doc["filename"]
    assert doc["file_extension"] == "pdf"
    assert [link["title"] for link in body["links"]] == [
        "European Cluster Collaboration Platform",
        "Austrian National Cluster Platform",
    ]
    document_block = next(b for b in body["body"] if b["type"] == "document")
    assert document_block["value"]["label"] == "Download the handbook"
    assert document_block["value"]["document"]["url"].startswith(f"{SITE}/documents/")


def test_event_fields(seeded, api):
    talks = seeded["events"][0]
    _, body = api(f"/api/v2/pages/{talks.pk}/")

    assert body["start"] == "2024-01-25T09:00:00Z"
    assert body["end"] == "2024-01-25T10:30:00Z"
    assert body["is_online"] is True
    assert body["location"] == "Online"
    assert body["participant_count"] == 90
    assert body["organiser"]["short_name"] == "ECCP"
    assert body["recording_url"].startswith("https://")
    assert body["cover_image"]["renditions"]["card"]["width"] == 640


def test_newsletter_blocks_reference_pages_as_cards(seeded, api):
    _, body = api(f"/api/v2/pages/{seeded['newsletter'].pk}/")

    assert body["issue_number"] == 3
    assert body["subject"].startswith("PENELOPE newsletter #3")
    blocks = {b["type"]: b["value"] for b in reversed(body["body"])}
    practice = blocks["good_practice"]["practice"]
    assert practice["type"] == "cms.GoodPracticePage"
    assert practice["html_url"] == f"{FRONT}/good-practices/gender-equality-training-handbook/"
    assert practice["detail_url"].startswith(f"{SITE}/api/v2/pages/")
    chosen_events = next(
        b["value"]["events"]
        for b in body["body"]
        if b["type"] == "events" and b["value"]["source"] == "chosen"
    )
    assert {e["type"] for e in chosen_events} == {"cms.EventPage"}
    assert all(e["html_url"].startswith(f"{FRONT}/events/") for e in chosen_events)
    spotlight = json.dumps(blocks["interview_spotlight"])
    for interview in seeded["interviews"]:
        assert f'"id": {interview.pk}, "type": "interviews.InterviewPage"' in spotlight


def test_home_and_index_pages(seeded, api):
    _, body = api(f"/api/v2/pages/{seeded['home'].pk}/")
    assert body["meta"]["html_url"] == f"{FRONT}/"
    assert "gender mainstreaming" in body["intro"]


def test_images_and_documents_endpoints(seeded, api):
    _, images = api("/api/v2/images/?search=portrait")
    assert images["meta"]["total_count"] == 4
    assert all(i["url"].startswith(SITE) and i["alt"] for i in images["items"])
    _, image = api(f"/api/v2/images/{images['items'][0]['id']}/")
    assert image["renditions"]["card"]["url"].startswith(f"{SITE}/media/images/")
    _, documents = api("/api/v2/documents/")
    assert documents["items"][0]["url"].startswith(f"{SITE}/documents/")


# Rich text ------------------------------------------------------------------------


def test_rich_text_links_resolve_to_the_front_end_and_documents_are_absolute(seeded, api):
    handbook, interview, pdf = seeded["handbook"], seeded["interviews"][2], seeded["handbook_pdf"]
    handbook.body = [
        (
            "paragraph",
            f'<p>Read <a linktype="page" id="{interview.pk}">Camille</a>, get '
            f'<a linktype="document" id="{pdf.pk}">the PDF</a> or '
            f'<a href="https://example.com/x">elsewhere</a>.</p>',
        )
    ]
    handbook.save_revision().publish()

    _, body = api(f"/api/v2/pages/{handbook.pk}/")

    html = body["body"][0]["value"]
    assert f'<a href="{FRONT}/interviews/camille-esquerre/">Camille</a>' in html
    assert f'<a href="{SITE}/documents/{pdf.pk}/' in html
    assert '<a href="https://example.com/x">' in html
    assert "linktype" not in html


def test_rich_text_link_to_an_unpublished_page_keeps_only_its_text(seeded, api):
    handbook, interview = seeded["handbook"], seeded["interviews"][2]
    handbook.body = [("paragraph", f'<p><a linktype="page" id="{interview.pk}">Gone</a></p>')]
    handbook.save_revision().publish()
    interview.unpublish()

    _, body = api(f"/api/v2/pages/{handbook.pk}/")

    assert body["body"][0]["value"] == "<p><a>Gone</a></p>"


# Filters --------------------------------------------------------------------------


def test_type_filter_and_pagination_maximum(seeded, api, settings):
    _, body = api("/api/v2/pages/?type=interviews.InterviewPage")
    assert body["meta"]["total_count"] == 4
    assert {i["meta"]["type"] for i in body["items"]} == {"interviews.InterviewPage"}

    _, body = api("/api/v2/pages/?type=interviews.InterviewPage,cms.EventPage&limit=3&offset=6")
    assert body["meta"]["total_count"] == 8
    assert len(body["items"]) == 2

    response, body = api(f"/api/v2/pages/?limit={settings.WAGTAILAPI_LIMIT_MAX + 1}")
    assert response.status_code == 400
    assert "limit cannot be higher than 100" in body["message"]
    assert api("/api/v2/pages/?type=nope.Nope")[0].status_code == 400
    assert api("/api/v2/pages/?colour=red")[0].status_code == 400


def test_tag_country_and_organisation_filters(seeded, api):
    a, b = seeded["interviews"][0], seeded["interviews"][1]
    a.tags.add("Twin transition")
    a.save_revision().publish()
    b.tags.add("twin transition", "Digital")
    b.save_revision().publish()

    _, body = api("/api/v2/pages/?tags=twin-transition")
    assert _ids(body) == {a.pk, b.pk}
    _, body = api("/api/v2/pages/?type=interviews.InterviewPage&topic=digital")
    assert _ids(body) == {b.pk}

    _, body = api("/api/v2/pages/?country=ro")
    assert _ids(body) == {b.pk}

    _, body = api("/api/v2/pages/?organisation=ECCP")
    assert _ids(body) == {seeded["events"][0].pk}
    org = seeded["organisations"]["PENELOPE project"]
    _, body = api(f"/api/v2/pages/?organisation={org.pk}")
    assert _ids(body) == {seeded["handbook"].pk, seeded["events"][3].pk}


def test_upcoming_past_and_start_range(seeded, api):
    talks, ewmd, conference, launch = seeded["events"]

    _, body = api("/api/v2/pages/?type=cms.EventPage&upcoming=true")
    assert [i["id"] for i in body["items"]] == [launch.pk]
    _, body = api("/api/v2/pages/?type=cms.EventPage&upcoming=false&order=-start")
    assert [i["id"] for i in body["items"]] == [conference.pk, ewmd.pk, talks.pk]

    _, body = api("/api/v2/pages/?upcoming=true")  # event filters imply events
    assert [i["id"] for i in body["items"]] == [launch.pk]
    _, body = api("/api/v2/pages/?start_from=2024-01-26&start_to=2024-01-31")
    assert _ids(body) == {ewmd.pk}
    assert api("/api/v2/pages/?start_from=yesterday")[0].status_code == 400


def test_event_in_progress_is_still_upcoming(seeded, api):
    talks = seeded["events"][0]
    talks.start = timezone.now() - timedelta(hours=1)
    talks.end = timezone.now() + timedelta(hours=1)
    talks.save_revision().publish()

    _, body = api("/api/v2/pages/?type=cms.EventPage&upcoming=true")

    assert [i["id"] for i in body["items"]][0] == talks.pk


def test_ordering_by_start_and_publication_date(seeded, api):
    _, body = api("/api/v2/pages/?type=cms.EventPage&order=start")
    starts = [i["start"] for i in body["items"]]
    assert starts == sorted(starts)
    _, body = api("/api/v2/pages/?type=interviews.InterviewPage&order=-date")
    assert [i["date"] for i in body["items"]][0] == "2023-12-12"
    _, body = api("/api/v2/pages/?order=-published&limit=1")
    assert body["items"][0]["id"] == seeded["welcome"].pk  # the last page the seed publishes
    assert api("/api/v2/pages/?order=start")[0].status_code == 400


def test_search(seeded, api):
    _, body = api("/api/v2/pages/?search=Mecanic")
    assert seeded["interviews"][2].pk in _ids(body)
    _, body = api("/api/v2/pages/?type=cms.EventPage&search=Brussels Declaration")
    assert _ids(body) == {seeded["events"][1].pk}


def test_find_by_front_end_path(seeded, client):
    response = client.get("/api/v2/pages/find/?html_path=/interviews/paivi-ekdahl/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{SITE}/api/v2/pages/{seeded['interviews'][3].pk}/")


# No draft leak --------------------------------------------------------------------


def test_drafts_unpublished_and_private_pages_never_appear(seeded, api):
    index = seeded["interviews"][0].get_parent()
    draft = InterviewPage(
        title="Draft only",
        slug="draft-only",
        interviewee_name="Secret Person",
        role="Nobody",
        organisation=seeded["organisations"]["AMBIT"],
        pull_quote="Unpublished words.",
        live=False,
    )
    index.add_child(instance=draft)
    draft.save_revision()

    unpublished = seeded["interviews"][1]
    unpublished.unpublish()

    private = seeded["interviews"][2]
    PageViewRestriction.objects.create(
        page=private, restriction_type=PageViewRestriction.PASSWORD, password="x"
    )

    edited = seeded["interviews"][3]
    edited.title = "Unpublished new title"
    edited.save_revision()

    _, body = api("/api/v2/pages/?type=interviews.InterviewPage")
    assert _ids(body) == {seeded["interviews"][0].pk, edited.pk}
    assert _item(body, edited)["title"] == "Interview with Päivi Ekdahl"
    for hidden in (draft, unpublished, private):
        assert api(f"/api/v2/pages/{hidden.pk}/")[0].status_code == 404
    _, body = api("/api/v2/pages/?search=Secret")
    assert draft.pk not in _ids(body)
    # Nor as a card in another page's blocks.
    _, newsletter = api(f"/api/v2/pages/{seeded['newsletter'].pk}/")
    cards = [
        b["value"]["button"]["page"]
        for b in newsletter["body"]
        if b["type"] == "story" and b["value"]["button"]["page"]
    ]
    assert unpublished.pk not in {c["id"] for c in cards}
    assert private.pk not in {c["id"] for c in cards}


def test_private_page_stays_hidden_even_for_a_visitor_who_unlocked_it(seeded, client):
    """Responses are shared through caches: a session never widens them."""
    private = seeded["interviews"][2]
    PageViewRestriction.objects.create(
        page=private, restriction_type=PageViewRestriction.PASSWORD, password="x"
    )
    session = client.session
    session["wagtail-page-view-restrictions"] = [PageViewRestriction.objects.get(page=private).pk]
    session.save()
    assert client.get(f"/api/v2/pages/{private.pk}/").status_code == 404


# Bounded queries ------------------------------------------------------------------

LISTINGS = [
    "/api/v2/pages/?limit=100",
    "/api/v2/pages/?type=interviews.InterviewPage&limit=100",
    "/api/v2/pages/?type=cms.GoodPracticePage&limit=100",
    "/api/v2/pages/?type=cms.EventPage&limit=100&upcoming=true",
]
CEILING = 25


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


@pytest.mark.usefixtures("no_response_cache")
def test_listing_query_count_does_not_grow_with_items(
    make_pages, client, django_assert_max_num_queries
):
    make_pages(5, "small")
    for url in LISTINGS:
        client.get(url)  # renditions are generated once, on first use
    small = {url: _queries(client, url)[0] for url in LISTINGS}

    make_pages(45, "large")
    for url in LISTINGS:
        client.get(url)
        with django_assert_max_num_queries(CEILING):
            count, response = _queries(client, url)
        assert len(response.json()["items"]) >= 50
        if "type=" in url:
            assert count == small[url], url
        else:
            # A mixed listing costs one query per page type it holds, whatever its length.
            assert count <= small[url], url


@pytest.mark.usefixtures("no_response_cache")
def test_generated_pages_carry_all_fields(make_pages, api, seeded):
    practice = next(p for p in make_pages(1) if isinstance(p.specific, type(seeded["handbook"])))
    _, body = api(f"/api/v2/pages/{practice.pk}/")
    assert body["tags"] == [{"name": "gender", "slug": "gender"}]
    assert body["documents"][0]["document"]["title"].startswith("PENELOPE")
    assert body["links"] == [{"title": "Elsewhere", "url": "https://example.com/"}]
    image_block = next(b for b in body["body"] if b["type"] == "image")
    assert image_block["value"]["image"]["alt"] == "Cover 0"
    html = body["body"][0]["value"]
    assert re.search(rf'href="{FRONT}/interviews/andrea-luciana-marcu/"', html)


# CORS -----------------------------------------------------------------------------


def test_cors_allows_the_front_end_origin_only(seeded, client):
    response = client.get("/api/v2/pages/", HTTP_ORIGIN=FRONT)
    assert response["Access-Control-Allow-Origin"] == FRONT
    response = client.get("/api/v2/pages/", HTTP_ORIGIN="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in response
    preflight = client.options(
        "/api/v2/pages/",
        HTTP_ORIGIN=FRONT,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="if-none-match",
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == FRONT
    assert "if-none-match" in preflight["Access-Control-Allow-Headers"]


def test_no_session_cookie_vary_on_public_responses(seeded, client):
    response = client.get("/api/v2/pages/")
    assert "Cookie" not in response.get("Vary", "")
    assert EventPage.objects.count() == 4
