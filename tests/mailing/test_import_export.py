"""Imports of the files other tools and spreadsheets write, and exports safe to open.

The fixtures under ``imports/`` are shaped like the real exports (headers, quoting,
dates, encodings and line ends as each tool writes them).
"""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailing import import_jobs, subscriptions
from mailing.importing import import_subscribers
from mailing.models import (
    MailingList,
    Subscriber,
    SubscriberEvent,
    Subscription,
    Suppression,
    email_hash,
)
from tests import smtp

pytestmark = pytest.mark.django_db
smtp_server = smtp.smtp_server

FILES = Path(__file__).parent / "imports"

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
other@example.org,Odd Language,klingon,,
too@many.example,Too,en,,x,extra cell
left@example.org,Left earlier,,,
events@example.org,Events person,de,events,Cluster
good.one@exa mple.org,Space,,,
"""


def run_import(tmp_path, text, *args, name="people.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    out = io.StringIO()
    call_command("import_subscribers", str(path), *args, stdout=out)
    rejected = path.with_name(f"{path.stem}.rejected.csv")
    rows = list(csv.DictReader(rejected.open(encoding="utf-8-sig"))) if rejected.exists() else []
    return out.getvalue(), rows


def import_fixture(tmp_path, name, *args):
    data = (FILES / name).read_bytes()
    return run_import(tmp_path, data, "--list", "newsletter", *args, name=name)


def state_of(address, mailing_list):
    """What the database now holds for an address: a subscription status, "suppressed:
    <reason>" or None."""
    suppression = Suppression.objects.filter(email_hash=email_hash(address)).first()
    if suppression:
        return f"suppressed:{suppression.reason}"
    subscription = Subscription.objects.filter(
        subscriber__email__iexact=address, mailing_list=mailing_list
    ).first()
    return subscription.status if subscription else None


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
        "11": "more cells than the header has columns",
        "12": "unsubscribed from this list earlier; not subscribed again",
        "14": "invalid email address",
    }
    # The rejected rows keep their original cells.
    assert rejected[0]["Email"] == "not-an-address" and rejected[0]["Name"] == "Broken"
    assert "rows read: 13" in output and "new subscriptions, waiting for confirmation: 4" in output
    assert "rejected: 9" in output and "people.rejected.csv" in output
    assert "4 subscriptions wait for confirmation; nobody was emailed" in output

    one = Subscriber.objects.get(email="good.one@example.org")
    assert (one.name, one.language, one.attributes) == ("Good One", "fr", {"Organisation": "AMBIT"})
    assert Subscriber.objects.filter(email="GOOD.TWO@example.org").exists()
    assert Subscription.objects.get(subscriber=one).status == Subscription.Status.PENDING
    assert Subscription.objects.get(subscriber__email="events@example.org").mailing_list == (
        events_list
    )
    # An unknown language does not cost the row: it is kept as written.
    odd = Subscriber.objects.get(email="other@example.org")
    assert (odd.language, odd.attributes) == ("en", {"Language": "klingon"})
    assert SubscriberEvent.objects.filter(kind="imported").count() == 4
    assert Subscription.objects.get(subscriber=left.subscriber).status == "unsubscribed"


def test_import_confirmed_creates_missing_list_and_is_idempotent(tmp_path):
    text = "email,name\na@example.org,A\nb@example.org,B\n"
    output, rejected = run_import(tmp_path, text, "--list", "partners", "--confirmed")
    assert 'Created list "partners"' in output and "new subscriptions, confirmed: 2" in output
    assert rejected == [] and not (tmp_path / "people.rejected.csv").exists()
    assert set(
        Subscription.objects.filter(mailing_list__slug="partners").values_list("status", flat=True)
    ) == {"confirmed"}
    again, _rows = run_import(tmp_path, text, "--list", "partners", "--confirmed")
    assert "already so here: unchanged: 2" in again
    assert Subscription.objects.count() == 2


def test_import_without_email_column_is_refused(tmp_path):
    with pytest.raises(CommandError, match="no column of email addresses"):
        run_import(tmp_path, "name\nA\n", "--list", "x")
    assert not MailingList.objects.filter(slug="x").exists()


# --- files as the tools write them ---------------------------------------------------------

C, P, U = "confirmed", "pending", "unsubscribed"
FIXTURES = {
    "mailchimp_subscribed.csv": {
        "ada.lovelace@example.org": C,
        "jose.martinez@example.es": C,
        "=1+1@example.org": C,
    },
    "mailchimp_unsubscribed.csv": {
        "left.reader@example.org": U,
        "admin.removed@example.org": U,
        "angry@example.org": "suppressed:complained",
    },
    "mailchimp_cleaned.csv": {
        "gone.mailbox@example.org": "suppressed:bounced",
        "typo@exmaple.org": "suppressed:bounced",
    },
    "listmonk.csv": {"priya@example.in": C, "blocked@example.org": U, "dormant@example.org": U},
    "ghost_members.csv": {
        "grace@example.org": C,
        "quiet@example.org": U,
        "removed@example.org": None,
    },
    "substack.csv": {
        "free.reader@example.com": C,
        "paid.reader@example.com": C,
        "bouncing@example.com": U,
        "gone-8a7f@deletion-request.substack.com": None,
    },
    "brevo.csv": {"bruno.durand@example.fr": C, "chloe@example.fr": U},
    "buttondown.csv": {
        "regular@example.net": C,
        "unconfirmed@example.net": P,  # never confirmed in Buttondown: consent box or not
        "leaver@example.net": U,
        "nosuchbox@example.net": "suppressed:bounced",
        "reporter@example.net": "suppressed:complained",
    },
    "excel_semicolon_cp1252.csv": {
        "marie.dupont@example.fr": C,
        "jurgen.muller@example.de": C,
        "joao.goncalves@example.pt": C,
        "zofia.nowak@example.pl": C,
        "worf@example.org": C,
    },
    "excel_unicode_text.txt": {"lukasz@example.pl": C, "zoe@example.be": C},
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_each_tools_export_keeps_what_the_tool_knew(tmp_path, newsletter_list, name):
    """Even with "already consented", nobody the tool had as unsubscribed, cleaned,
    blocklisted, disabled or unconfirmed becomes a confirmed subscriber."""
    output, rejected = import_fixture(tmp_path, name, "--confirmed")
    expected = FIXTURES[name]
    assert {a: state_of(a, newsletter_list) for a in expected} == expected
    not_imported = {a for a, state in expected.items() if state is None}
    assert len(rejected) == len(not_imported)  # each with its line and reason
    assert f"rows read: {len(expected)}" in output
    # Only confirmed rows are mailed: the rest never reach a send.
    receiving = set(Subscriber.objects.receiving([newsletter_list]).values_list("email", flat=True))
    assert {a.lower() for a in receiving} == {a for a, s in expected.items() if s == C}


def test_mailchimp_consent_record_names_and_attributes(tmp_path, newsletter_list):
    import_fixture(tmp_path, "mailchimp_subscribed.csv", "--confirmed")
    ada = Subscriber.objects.get(email="ada.lovelace@example.org")
    assert ada.name == "Ada Lovelace"  # First Name + Last Name, not attributes
    assert ada.attributes["NOTES"] == "Met at the Brussels cluster day.\nAsked for the handbook."
    assert ada.attributes["TAGS"] == '"Cluster partners","VIP"'
    assert "First Name" not in ada.attributes and "OPTIN_TIME" not in ada.attributes
    subscription = ada.subscriptions.get()
    assert subscription.created_at == datetime(2023, 1, 15, 10, 22, 33, tzinfo=UTC)
    assert subscription.confirmed_at == datetime(2023, 1, 15, 10, 25, tzinfo=UTC)
    assert subscription.ip_address == "192.0.2.11"  # where they confirmed
    assert subscription.source == "import: mailchimp_subscribed.csv"
    assert Subscriber.objects.get(email="jose.martinez@example.es").name == "José Martínez"


def test_mailchimp_unsubscribed_export_unsubscribes_stale_confirmed_people(
    tmp_path, newsletter_list
):
    """An earlier import of the subscribed export, then the unsubscribed one: people who
    left in Mailchimp since are unsubscribed here; someone who signed up here after
    leaving Mailchimp stays."""
    stale = subscriptions.subscribe("left.reader@example.org", [newsletter_list], confirmed=True)
    Subscription.objects.filter(subscriber=stale.subscriber).update(
        created_at=datetime(2022, 5, 1, tzinfo=UTC), confirmed_at=datetime(2022, 5, 1, tzinfo=UTC)
    )
    subscriptions.subscribe("admin.removed@example.org", [newsletter_list], confirmed=True)

    output, _rows = import_fixture(tmp_path, "mailchimp_unsubscribed.csv")

    assert state_of("left.reader@example.org", newsletter_list) == U
    left = Subscription.objects.get(subscriber=stale.subscriber)
    assert left.unsubscribed_at == datetime(2024, 2, 3, 10, tzinfo=UTC)
    assert stale.subscriber.events.filter(kind="unsubscribed").exists()
    assert state_of("admin.removed@example.org", newsletter_list) == C  # joined here since
    assert "recorded as unsubscribed, as in the file: 1" in output
    assert "suppressed (bounced or complained, as in the file): 1" in output
    assert not Subscriber.objects.filter(email="angry@example.org").exists()  # a hash only


def test_cleaned_addresses_cannot_sign_up_again(tmp_path, newsletter_list, sync_tasks):
    import_fixture(tmp_path, "mailchimp_cleaned.csv")
    result = subscriptions.subscribe("gone.mailbox@example.org", [newsletter_list])
    assert result.suppressed and not Subscription.objects.exists()
    suppression = Suppression.objects.get(email_hash=email_hash("gone.mailbox@example.org"))
    assert suppression.reason == "bounced"
    assert suppression.detail.startswith("Mailchimp (cleaned export)")


def test_listmonk_attributes_and_go_times(tmp_path, newsletter_list):
    import_fixture(tmp_path, "listmonk.csv", "--confirmed")
    priya = Subscriber.objects.get(email="priya@example.in")
    assert priya.attributes["city"] == "Bengaluru" and priya.attributes["projects"] == ["PENELOPE"]
    assert priya.subscriptions.get().created_at == datetime(
        2023, 6, 1, 9, 15, 32, 114422, tzinfo=UTC
    )
    bob = Subscription.objects.get(subscriber__email="blocked@example.org")
    assert bob.created_at == datetime(2023, 7, 11, 6, 30, tzinfo=UTC)  # +0530 IST


def test_ghost_deleted_member_is_reported_not_imported(tmp_path, newsletter_list):
    output, rejected = import_fixture(tmp_path, "ghost_members.csv", "--confirmed")
    assert [(r["line"], r["email"]) for r in rejected] == [("4", "removed@example.org")]
    assert rejected[0]["reason"].startswith("deleted, blocked or refused as spam in the source")
    grace = Subscriber.objects.get(email="grace@example.org")
    assert grace.attributes["labels"] == "Cluster partners, Newsletter"


def test_brevo_day_first_dates_and_excel_names(tmp_path, newsletter_list):
    import_fixture(tmp_path, "brevo.csv", "--confirmed")
    bruno = Subscription.objects.get(subscriber__email="bruno.durand@example.fr")
    assert bruno.created_at == datetime(2022, 4, 12, 9, 30, tzinfo=UTC)
    assert Subscriber.objects.get(email="chloe@example.fr").name == "Chloé Lefèvre"


def test_excel_semicolon_windows_1252_is_read_whole(tmp_path, newsletter_list):
    output, rejected = import_fixture(tmp_path, "excel_semicolon_cp1252.csv", "--confirmed")
    assert "Reading excel_semicolon_cp1252.csv as a spreadsheet" in output
    assert "Windows-1252, columns separated by semicolon" in output
    assert rejected == []
    people = {s.email: s for s in Subscriber.objects.all()}
    assert people["jurgen.muller@example.de"].name == "Jürgen Müller"
    assert people["joao.goncalves@example.pt"].language == "pt"  # any ISO 639-1 code
    assert people["zofia.nowak@example.pl"].language == "pl"  # "pl-PL"
    assert people["worf@example.org"].attributes == {"Langue": "klingon"}
    assert people["marie.dupont@example.fr"].attributes == {"Organisation": 'Société "Bleu"; Blanc'}


def test_excel_unicode_text_utf16_tabs(tmp_path, newsletter_list):
    output, _rows = import_fixture(tmp_path, "excel_unicode_text.txt")
    assert "UTF-16, columns separated by tab" in output
    lukasz = Subscriber.objects.get(email="lukasz@example.pl")
    assert (lukasz.name, lukasz.language) == ("Łukasz Wiśniewski", "pl")


def test_chosen_encoding_wins_over_detection(tmp_path, newsletter_list):
    text = "email;first name;last name\r\ntomasz@example.pl;Tomasz;Dvořák Żółć\r\n"
    output, _rows = run_import(
        tmp_path, text, "--list", "newsletter", "--encoding", "cp1250", encoding="cp1250"
    )
    assert Subscriber.objects.get().name == "Tomasz Dvořák Żółć"


def test_dry_run_counts_what_the_import_then_does(tmp_path, newsletter_list):
    out, _rows = import_fixture(tmp_path, "buttondown.csv", "--confirmed", "--dry-run")
    assert "Dry run: nothing written" in out
    assert not Subscriber.objects.exists() and not Suppression.objects.exists()
    expected = out.split("would give:")[1]
    done, _rows = import_fixture(tmp_path, "buttondown.csv", "--confirmed")
    assert expected.strip() in done


def test_file_turning_windows_1252_past_the_first_megabyte_is_read_right(tmp_path, newsletter_list):
    padding = "x" * 80  # long rows: past a megabyte with few of them
    rows = "".join(f"p{i}@example.org,Person {i} {padding}\n" for i in range(11_000))
    late = "late@example.org,Zoë Lefèvre-Gonçalves\n".encode("cp1252")
    data = b"email,name\n" + rows.encode() + late
    assert len(data) > 1 << 20
    output, rejected = run_import(tmp_path, data, "--list", "newsletter", "--batch-size", "5000")
    assert rejected == [] and "rows read: 11001" in output
    assert Subscriber.objects.get(email="late@example.org").name == "Zoë Lefèvre-Gonçalves"


def test_file_broken_half_way_is_refused_whole(tmp_path, newsletter_list):
    good = "".join(f"person.number.{i}@example.org,Person {i}\n" for i in range(3000))
    broken = 'bad@example.org,"' + "x" * 200_000 + '"\n'
    with pytest.raises(CommandError, match="Line 3002 is not readable CSV"):
        run_import(tmp_path, "email,name\n" + good + broken, "--list", "newsletter")
    assert not Subscriber.objects.exists()  # nothing half-written


def test_binary_file_is_refused(tmp_path, newsletter_list):
    with pytest.raises(CommandError, match="not text"):
        run_import(tmp_path, bytes(range(256)) * 50, "--list", "newsletter", name="photo.csv")


def test_erase_then_reimport_is_suppressed(tmp_path, client, newsletter_list):
    result = subscriptions.subscribe("gone@example.org", [newsletter_list], confirmed=True)
    from mailing import tokens

    token = tokens.make_token(tokens.PREFERENCES, result.subscriber.pk)
    client.post(f"/subscriptions/preferences/{token}/erase/")
    output, rejected = run_import(tmp_path, "email\nGone@Example.org\n", "--list", "newsletter")
    assert [r["reason"] for r in rejected] == [
        "address is suppressed (bounced, complained, erased or blocked)"
    ]
    assert "new subscriptions, waiting for confirmation: 0" in output
    assert not Subscriber.objects.filter(email__iexact="gone@example.org").exists()


def test_erased_before_normalisation_stays_suppressed_when_reimported(tmp_path, newsletter_list):
    # Someone erased before addresses were normalised left only the hash of the spelling
    # they typed (here decomposed, NFD): that spelling must not come back by import.
    from mailing.models import legacy_email_hash

    typed = "jose\u0301@example.org"
    Suppression.objects.create(
        email_hash=legacy_email_hash(typed), reason=Suppression.Reason.ERASED
    )
    output, rejected = run_import(tmp_path, f"email\n{typed}\n", "--list", "newsletter")
    assert [r["reason"] for r in rejected] == [
        "address is suppressed (bounced, complained, erased or blocked)"
    ]
    assert not Subscriber.objects.exists()


def test_import_queries_are_per_batch_not_per_row(newsletter_list, django_assert_max_num_queries):
    rows = "\n".join(f"person{i}@example.org,Person {i}" for i in range(500))
    source = io.StringIO("email,name\n" + rows + "\n")
    # About a dozen queries per batch of 200, however many rows a batch holds.
    with django_assert_max_num_queries(40):
        report = import_subscribers(source, newsletter_list, batch_size=200)
    assert report.pending == 500 and report.accounted


def test_pending_people_get_their_confirmation_email(
    tmp_path, newsletter_list, smtp_server, sync_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        output, _rows = import_fixture(
            tmp_path, "excel_semicolon_cp1252.csv", "--send-confirmations"
        )
    assert "Confirmation email queued for 5 people." in output
    messages = smtp_server.wait_for(5)
    assert sorted(m["To"] for m in messages) == sorted(FIXTURES["excel_semicolon_cp1252.csv"])
    assert all("/subscriptions/confirm/" in m.get_body(("plain",)).get_content() for m in messages)
    sent = SubscriberEvent.objects.filter(kind="confirmation_sent").count()
    assert sent == 5


def test_confirmations_go_only_to_who_is_still_pending(tmp_path, newsletter_list, sync_tasks):
    report = import_subscribers(
        io.StringIO("email\na@example.org\nb@example.org\n"), newsletter_list, import_id="abc1"
    )
    assert report.pending == 2
    subscriptions.confirm(Subscriber.objects.get(email="a@example.org"))
    assert import_jobs.pending_of_import("abc1") == {
        Subscriber.objects.get(email="b@example.org").pk: [newsletter_list.pk]
    }


# --- exports ---------------------------------------------------------------------------------


def test_export_command_neutralises_every_cell(tmp_path, newsletter_list, events_list):
    run_import(
        tmp_path,
        'email,name,Organisation,=evil()\n"=1+1@example.org","=HYPERLINK(""x"")",AMBIT,\n'
        "b@example.org,B,,@SUM(A1)\n",
        "--list",
        "newsletter",
        "--confirmed",
    )
    subscriptions.subscribe("other@example.org", [events_list], confirmed=True)
    Suppression.add("b@example.org", Suppression.Reason.COMPLAINT)
    out = io.StringIO()
    call_command("export_subscribers", "--list", "newsletter", stdout=out)
    text = out.getvalue()
    assert text.startswith("\ufeffemail,name,language,list,status,")  # Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["email"] for r in rows] == ["'=1+1@example.org", "b@example.org"]
    assert rows[0]["name"] == '\'=HYPERLINK("x")'  # not a formula in a spreadsheet
    assert "'=evil()" in rows[0] and rows[1]["'=evil()"] == "'@SUM(A1)"
    assert rows[0]["Organisation"] == "AMBIT" and rows[0]["status"] == "confirmed"
    assert [r["suppressed"] for r in rows] == ["no", "yes"]
    assert [r["list"] for r in rows] == ["newsletter", "newsletter"]
    assert rows[0]["consent_text"] == "I agree to receive the PENELOPE newsletter."
    with pytest.raises(CommandError):
        call_command("export_subscribers", "--list", "missing", stdout=io.StringIO())


def test_export_reads_back_as_the_same_people(tmp_path, newsletter_list):
    """This system's export is a format the importer knows: a round trip keeps emails
    (neutralised or not), statuses, consent records and attributes."""
    import_fixture(tmp_path, "mailchimp_subscribed.csv", "--confirmed")
    import_fixture(tmp_path, "mailchimp_unsubscribed.csv")
    out = io.StringIO()
    call_command("export_subscribers", "--list", "newsletter", stdout=out)
    (tmp_path / "export.csv").write_text(out.getvalue(), encoding="utf-8")
    copy = MailingList.objects.create(name="Copy", slug="copy", consent_text="other wording")
    rows = list(csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff"))))
    text = out.getvalue().replace(",newsletter,", ",copy,")
    output, rejected = run_import(tmp_path, text, "--list", "copy", "--confirmed", name="back.csv")
    assert "as this system's export" in output and rejected == []
    for row in rows:
        original = Subscription.objects.get(
            subscriber__email=row["email"].lstrip("'"), mailing_list=newsletter_list
        )
        again = Subscription.objects.get(subscriber=original.subscriber, mailing_list=copy)
        assert again.status == original.status
        assert again.created_at == original.created_at
        assert again.consent_text == original.consent_text


def test_demo_seed_of_mailing_is_idempotent(db):
    from mailing.demo import seed_mailing

    seed_mailing({})
    seed_mailing({})
    assert MailingList.objects.filter(slug="newsletter").count() == 1
    assert Subscription.objects.filter(status="confirmed").count() == 8
