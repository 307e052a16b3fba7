"""The segment editor, its live count endpoint, and sending to a segment from the admin."""

import pytest
from django.urls import reverse
from wagtail.test.utils.form_data import nested_form_data, streamfield

from mailing.models import Campaign, Segment
from tests.mailing.factories import MailingListFactory, SubscriberFactory, SubscriptionFactory
from tests.mailing.test_segments import seeded_issue  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

COUNT_URL = "/admin/mailing/segments/count/"


@pytest.fixture
def audience(db):
    news = MailingListFactory(slug="news", name="News")
    for local, language in (("ada", "fr"), ("ben", "it"), ("cy", "fr"), ("dee", "en")):
        person = SubscriberFactory(email=f"{local}@example.org", language=language)
        SubscriptionFactory(subscriber=person, mailing_list=news)
    return news


def form(conditions, match="all", **fields):
    """The editor's POST: a multiple choice posts one value per ticked box, under one name."""
    lists = {}
    for index, (_type, value) in enumerate(conditions):
        for key, item in value.items():
            if isinstance(item, list):
                lists[f"conditions-{index}-value-{key}"] = item
    conditions = [
        (kind, {k: v for k, v in value.items() if not isinstance(v, list)})
        for kind, value in conditions
    ]
    data = nested_form_data(
        {
            "name": fields.get("name", "French readers"),
            "slug": fields.get("slug", "french"),
            "description": "",
            "match": match,
            "conditions": streamfield(conditions),
        }
    )
    return {**data, **lists}


def test_live_count_of_unsaved_conditions(editor_client, audience, django_assert_max_num_queries):
    data = form([("language", {"languages": ["fr"]})])
    with django_assert_max_num_queries(6):
        response = editor_client.post(COUNT_URL, data)
    assert response.status_code == 200
    assert response.json() == {"count": 2}
    either = form(
        [("language", {"languages": ["fr"]}), ("language", {"languages": ["it"]})], match="any"
    )
    assert editor_client.post(COUNT_URL, either).json() == {"count": 3}
    assert editor_client.post(COUNT_URL, form([])).json() == {"count": 4}


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"conditions-count": "1", "conditions-0-type": "nope", "conditions-0-deleted": ""},
        {"conditions-count": "x"},
        {"conditions-count": "99999999999999999999"},
        {"conditions-count": "1", "conditions-0-type": "language", "conditions-0-deleted": ""},
        {"match": "\r\nany", "conditions-count": "0"},
    ],
)
def test_live_count_refuses_bad_forms_without_a_5xx(editor_client, audience, data):
    response = editor_client.post(COUNT_URL, data)
    assert response.status_code in (200, 400)
    assert ("count" in response.json()) or ("error" in response.json())


def test_invalid_condition_says_so(editor_client, audience):
    data = form([("attribute", {"name": "", "operator": "equals", "value": "x"})])
    response = editor_client.post(COUNT_URL, data)
    assert response.status_code == 400
    assert "Complete the conditions" in response.json()["error"]


def test_count_needs_an_editor_and_a_post(editor_client, audience, django_user_model):
    from django.contrib.auth.models import Permission
    from django.test import Client

    assert Client().post(COUNT_URL, form([])).status_code in (302, 403)
    reader = django_user_model.objects.create_user("reader", "reader@example.org", "pw")
    reader.user_permissions.add(Permission.objects.get(codename="access_admin"))
    other = Client()
    other.force_login(reader)
    refused = other.post(COUNT_URL, form([]))
    assert refused.status_code in (302, 403)  # Wagtail sends the refused back to /admin/
    assert b"count" not in refused.content
    assert editor_client.get(COUNT_URL).status_code == 405


def test_editor_creates_a_segment_and_the_listing_counts_it(editor_client, audience):
    url = reverse("wagtailsnippets_mailing_segment:add")
    response = editor_client.get(url)
    assert response.status_code == 200
    assert b'id="segment-count"' in response.content
    response = editor_client.post(url, form([("language", {"languages": ["fr", "it"]})]))
    assert response.status_code == 302
    segment = Segment.objects.get(slug="french")
    assert [c.block_type for c in segment.conditions] == ["language"]
    listing = editor_client.get(reverse("wagtailsnippets_mailing_segment:list"))
    assert b"French readers" in listing.content
    edit = editor_client.get(reverse("wagtailsnippets_mailing_segment:edit", args=[segment.pk]))
    assert b"data-segment-count>3<" in edit.content


def test_send_form_and_confirm_screen_name_the_segment(
    editor_client,
    audience,
    seeded_issue,  # noqa: F811
):
    segment = Segment.objects.create(
        name="French readers",
        slug="french",
        conditions=[{"type": "language", "value": {"languages": ["fr"]}}],
    )
    count = editor_client.get(
        reverse("mailing_campaign_count"), {"lists": audience.pk, "segment": segment.pk}
    )
    assert count.json()["recipients"] == 2
    bogus = editor_client.get(
        reverse("mailing_campaign_count"), {"lists": audience.pk, "segment": "9" * 40}
    )
    assert bogus.json()["recipients"] == 4
    send_url = reverse("mailing_campaign_send", args=[seeded_issue.pk])
    response = editor_client.post(
        send_url, {"lists": [audience.pk], "segment": segment.pk, "send": "1", "version": ""}
    )
    assert response.status_code == 302, response.content[:2000]
    campaign = Campaign.objects.get()
    assert campaign.segment == segment
    confirm = editor_client.get(response["Location"])
    assert b'data-fact="segment">French readers' in confirm.content
    assert b"2 people" in confirm.content
    # An unknown segment id is a form error, not a 5xx.
    response = editor_client.post(
        send_url, {"lists": [audience.pk], "segment": "12345", "send": "1"}
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
