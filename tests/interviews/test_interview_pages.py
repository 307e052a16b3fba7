"""Interview pages: what an editor must fill in, what a visitor sees, what the seed holds."""

import pytest
from django.core.exceptions import ValidationError

from interviews.blocks import InterviewBodyBlock
from interviews.models import InterviewPage

pytestmark = pytest.mark.django_db

SEED_INTERVIEWEES = {
    "Massimiliano Rumignani": (
        "Project Manager",
        "AMBIT",
        "GENDER EQUALITY CAN REPRESENT A DRIVER",
    ),
    "Andrea Luciana Marcu": (
        "Manager of the Center for Continuous Training and Technological Information",
        "Danubius University",
        "IT HAS BEEN OBSERVED THAT WHEN THE WORK TEAMS",
    ),
    "Camille Esquerré": (
        "Deputy Director",
        "Cluster Mecanic Vallée",
        "THE ROLE OF THE CLUSTER IS REALLY TO LEAD THE NETWORK",
    ),
    "Päivi Ekdahl": (
        "Development Director",
        "Regional Council of Lapland",
        "WE SEE DIGITALIZATION, INDUSTRY 4.0",
    ),
}


def test_interview_requires_its_editorial_fields(seeded):
    page = InterviewPage(title="Interview", slug="interview")
    with pytest.raises(ValidationError) as excinfo:
        page.full_clean()
    for field in ("interviewee_name", "role", "organisation", "pull_quote"):
        assert field in excinfo.value.message_dict


def test_interview_page_shows_interviewee_and_quote(client, seeded):
    page = InterviewPage.objects.get(slug="camille-esquerre")
    text = client.get(page.url).text
    assert "Camille Esquerré" in text and "Deputy Director at Mecanic Vallée" in text
    assert "knock-on effect" in text


def test_seed_rebuilds_the_interviewees_of_newsletter_3(seeded):
    interviews = {p.interviewee_name: p for p in InterviewPage.objects.live()}
    assert set(interviews) == set(SEED_INTERVIEWEES)
    for name, (role, organisation, quote_start) in SEED_INTERVIEWEES.items():
        page = interviews[name]
        assert page.role == role
        assert page.organisation.name == organisation
        assert page.pull_quote.upper().startswith(quote_start)
        assert page.portrait is not None and page.portrait.width > 0


def test_question_and_answer_blocks_render_on_the_interview_page(client, seeded):
    page = InterviewPage.objects.get(slug="paivi-ekdahl")
    page.body = InterviewBodyBlock().to_python(
        [
            {
                "type": "question_answer",
                "value": {
                    "question": "What would you tell a cluster starting out?",
                    "answer": "<p>Start with <b>data</b> on who works where.</p>",
                },
            }
        ]
    )
    page.save_revision().publish()
    text = client.get(page.url).text
    assert "<h3>What would you tell a cluster starting out?</h3>" in text
    assert "<b>data</b> on who works where." in text


def test_the_api_serves_the_fields_the_interview_declares(seeded, client):
    page = InterviewPage.objects.get(slug="camille-esquerre")
    body = client.get(f"/api/v2/pages/{page.pk}/").json()
    declared = [field.name for field in InterviewPage.api_fields]
    assert [key for key in body if key not in {"id", "meta", "title"}] == declared
    assert body["organisation"]["name"] == "Cluster Mecanic Vallée"
    assert body["portrait"]["renditions"]["thumbnail"]["width"] == 160
