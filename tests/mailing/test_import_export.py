import csv
import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailing import subscriptions
from mailing.importing import import_subscribers
from mailing.models import MailingList, Subscriber, SubscriberEvent, Subscription, Suppression

pytestmark = pytest.mark.django_db

BAD_CSV = """\
Email,Name,Language,List,Organisation
good.one@example.org,Good One,fr,,AMBIT
GOOD.TWO@EXAMPLE.ORG,Good Two,,,
not-an-address,Broken,,,
,No Address,,,
good.one@example.org,Duplicate of line 2,,,
bounced@example.org,Bounced,,,
erased@example.org,Erased,,,
someone@example.org,Wrong List,,no-such-list,
other@example.org,Bad Language,klingon,,
too@many.example,Too,en,,x,extra cell
left@example.org,Left earlier,,,
events@example.org,Events person,de,events,Cluster
good.one@exa mple.org,Space,,,
"""


def run_import(tmp_path, text, *args):
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("import_subscribers", str(path), *args, stdout=out)
    rejected = tmp_path / "people.rejected.csv"
    rows = list(csv.DictReader(rejected.open(encoding="utf-8"))) if rejected.exists() else []
    return out.getvalue(), rows


def test_csv_full_of_bad_rows_each_reported_good_rows_imported(
    tmp_path, newsletter_list, events_list
):
    Suppression.add("Bounced@example.org", Suppression.Reason.HARD_BOUNCE)
    erased = subscriptions.subscribe("erased@example.org", [newsletter_list], confirmed=True)
    subscriptions.erase(erased.subscriber)
    left = subscriptions.subscribe("left@example.org", [newsletter_list], confirmed=True)
    subscriptions.unsubscribe(left.subscriber, source="test")

    output, rejected = run_import(tmp_path, BAD_CSV, "--list", "newsletter")

    reasons = {row["line"]: row["reason"] for row in rejected}
    assert reasons == {
        "4": "invalid email address",
        "5": "no email address",
        "6": "duplicate of an earlier row in the file",
        "7": "address is suppressed (bounced, complained, erased or blocked)",
        "8": "address is suppressed (bounced, complained, erased or blocked)",
        "9": "unknown list",
        "10": "unknown language",
        "11": "more cells than the header has columns",
        "12": "unsubscribed from this list earlier; not subscribed again",
        "14": "invalid email address",
    }
    # The rejected rows keep their original cells.
    assert rejected[0]["Email"] == "not-an-address" and rejected[0]["Name"] == "Broken"
    assert "rows read: 13" in output and "new subscriptions: 3" in output
    assert "rejected: 10" in output and "people.rejected.csv" in output

    one = Subscriber.objects.get(email="good.one@example.org")
    assert (one.name, one.language, one.attributes) == ("Good One", "fr", {"Organisation": "AMBIT"})
    assert Subscriber.objects.filter(email="GOOD.TWO@example.org").exists()
    assert Subscription.objects.get(subscriber=one).status == Subscription.Status.PENDING
    assert Subscription.objects.get(subscriber__email="events@example.org").mailing_list == (
        events_list
    )
    assert SubscriberEvent.objects.filter(kind="imported").count() == 3
    assert Subscription.objects.get(subscriber=left.subscriber).status == "unsubscribed"


def test_import_confirmed_creates_missing_list_and_is_idempotent(tmp_path):
    text = "email,name\na@example.org,A\nb@example.org,B\n"
    output, rejected = run_import(tmp_path, text, "--list", "partners", "--confirmed")
    assert 'Created list "partners"' in output and "new subscriptions: 2" in output
    assert rejected == [] and not (tmp_path / "people.rejected.csv").exists()
    assert set(
        Subscription.objects.filter(mailing_list__slug="partners").values_list("status", flat=True)
    ) == {"confirmed"}
    again, _rows = run_import(tmp_path, text, "--list", "partners", "--confirmed")
    assert "already subscribed: 2" in again
    assert Subscription.objects.count() == 2


def test_import_without_email_column_is_refused(tmp_path):
    with pytest.raises(CommandError, match="email"):
        run_import(tmp_path, "name\nA\n", "--list", "x")


def test_file_that_stops_being_utf8_reports_what_was_done(tmp_path, newsletter_list):
    path = tmp_path / "people.csv"
    # Long enough that the bad byte is decoded well after the header.
    good = "".join(f"person.number.{i}@example.org\n" for i in range(3000))
    path.write_bytes(b"email\n" + good.encode() + b"caf\xe9@example.org\n")
    out = io.StringIO()
    with pytest.raises(CommandError, match="after line"):
        call_command(
            "import_subscribers",
            str(path),
            "--list",
            "newsletter",
            "--batch-size",
            "100",
            stdout=out,
        )
    done = int(re.search(r"new subscriptions: (\d+)", out.getvalue()).group(1))
    assert done > 0 and Subscription.objects.count() == done


def test_erase_then_reimport_is_suppressed(tmp_path, client, newsletter_list):
    result = subscriptions.subscribe("gone@example.org", [newsletter_list], confirmed=True)
    from mailing import tokens

    token = tokens.make_token(tokens.PREFERENCES, result.subscriber.pk)
    client.post(f"/subscriptions/preferences/{token}/erase/")
    output, rejected = run_import(tmp_path, "email\nGone@Example.org\n", "--list", "newsletter")
    assert [r["reason"] for r in rejected] == [
        "address is suppressed (bounced, complained, erased or blocked)"
    ]
    assert "new subscriptions: 0" in output
    assert not Subscriber.objects.filter(email__iexact="gone@example.org").exists()


def test_import_queries_are_per_batch_not_per_row(newsletter_list, django_assert_max_num_queries):
    rows = "\n".join(f"person{i}@example.org,Person {i}" for i in range(500))
    source = io.StringIO("email,name\n" + rows + "\n")
    # About a dozen queries per batch of 200, however many rows a batch holds.
    with django_assert_max_num_queries(40):
        report = import_subscribers(source, newsletter_list, batch_size=200)
    assert report.imported == 500 and report.accounted


def test_export_command_streams_the_list_as_csv(tmp_path, newsletter_list, events_list):
    run_import(
        tmp_path,
        "email,name,Organisation\na@example.org,=HYPERLINK(1),AMBIT\nb@example.org,B,\n",
        "--list",
        "newsletter",
        "--confirmed",
    )
    subscriptions.subscribe("other@example.org", [events_list], confirmed=True)
    Suppression.add("b@example.org", Suppression.Reason.COMPLAINT)
    out = io.StringIO()
    call_command("export_subscribers", "--list", "newsletter", stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["email"] for r in rows] == ["a@example.org", "b@example.org"]
    assert rows[0]["name"] == "'=HYPERLINK(1)"  # not a formula in a spreadsheet
    assert rows[0]["Organisation"] == "AMBIT" and rows[0]["status"] == "confirmed"
    assert [r["suppressed"] for r in rows] == ["no", "yes"]
    assert rows[0]["consent_text"] == "I agree to receive the PENELOPE newsletter."
    with pytest.raises(CommandError):
        call_command("export_subscribers", "--list", "missing", stdout=io.StringIO())


def test_demo_seed_of_mailing_is_idempotent(db):
    from mailing.demo import seed_mailing

    seed_mailing({})
    seed_mailing({})
    assert MailingList.objects.filter(slug="newsletter").count() == 1
    assert Subscription.objects.filter(status="confirmed").count() == 4
