import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mailing import subscriptions
from mailing.models import Subscriber, Subscription, Suppression

pytestmark = pytest.mark.django_db

LISTS = "/admin/snippets/mailing/mailinglist/"
SUBSCRIBERS = "/admin/snippets/mailing/subscriber/"


@pytest.fixture
def audience(newsletter_list, events_list):
    people = {}
    for address, lists, confirmed in [
        ("ada@example.org", [newsletter_list], True),
        ("grace@example.org", [newsletter_list, events_list], False),
        ("alan@example.org", [events_list], True),
    ]:
        people[address] = subscriptions.subscribe(
            address,
            lists,
            confirmed=confirmed,
            source="test",
            ip_address="192.0.2.1",
            send_confirmation_email=False,
        ).subscriber
    subscriptions.unsubscribe(people["alan@example.org"], source="test")
    return people


def test_lists_show_counts_per_status(editor_client, audience, django_assert_max_num_queries):
    with django_assert_max_num_queries(40):
        response = editor_client.get(LISTS)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Pending" in content and "Confirmed" in content and "Unsubscribed" in content
    counts = {}
    listing = content.split('<table class="listing')[1].split("<tbody")[1].split("</tbody>")[0]
    for row in listing.split("<tr")[1:]:
        cells = [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
        ]
        counts[cells[2]] = cells[3:6]
    # pending, confirmed, unsubscribed
    assert counts == {"newsletter": ["1", "1", "0"], "events": ["1", "0", "1"]}


def test_subscribers_search_and_filter_by_list_and_status(editor_client, audience, newsletter_list):
    found = editor_client.get(SUBSCRIBERS, {"q": "grace"}).content.decode()
    assert "grace@example.org" in found and "ada@example.org" not in found

    pending_on_newsletter = editor_client.get(
        SUBSCRIBERS, {"mailing_list": newsletter_list.pk, "subscription_status": "pending"}
    ).content.decode()
    assert "grace@example.org" in pending_on_newsletter
    assert "ada@example.org" not in pending_on_newsletter
    unsubscribed = editor_client.get(
        SUBSCRIBERS, {"subscription_status": "unsubscribed"}
    ).content.decode()
    assert "alan@example.org" in unsubscribed and "grace@example.org" not in unsubscribed


def test_subscriber_detail_shows_consent_and_history(editor_client, audience):
    grace = audience["grace@example.org"]
    # The address in the listing leads to the detail.
    assert f"{SUBSCRIBERS}inspect/{grace.pk}/" in editor_client.get(SUBSCRIBERS).content.decode()
    response = editor_client.get(f"{SUBSCRIBERS}inspect/{grace.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Subscriptions and consent" in content and "History" in content
    assert "I agree to receive the PENELOPE newsletter." in content
    assert "192.0.2.1" in content and "Pending confirmation" in content


def test_bulk_unsubscribe_suppress_and_erase(editor_client, audience):
    ada, grace = audience["ada@example.org"], audience["grace@example.org"]
    url = "/admin/bulk/mailing/subscriber/{}/?next=" + SUBSCRIBERS + f"&id={ada.pk}&id={grace.pk}"

    confirm = editor_client.get(url.format("unsubscribe_all"))
    assert confirm.status_code == 200 and b"ada@example.org" in confirm.content
    assert editor_client.post(url.format("unsubscribe_all")).status_code == 302
    assert set(
        Subscription.objects.filter(subscriber__in=[ada, grace]).values_list("status", flat=True)
    ) == {"unsubscribed"}
    assert ada.events.filter(kind="unsubscribed", source="admin: editor").exists()

    editor_client.post(url.format("suppress"))
    assert Suppression.is_suppressed("ada@example.org")

    editor_client.post(url.format("erase"))
    assert not Subscriber.objects.filter(
        email__in=["ada@example.org", "grace@example.org"]
    ).exists()
    assert Subscriber.objects.filter(status="erased").count() == 2


def test_admin_csv_upload_reports_and_offers_rejects(
    editor_client, newsletter_list, sync_tasks, django_capture_on_commit_callbacks
):
    index = editor_client.get(SUBSCRIBERS)
    assert b"/admin/mailing/import/" in index.content
    upload = SimpleUploadedFile(
        "people.csv", b"email,name\nnew@example.org,New\nbroken,Broken\n", "text/csv"
    )
    # The worker imports the file once the upload is committed.
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(
            "/admin/mailing/import/",
            {"file": upload, "mailing_list": newsletter_list.pk, "confirmed": "on"},
        )
    assert response.status_code == 302
    report = editor_client.get(response["Location"])
    content = report.content.decode()
    assert "people.csv" in content and "PENELOPE newsletter" in content
    assert "new subscriptions: 1" in content and "rejected: 1" in content
    assert Subscription.objects.get(subscriber__email="new@example.org").status == "confirmed"
    rejects = editor_client.get(response["Location"] + "rejected.csv")
    body = b"".join(rejects.streaming_content).decode()
    assert list(csv.reader(io.StringIO(body)))[1] == [
        "3",
        "invalid email address",
        "broken",
        "Broken",
    ]
    assert editor_client.get("/admin/mailing/import/0123abcd/").status_code == 404


def test_admin_upload_waits_for_the_worker(editor_client, newsletter_list):
    upload = SimpleUploadedFile("later.csv", b"email\nlater@example.org\n", "text/csv")
    response = editor_client.post(
        "/admin/mailing/import/", {"file": upload, "mailing_list": newsletter_list.pk}
    )
    page = editor_client.get(response["Location"]).content.decode()
    assert "Waiting for the worker" in page and 'http-equiv="refresh"' in page


def test_admin_export_of_a_list(editor_client, audience, newsletter_list):
    response = editor_client.get(f"/admin/mailing/lists/{newsletter_list.pk}/export.csv")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["email"] for r in rows} == {"ada@example.org", "grace@example.org"}


def test_audience_admin_needs_login(client, newsletter_list):
    assert client.get("/admin/mailing/import/").status_code == 302
    assert client.get(f"/admin/mailing/lists/{newsletter_list.pk}/export.csv").status_code == 302


def test_suppressions_are_added_by_address_and_found_by_address(editor_client):
    SUPPRESSIONS = "/admin/snippets/mailing/suppression/"
    response = editor_client.post(
        SUPPRESSIONS + "add/",
        {"email": "Blocked@Example.org", "reason": "manual", "detail": "asked by phone"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    suppression = Suppression.objects.get()
    assert "blocked" not in suppression.email_hash
    assert Suppression.is_suppressed("blocked@example.org")
    found = editor_client.get(SUPPRESSIONS, {"q": "blocked@example.org"}).content.decode()
    assert suppression.email_hash in found
    assert (
        suppression.email_hash
        not in editor_client.get(SUPPRESSIONS, {"q": "x@example.org"}).content.decode()
    )
    again = editor_client.post(
        SUPPRESSIONS + "add/", {"email": "blocked@example.org", "reason": "manual"}
    )
    assert again.status_code == 200 and Suppression.objects.count() == 1


def test_subscriber_listing_exports_csv(editor_client, audience):
    response = editor_client.get(SUBSCRIBERS, {"export": "csv"})
    assert response.status_code == 200
    body = (
        b"".join(response.streaming_content).decode()
        if response.streaming
        else response.content.decode()
    )
    assert "grace@example.org" in body


def test_editor_can_edit_a_subscriber(editor_client, audience):
    ada = audience["ada@example.org"]
    assert editor_client.get(f"{SUBSCRIBERS}edit/{ada.pk}/").status_code == 200
    assert editor_client.get(f"{LISTS}add/").status_code == 200
