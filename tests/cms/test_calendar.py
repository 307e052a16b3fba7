"""The iCalendar feed of upcoming events (RFC 5545)."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from cms.api.calendar import escape, fold

pytestmark = pytest.mark.django_db


def _unfold(text):
    return text.replace("\r\n ", "")


def test_feed_lists_upcoming_events_only(seeded, client):
    response = client.get("/api/events.ics")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["ETag"]
    text = response.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
    assert text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert text.count("BEGIN:VEVENT") == 1
    launch = seeded["events"][3]
    unfolded = _unfold(text)
    assert f"UID:event-{launch.pk}@cms.example.org" in unfolded
    start = launch.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTART:{start}\r\n" in unfolded
    assert "DTEND:" in unfolded and "DTSTAMP:" in unfolded
    assert "URL:https://www.example.org/events/virtual-learning-environment-launch/" in unfolded
    assert "SUMMARY:Launch of the PENELOPE video toolkit and Virtual Learning Environment" in (
        unfolded
    )


def test_lines_are_folded_at_75_octets_and_text_escaped(seeded, client):
    event = seeded["events"][0]
    event.title = "Päivi’s talk; gender, clusters & SMEs — " + "é" * 60
    event.summary = "Line one\nLine two, with a comma; and a backslash \\"
    event.start = timezone.now() + timedelta(days=3)
    event.end = None
    event.save_revision().publish()

    text = client.get("/api/events.ics").content.decode()

    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75, line
    unfolded = _unfold(text)
    assert "SUMMARY:Päivi’s talk\\; gender\\, clusters & SMEs — " + "é" * 60 in unfolded
    assert "DESCRIPTION:Line one\\nLine two\\, with a comma\\; and a backslash \\\\" in unfolded
    vevent = unfolded.split(f"UID:event-{event.pk}@")[1].split("END:VEVENT")[0]
    assert "DTEND" not in vevent


def test_fold_never_splits_a_character():
    line = "SUMMARY:" + "€" * 40
    folded = fold(line)
    assert folded.replace("\r\n ", "") == line
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


def test_unpublished_and_private_events_stay_out(seeded, client):
    from wagtail.models import PageViewRestriction

    launch = seeded["events"][3]
    PageViewRestriction.objects.create(
        page=launch, restriction_type=PageViewRestriction.PASSWORD, password="x"
    )
    assert "BEGIN:VEVENT" not in client.get("/api/events.ics").content.decode()
