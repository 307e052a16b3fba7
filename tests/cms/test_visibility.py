"""Nothing leaks: restricted documents and images, expired pages, scheduled publishing."""

import pydoc
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.images import ImageFile
from django.utils import timezone
from django_q.models import Schedule
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.models import Collection, CollectionViewRestriction, Page, PageViewRestriction

from cms.api.models import ContentVersion, PageState
from cms.api.tasks import publish_scheduled
from cms.models import EventIndexPage, GoodPracticePage
from interviews.models import InterviewIndexPage, InterviewPage

pytestmark = pytest.mark.django_db

SITE = "https://cms.example.org"
Document = get_document_model()
Image = get_image_model()


def _ids(body):
    return {item["id"] for item in body["items"]}


def _card_ids(value) -> set:
    """Ids of the page cards anywhere in a JSON document."""
    if isinstance(value, list):
        return set().union(*(_card_ids(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found = {value["id"]} if {"id", "type", "html_url", "detail_url"} <= set(value) else set()
    return found.union(*(_card_ids(v) for v in value.values()))


@pytest.fixture(autouse=True)
def no_rendition_cache():
    """Wagtail caches renditions by image id; ids come back after each test's rollback."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def private_collection(db):
    """A collection only logged-in people may see (Settings → Collections → Privacy)."""
    collection = Collection.get_first_root_node().add_child(name="Board papers")
    CollectionViewRestriction.objects.create(
        collection=collection, restriction_type=CollectionViewRestriction.LOGIN
    )
    return collection


@pytest.fixture
def secret_pdf(private_collection):
    document = Document(title="Board minutes", collection=private_collection)
    document.file.save("board-minutes.pdf", ContentFile(b"%PDF-1.4 secret minutes"), save=True)
    return document


@pytest.fixture
def secret_image(seeded, private_collection):
    source = seeded["handbook"].cover_image
    with source.file.open("rb") as f:
        data = f.read()
    image = Image(
        title="Unreleased cover",
        collection=private_collection,
        file=ImageFile(BytesIO(data), name="unreleased-cover.png"),
    )
    image.save()
    return image


# Documents ------------------------------------------------------------------------


def test_document_of_a_restricted_collection_is_not_listed(seeded, secret_pdf, api):
    _, listing = api("/api/v2/documents/")
    assert secret_pdf.pk not in _ids(listing)
    assert seeded["handbook_pdf"].pk in _ids(listing)
    assert api(f"/api/v2/documents/{secret_pdf.pk}/")[0].status_code == 404
    assert api(f"/api/v2/documents/find/?id={secret_pdf.pk}")[0].status_code == 404
    _, search = api("/api/v2/documents/?search=minutes")
    assert search["meta"]["total_count"] == 0


def test_documents_are_never_served_from_media(seeded, secret_pdf, client, editor):
    for document in (secret_pdf, seeded["handbook_pdf"]):
        media = f"/media/{document.file.name}"
        assert (Path(settings.MEDIA_ROOT) / document.file.name).exists()
        assert client.get(media).status_code == 404
    client.force_login(editor)
    assert client.get(f"/media/{secret_pdf.file.name}").status_code == 404


def test_restricted_document_is_served_by_the_document_view_to_those_with_the_right(
    secret_pdf, client, django_user_model
):
    url = secret_pdf.url
    assert url == f"/documents/{secret_pdf.pk}/{secret_pdf.filename}"

    response = client.get(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]

    client.force_login(django_user_model.objects.create_user("reader", password="pw"))
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 secret minutes"


def test_public_document_is_served_by_the_document_view(seeded, client):
    pdf = seeded["handbook_pdf"]
    response = client.get(pdf.url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")


# Images ---------------------------------------------------------------------------


def test_image_of_a_restricted_collection_is_not_listed(seeded, secret_image, api):
    _, listing = api("/api/v2/images/?limit=100")
    assert secret_image.pk not in _ids(listing)
    assert seeded["handbook"].cover_image.pk in _ids(listing)
    assert api(f"/api/v2/images/{secret_image.pk}/")[0].status_code == 404
    _, search = api("/api/v2/images/?search=unreleased")
    assert search["meta"]["total_count"] == 0


def test_restricted_image_files_are_served_only_with_the_right(
    secret_image, client, django_user_model
):
    rendition = secret_image.get_rendition("fill-160x160")
    original = f"/media/{secret_image.file.name}"
    small = f"/media/{rendition.file.name}"
    assert client.get(original).status_code == 404
    assert client.get(small).status_code == 404

    client.force_login(django_user_model.objects.create_user("reader", password="pw"))
    for url in (original, small):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "private" in response["Cache-Control"]


def test_restricted_image_shows_to_editors_who_may_choose_it(secret_image, client, editor):
    """Group-restricted, say: thumbnails in the admin still load for editors."""
    restriction = CollectionViewRestriction.objects.get()
    restriction.restriction_type = CollectionViewRestriction.PASSWORD
    restriction.password = "board"
    restriction.save()
    assert client.get(f"/media/{secret_image.file.name}").status_code == 404
    client.force_login(editor)
    assert client.get(f"/media/{secret_image.file.name}").status_code == 200


def test_public_images_are_served_and_cacheable(seeded, client):
    image = seeded["handbook"].cover_image
    rendition = image.get_rendition("width-800")
    for url in (f"/media/{image.file.name}", f"/media/{rendition.file.name}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "public" in response["Cache-Control"]


@pytest.mark.parametrize(
    "path",
    [
        "/media/secret_key",
        "/media/original_images/../../secret_key",
        "/media/original_images/%2e%2e/%2e%2e/secret_key",
        "/media/imports/anything.csv",
        "/media/original_images/no-such-file.png",
    ],
)
def test_nothing_else_under_media_is_served(seeded, client, path):
    assert client.get(path).status_code == 404


def test_references_to_restricted_files_are_left_out_of_pages(
    seeded, secret_pdf, secret_image, api
):
    handbook = seeded["handbook"]
    handbook.cover_image = secret_image
    handbook.body = [
        (
            "paragraph",
            f'<p>Read <a linktype="document" id="{secret_pdf.pk}">the minutes</a>.</p>'
            f'<embed embedtype="image" id="{secret_image.pk}" format="fullwidth" alt="x"/>',
        ),
        ("document", {"document": secret_pdf, "label": "Minutes"}),
    ]
    handbook.save_revision().publish()

    _, body = api(f"/api/v2/pages/{handbook.pk}/")

    assert body["cover_image"] is None
    assert body["body"][0]["value"] == "<p>Read <a>the minutes</a>.</p>"
    assert body["body"][1]["value"]["document"] is None
    assert "board-minutes" not in str(body) and "unreleased-cover" not in str(body)


def test_restricting_a_collection_moves_the_validators(seeded, api, private_collection):
    pdf = seeded["handbook_pdf"]
    response, _ = api("/api/v2/documents/")
    pdf.collection = private_collection
    pdf.save()
    again, body = api("/api/v2/documents/", if_none_match=response["ETag"])
    assert again.status_code == 200
    assert pdf.pk not in _ids(body)


# Expired pages --------------------------------------------------------------------


def _expire(page, *, ago=timedelta(minutes=1)):
    """What Wagtail leaves between `expire_at` and the next `publish_scheduled`: live."""
    Page.objects.filter(pk=page.pk).update(expire_at=timezone.now() - ago)
    page.refresh_from_db()
    assert page.live
    return page


def test_expired_pages_leave_every_public_output_before_the_task_runs(seeded, api, client):
    interview = _expire(seeded["interviews"][1])
    launch = _expire(seeded["events"][3])

    _, listing = api("/api/v2/pages/?limit=100")
    assert not {interview.pk, launch.pk} & _ids(listing)
    assert api(f"/api/v2/pages/{interview.pk}/")[0].status_code == 404
    path = interview.url_path.removeprefix(seeded["home"].url_path)
    assert api(f"/api/v2/pages/find/?html_path=/{path}")[0].status_code == 404
    assert api(f"/api/v2/pages/find/?id={interview.pk}")[0].status_code == 404
    _, search = api(f"/api/v2/pages/?search={interview.specific.interviewee_name}")
    assert interview.pk not in _ids(search)
    _, upcoming = api("/api/v2/pages/?type=cms.EventPage&upcoming=true")
    assert launch.pk not in _ids(upcoming)
    assert "BEGIN:VEVENT" not in client.get("/api/events.ics").content.decode()
    # Nor as a card in the newsletter that links to it.
    _, newsletter = api(f"/api/v2/pages/{seeded['newsletter'].pk}/")
    assert seeded["interviews"][0].pk in _card_ids(newsletter)
    assert interview.pk not in _card_ids(newsletter)
    # Nor on the CMS's own pages.
    assert client.get(interview.url).status_code == 404
    index = client.get(InterviewIndexPage.objects.get().url).content.decode()
    assert interview.title not in index
    assert launch.title not in client.get(EventIndexPage.objects.get().url).content.decode()


def test_a_page_expiring_moves_the_validators_without_any_write(seeded, api):
    # Every date a listing's Last-Modified is made of, an hour back: dates are to the
    # second, and the expiry below must fall after them.
    hour_ago = timezone.now() - timedelta(hours=1)
    ContentVersion.objects.update(changed_at=hour_ago)
    PageState.objects.update(changed_at=hour_ago)
    Page.objects.update(last_published_at=hour_ago)
    interview = seeded["interviews"][1]
    response, body = api("/api/v2/pages/?type=interviews.InterviewPage")
    assert interview.pk in _ids(body)

    _expire(interview, ago=timedelta(0))

    again, body = api(
        "/api/v2/pages/?type=interviews.InterviewPage", if_none_match=response["ETag"]
    )
    assert again.status_code == 200
    assert again["ETag"] != response["ETag"]
    assert interview.pk not in _ids(body)
    since = api(
        "/api/v2/pages/?type=interviews.InterviewPage",
        if_modified_since=response["Last-Modified"],
    )[0]
    assert since.status_code == 200


def test_a_page_expiring_later_stays(seeded, api):
    interview = seeded["interviews"][1]
    Page.objects.filter(pk=interview.pk).update(expire_at=timezone.now() + timedelta(days=1))
    _, body = api("/api/v2/pages/?type=interviews.InterviewPage")
    assert interview.pk in _ids(body)


def test_view_restricted_pages_stay_out_of_the_cms_index_pages(seeded, client):
    interview = seeded["interviews"][2]
    PageViewRestriction.objects.create(page=interview, restriction_type=PageViewRestriction.LOGIN)
    index = client.get(InterviewIndexPage.objects.get().url).content.decode()
    assert interview.title not in index


# Scheduled publishing --------------------------------------------------------------


def test_the_worker_runs_scheduled_publishing_every_minute(db):
    schedule = Schedule.objects.get(name="cms.publish_scheduled")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1
    assert pydoc.locate(schedule.func) is publish_scheduled


def test_scheduled_publishing_unpublishes_expired_and_publishes_due_pages(seeded, api, monkeypatch):
    expired = _expire(seeded["interviews"][1])
    index = InterviewIndexPage.objects.get()
    due = InterviewPage(
        title="Interview due now",
        slug="due-now",
        interviewee_name="Scheduled Person",
        role="Director",
        organisation=seeded["organisations"]["AMBIT"],
        pull_quote="On time.",
        live=False,
    )
    index.add_child(instance=due)
    real_now = timezone.now()
    due.go_live_at = real_now - timedelta(minutes=1)
    # Scheduled an hour before its go-live time: not live yet.
    monkeypatch.setattr(timezone, "now", lambda: real_now - timedelta(hours=1))
    due.save_revision().publish()
    monkeypatch.undo()
    due.refresh_from_db()
    assert not due.live

    publish_scheduled()

    expired.refresh_from_db()
    due.refresh_from_db()
    assert not expired.live and expired.expired
    assert due.live
    _, body = api("/api/v2/pages/?type=interviews.InterviewPage")
    assert due.pk in _ids(body) and expired.pk not in _ids(body)


def test_good_practice_index_lists_only_visible_practices(seeded, client):
    practice = GoodPracticePage.objects.get(pk=seeded["handbook"].pk)
    _expire(practice)
    html = client.get(practice.get_parent().url).content.decode()
    assert practice.title not in html
