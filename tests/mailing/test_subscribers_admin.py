import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mailing import subscriptions
from mailing.models import Subscriber, Subscription, Suppression
from tests import smtp

pytestmark = pytest.mark.django_db
smtp_server = smtp.smtp_server

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


def upload(editor_client, name, data, mailing_list, **fields):
    """Upload a file in the admin import form; returns the job page's URL."""
    response = editor_client.post(
        "/admin/mailing/import/",
        {"file": SimpleUploadedFile(name, data, "text/csv"), "mailing_list": mailing_list.pk}
        | fields,
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    return response["Location"]


def text_of(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_admin_import_previews_then_imports_and_offers_rejects(
    editor_client, newsletter_list, sync_tasks, django_capture_on_commit_callbacks
):
    index = editor_client.get(SUBSCRIBERS)
    assert b"/admin/mailing/import/" in index.content
    with django_capture_on_commit_callbacks(execute=True):  # the worker counts the rows
        job = upload(
            editor_client,
            "people.csv",
            b"email,name\nnew@example.org,New\nbroken,Broken\n",
            newsletter_list,
            confirmed="on",
        )
    preview = text_of(editor_client.get(job))
    assert "Import preview" in preview and "people.csv" in preview
    assert "Format a spreadsheet (no other tool recognised)" in preview
    assert "Encoding UTF-8 (detected)" in preview and "comma (detected)" in preview
    assert "new@example.org" in preview and "2 rows read" in preview
    assert "new subscriptions, confirmed 1" in preview and "invalid email address 1" in preview
    assert not Subscription.objects.exists()  # nothing before the editor confirms

    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(job, {"action": "import"})
    assert response.status_code == 302
    report = text_of(editor_client.get(job))
    assert "Import report" in report and "What the import did" in report
    assert "new subscriptions, confirmed 1" in report and "rejected 1" in report
    assert Subscription.objects.get(subscriber__email="new@example.org").status == "confirmed"
    rejects = editor_client.get(job + "rejected.csv")
    body = b"".join(rejects.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(body)))[1] == [
        "3",
        "invalid email address",
        "broken",
        "Broken",
    ]
    assert editor_client.get("/admin/mailing/import/0123abcd/").status_code == 404
    # Importing twice is refused: the job is done.
    editor_client.post(job, {"action": "import"})
    assert Subscription.objects.count() == 1


def test_admin_import_of_an_unreadable_file_says_why_and_keeps_nothing(
    editor_client, newsletter_list, settings, tmp_path
):
    settings.SUBSCRIPTION_IMPORT_DIR = tmp_path
    response = editor_client.post(
        "/admin/mailing/import/",
        {
            "file": SimpleUploadedFile("names.csv", b"name;town\nAda;London\n", "text/csv"),
            "mailing_list": newsletter_list.pk,
        },
    )
    assert response.status_code == 200
    assert "no column of email addresses (headers: name, town)" in text_of(response)
    assert list(tmp_path.iterdir()) == []


def test_admin_upload_waits_for_the_worker(editor_client, newsletter_list):
    job = upload(editor_client, "later.csv", b"email\nlater@example.org\n", newsletter_list)
    page = editor_client.get(job).content.decode()
    assert "Reading the whole file and counting" in page and 'http-equiv="refresh"' in page
    assert "later@example.org" in page  # the first rows show at once


def test_report_sends_the_pending_people_their_confirmation_email(
    editor_client, newsletter_list, sync_tasks, django_capture_on_commit_callbacks, smtp_server
):
    data = (Path(__file__).parent / "imports" / "buttondown.csv").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        job = upload(editor_client, "buttondown.csv", data, newsletter_list)
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(job, {"action": "import"})
    report = text_of(editor_client.get(job))
    assert "2 people from this import wait for confirmation" in report
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(job + "confirmations/")
    assert response.status_code == 302
    messages = smtp_server.wait_for(2)
    assert sorted(m["To"] for m in messages) == ["regular@example.net", "unconfirmed@example.net"]
    after = text_of(editor_client.get(job))
    assert "The confirmation email was sent to 2 people waiting, at the request of editor" in after
    # A second press sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.post(job + "confirmations/")
    assert len(smtp_server.messages) == 2
    assert editor_client.get(job + "confirmations/").status_code == 405


def test_admin_export_of_a_list(editor_client, audience, newsletter_list):
    response = editor_client.get(f"/admin/mailing/lists/{newsletter_list.pk}/export.csv")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("\ufeff")  # Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert {r["email"] for r in rows} == {"ada@example.org", "grace@example.org"}


def test_admin_exports_and_the_command_share_one_format(editor_client, audience, newsletter_list):
    from django.core.management import call_command

    grace = audience["grace@example.org"]
    grace.name = '=HYPERLINK("http://evil.example/","x")'
    grace.attributes = {"+Org": "-1"}
    grace.save()
    listing = editor_client.get(SUBSCRIBERS, {"export": "csv", "mailing_list": newsletter_list.pk})
    from_listing = b"".join(listing.streaming_content).decode()
    from_list = b"".join(
        editor_client.get(f"/admin/mailing/lists/{newsletter_list.pk}/export.csv").streaming_content
    ).decode()
    out = io.StringIO()
    call_command("export_subscribers", "--list", "newsletter", stdout=out)
    # The listing filtered by list holds every list of those people; the list export
    # and the command hold that list's rows, the same bytes.
    assert from_list == out.getvalue()
    header = from_listing.splitlines()[0]
    assert (
        header
        == from_list.splitlines()[0]
        == "\ufeff"
        + ",".join(
            [
                "email",
                "name",
                "language",
                "list",
                "status",
                "subscribed_at",
                "confirmed_at",
                "unsubscribed_at",
                "source",
                "ip_address",
                "consent_text",
                "suppressed",
                "'+Org",
            ]
        )
    )
    rows = list(csv.DictReader(io.StringIO(from_listing.lstrip("\ufeff"))))
    graces = [r for r in rows if r["email"] == "grace@example.org"]
    assert {r["list"] for r in graces} == {"newsletter", "events"}
    assert {r["name"] for r in graces} == {'\'=HYPERLINK("http://evil.example/","x")'}
    assert {r["'+Org"] for r in graces} == {"'-1"}
    assert b"Download XLSX" not in editor_client.get(SUBSCRIBERS).content


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
    loner = Subscriber.objects.create(email="loner@example.org", name="On no list")
    response = editor_client.get(SUBSCRIBERS, {"export": "csv"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert "grace@example.org" in body and loner.email in body  # nobody left out
    assert editor_client.get(SUBSCRIBERS, {"export": "xlsx"}).status_code == 200


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("María Martínez", "Martinez"),
        ("Maria Martinez", "martínez"),
        ("Łukasz Wiśniewski", "lukasz wisniewski"),
        ("Jürgen Groß", "GROSS"),
        ("Zoë", "zoe"),
    ],
)
def test_search_finds_names_with_or_without_accents(
    editor_client, newsletter_list, stored, typed, django_assert_max_num_queries
):
    person = Subscriber.objects.create(email="person@example.org", name=stored)
    Subscriber.objects.create(email="other@example.org", name="Someone Else")
    with django_assert_max_num_queries(40):
        found = editor_client.get(SUBSCRIBERS, {"q": typed}).content.decode()
    assert person.email in found and "other@example.org" not in found


def test_search_follows_renames_and_erasure(editor_client, newsletter_list):
    result = subscriptions.subscribe(
        "ines@example.org", [newsletter_list], name="Inès", send_confirmation_email=False
    )
    subscriptions.update_preferences(result.subscriber, name="Inès Álvarez")
    assert "ines@example.org" in editor_client.get(SUBSCRIBERS, {"q": "alvarez"}).content.decode()
    subscriptions.erase(Subscriber.objects.get(pk=result.subscriber.pk))
    assert "erased-" not in editor_client.get(SUBSCRIBERS, {"q": "alvarez"}).content.decode()


def test_detail_page_shows_every_time_in_the_site_time_zone(editor_client, editor, audience):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(editor)
    profile.current_time_zone = "America/New_York"  # the editor's own: not used here
    profile.save()
    ada = audience["ada@example.org"]
    moment = datetime(2024, 1, 15, 23, 30, tzinfo=UTC)  # 00:30 on the 16th in Brussels
    Subscriber.objects.filter(pk=ada.pk).update(created_at=moment)
    Subscription.objects.filter(subscriber=ada).update(created_at=moment, confirmed_at=moment)
    ada.events.update(created_at=moment)
    page = text_of(editor_client.get(f"{SUBSCRIBERS}inspect/{ada.pk}/"))
    assert "All times on this page are in the Europe/Brussels time zone." in page
    assert page.count("16/01/2024 12:30 a.m.") >= 4  # created, subscribed, confirmed, history
    assert "15/01/2024" not in page  # neither UTC nor the editor's New York


def test_editor_can_edit_a_subscriber(editor_client, audience):
    ada = audience["ada@example.org"]
    assert editor_client.get(f"{SUBSCRIBERS}edit/{ada.pk}/").status_code == 200
    assert editor_client.get(f"{LISTS}add/").status_code == 200


def test_import_pages_refuse_forged_and_out_of_turn_requests(
    editor_client, newsletter_list, settings, tmp_path
):
    settings.SUBSCRIPTION_IMPORT_DIR = tmp_path
    for forged in ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "abc-def", "x" * 300, "١٢٣"]:
        base = f"/admin/mailing/import/{forged}/"
        for response in (
            editor_client.get(base),
            editor_client.post(base, {"action": "import"}),
            editor_client.post(base + "confirmations/"),
            editor_client.get(base + "rejected.csv"),
        ):
            assert response.status_code in (301, 404, 405)  # nothing found, nothing served
    job = upload(editor_client, "later.csv", b"email\r\nlater@example.org\r\n", newsletter_list)
    # Not counted yet: neither importing nor confirmation emails can start.
    editor_client.post(job, {"action": "import"})
    editor_client.post(job, {"action": "\r\nBcc: x@example.org"})
    assert editor_client.post(job + "confirmations/").status_code == 404
    assert "Reading the whole file" in editor_client.get(job).content.decode()
    assert not Subscriber.objects.exists()
    bad = editor_client.post(
        "/admin/mailing/import/",
        {
            "file": SimpleUploadedFile("x.csv", b"email\nx@example.org\n", "text/csv"),
            "mailing_list": newsletter_list.pk,
            "encoding": "rot13",
            "delimiter": "x",
        },
    )
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()
    wrong_encoding = editor_client.post(
        "/admin/mailing/import/",
        {
            "file": SimpleUploadedFile(
                "x.csv", "email\nzoë@example.org\n".encode("utf-16"), "text/csv"
            ),
            "mailing_list": newsletter_list.pk,
            "encoding": "utf-8",
        },
    )
    assert wrong_encoding.status_code == 200
    assert "is not utf-8 text" in text_of(wrong_encoding)
