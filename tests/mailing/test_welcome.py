"""The list's welcome email: sent through the campaign pipeline when a subscription is
confirmed, received by a real SMTP server on loopback."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from mailing import subscriptions, welcome
from mailing.models import Campaign, Delivery, SubscriberEvent, Subscription, Suppression
from newsletters.models import NewsletterPage
from tests import smtp
from tests.mailing.helpers import committed, link_in, signup

pytestmark = pytest.mark.django_db
smtp_server = smtp.smtp_server


@pytest.fixture
def demo_list(seeded):
    mailing_list = seeded["mailing_list"]
    assert mailing_list.welcome_issue == seeded["welcome"]  # seed_demo gives it one
    return mailing_list


def test_confirm_click_then_the_welcome_email_arrives(
    client, demo_list, smtp_server, sync_tasks, editor_client
):
    assert signup(client, email="Grace@Example.org", lists=["newsletter"]).status_code == 202
    (confirmation,) = smtp_server.wait_for(1)
    assert "confirm" in confirmation["Subject"].lower()

    with committed(execute=True):
        assert client.post(link_in(confirmation, "confirm")).status_code == 200

    messages = smtp_server.wait_for(2)
    welcome_message = messages[1]
    assert welcome_message["To"] == "Grace@example.org"
    assert welcome_message["Subject"] == "Welcome to the PENELOPE newsletter"
    assert welcome_message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = welcome_message.get_body(preferencelist=("html",)).get_content()
    text = welcome_message.get_body(preferencelist=("plain",)).get_content()
    assert "Thank you for subscribing" in html and "WELCOME" in text
    assert "View this email in your browser" not in text  # a welcome has no web copy
    assert "%%" not in html and "%%" not in text

    # Through the pipeline: a welcome campaign with one ledger row, sent.
    campaign = Campaign.objects.get(kind=Campaign.Kind.WELCOME)
    assert campaign.status == Campaign.Status.SENT
    assert list(campaign.lists.all()) == [demo_list]
    (delivery,) = campaign.deliveries.all()
    assert (
        delivery.status == Delivery.Status.SENT and delivery.subscriber.email == "Grace@example.org"
    )
    assert delivery.subscriber.events.filter(kind=SubscriberEvent.Kind.WELCOMED).exists()
    # It is not an issue of the newsletter: no sent date, not in the campaigns list.
    assert NewsletterPage.objects.get(pk=demo_list.welcome_issue_id).sent_at is None
    listing = editor_client.get(reverse("mailing_campaigns")).content.decode()
    assert f"/campaigns/{campaign.pk}/" not in listing

    # A second click confirms nothing new and sends no second welcome.
    with committed(execute=True):
        client.post(link_in(confirmation, "confirm"))
    assert smtp_server.total == 2


def test_one_welcome_per_person_and_list_even_when_they_come_back(
    demo_list, smtp_server, sync_tasks
):
    with committed(execute=True):
        result = subscriptions.subscribe(
            "back@example.org", [demo_list], send_confirmation_email=False
        )
        subscriptions.confirm(result.subscriber)
    smtp_server.wait_for(1)
    with committed(execute=True):
        subscriptions.unsubscribe(result.subscriber)
        subscriptions.subscribe("back@example.org", [demo_list], send_confirmation_email=False)
        subscriptions.confirm(result.subscriber)
    assert Subscription.objects.get(subscriber=result.subscriber).status == "confirmed"
    assert smtp_server.total == 1
    assert Campaign.objects.filter(kind=Campaign.Kind.WELCOME).count() == 1


def test_single_opt_in_signup_is_welcomed_at_once(client, demo_list, smtp_server, sync_tasks):
    demo_list.double_opt_in = False
    demo_list.save()
    signup(client, email="quick@example.org", lists=["newsletter"])
    (message,) = smtp_server.wait_for(1)
    assert message["Subject"] == "Welcome to the PENELOPE newsletter"


def test_nothing_without_a_published_welcome_issue_or_for_a_suppressed_address(
    demo_list, smtp_server, sync_tasks
):
    demo_list.welcome_issue.unpublish()
    with committed(execute=True):
        result = subscriptions.subscribe(
            "a@example.org", [demo_list], send_confirmation_email=False
        )
        subscriptions.confirm(result.subscriber)
    assert welcome.send_welcome(result.subscriber.pk, demo_list.pk) is None

    demo_list.welcome_issue.save_revision().publish()
    with committed(execute=True):
        result = subscriptions.subscribe(
            "b@example.org", [demo_list], send_confirmation_email=False
        )
        Suppression.add("b@example.org", Suppression.Reason.MANUAL)
        subscriptions.confirm(result.subscriber)
    assert smtp_server.total == 0
    assert not Campaign.objects.filter(kind=Campaign.Kind.WELCOME).exists()


def test_a_welcome_campaign_never_starts_for_the_whole_list(demo_list):
    campaign = Campaign.objects.create(
        page=demo_list.welcome_issue, kind=Campaign.Kind.WELCOME, status=Campaign.Status.SCHEDULED
    )
    campaign.lists.set([demo_list])
    from mailing import campaigns

    campaigns.dispatch()
    assert not campaigns.start(campaign.pk)
    assert not campaign.deliveries.exists()


def write_csv(tmp_path, *addresses):
    path = tmp_path / "people.csv"
    path.write_text("email\n" + "\n".join(addresses) + "\n", encoding="utf-8")
    return path


def test_import_sends_no_welcome_unless_asked(demo_list, smtp_server, sync_tasks, tmp_path):
    with committed(execute=True):
        call_command(
            "import_subscribers",
            str(write_csv(tmp_path, "imp1@example.org")),
            "--list",
            "newsletter",
            "--confirmed",
            stdout=None,
        )
    assert Subscription.objects.get(subscriber__email="imp1@example.org").status == "confirmed"
    assert smtp_server.total == 0

    with committed(execute=True):
        call_command(
            "import_subscribers",
            str(write_csv(tmp_path, "imp2@example.org", "imp3@example.org")),
            "--list",
            "newsletter",
            "--confirmed",
            "--send-welcome",
        )
    messages = smtp_server.wait_for(2)
    assert sorted(m["To"] for m in messages) == ["imp2@example.org", "imp3@example.org"]
    assert {m["Subject"] for m in messages} == {"Welcome to the PENELOPE newsletter"}


def test_an_editor_chooses_the_welcome_issue_in_the_list_form(demo_list, editor_client):
    url = f"/admin/snippets/mailing/mailinglist/edit/{demo_list.pk}/"
    form = editor_client.get(url)
    assert form.status_code == 200 and "Welcome email" in form.content.decode()
    data = {
        "name": demo_list.name,
        "slug": demo_list.slug,
        "description": "",
        "is_public": "on",
        "double_opt_in": "on",
        "from_name": "",
        "from_email": "",
        "reply_to": "",
        "consent_text": "",
        "welcome_issue": "",
    }
    assert editor_client.post(url, data).status_code == 302
    demo_list.refresh_from_db()
    assert demo_list.welcome_issue is None
    not_an_issue = NewsletterPage.objects.get(issue_number=3).get_parent()  # the archive
    response = editor_client.post(url, {**data, "welcome_issue": str(not_an_issue.pk)})
    assert response.status_code == 200  # refused: only a newsletter issue can welcome
    response = editor_client.post(url, {**data, "welcome_issue": "9" * 30})
    assert response.status_code == 200
    assert (
        editor_client.post(url, {**data, "welcome_issue": str(welcome_pk(demo_list))}).status_code
        == 302
    )


def welcome_pk(mailing_list):
    return NewsletterPage.objects.get(issue_number=0).pk
