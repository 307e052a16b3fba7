"""Publish webhooks: signed JSON events to the front ends, retried with backoff."""

import json
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule

from cms.api import webhooks
from cms.api.models import WebhookDelivery

pytestmark = pytest.mark.django_db

SECRET = "front-end-shared-secret"


class Receiver:
    """A real HTTP endpoint on loopback answering with the next status of `statuses`."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"boom")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/revalidate"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks(settings, monkeypatch):
    """Webhooks on, and django-q2 running tasks inline as a worker would."""
    settings.CONTENT_WEBHOOK_SECRET = SECRET
    settings.CONTENT_WEBHOOK_BACKOFF = 30
    settings.CONTENT_WEBHOOK_MAX_ATTEMPTS = 3
    monkeypatch.setattr(Conf, "SYNC", True)

    def point_at(*urls):
        settings.CONTENT_WEBHOOK_URLS = list(urls)

    return point_at


def _run_due_schedules():
    """What the django-q2 scheduler does when a retry falls due."""
    from django_q.brokers import get_broker
    from django_q.scheduler import scheduler

    Schedule.objects.update(next_run=timezone.now() - timedelta(seconds=1))
    scheduler(broker=get_broker())


def test_publish_posts_a_signed_event_and_retries_after_a_500(
    seeded, hooks, django_capture_on_commit_callbacks
):
    page = seeded["interviews"][0]
    with Receiver([500, 200]) as receiver:
        hooks(receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            page.save_revision().publish()

        assert len(receiver.requests) == 1
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == WebhookDelivery.Status.RETRYING
        assert delivery.attempts == 1
        assert delivery.last_status_code == 500
        assert "boom" in delivery.last_error
        retry = Schedule.objects.get(func="cms.api.tasks.deliver_webhook")
        assert timedelta(seconds=25) < retry.next_run - timezone.now() <= timedelta(seconds=30)

        _run_due_schedules()

        assert len(receiver.requests) == 2
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 2
    for headers, body in receiver.requests:
        assert webhooks.verify(body, headers["X-Content-Signature"], SECRET)
        assert not webhooks.verify(body, headers["X-Content-Signature"], "wrong secret")
        assert headers["X-Content-Event"] == "page.published"
        event = json.loads(body)
        assert event["event"] == "page.published"
        assert event["change"] == "published"
        assert event["id"] == page.pk
        assert event["type"] == "interviews.InterviewPage"
        assert event["url_path"] == "/interviews/massimiliano-rumignani/"
        assert event["html_url"] == "https://www.example.org/interviews/massimiliano-rumignani/"


def test_each_kind_of_change_is_told(seeded, hooks, django_capture_on_commit_callbacks):
    interview, other_index = seeded["interviews"][0], seeded["handbook"].get_parent()
    event = seeded["events"][0]
    with Receiver([]) as receiver:
        hooks(receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            seeded["interviews"][1].unpublish()
        with django_capture_on_commit_callbacks(execute=True):
            interview.delete()
        with django_capture_on_commit_callbacks(execute=True):
            event.move(other_index, pos="last-child")
    events = [json.loads(body) for _, body in receiver.requests]
    assert [e["change"] for e in events] == ["unpublished", "deleted", "moved"]
    assert events[1]["id"] == interview.pk
    assert events[1]["url_path"] == "/interviews/massimiliano-rumignani/"
    assert events[2]["old_url_path"] == "/events/eu-clusters-talks-gender-equality-2024/"
    assert events[2]["url_path"] == "/good-practices/eu-clusters-talks-gender-equality-2024/"


def test_gives_up_after_the_last_attempt_and_logs_it(seeded, hooks, caplog):
    with Receiver([500, 502, 503, 200]) as receiver:
        hooks(receiver.url)
        ids = webhooks.emit({"event": "page.published", "id": 1})
        for _ in range(3):
            webhooks.deliver(ids[0])
    delivery = WebhookDelivery.objects.get(pk=ids[0])
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == 3
    assert len(receiver.requests) == 3
    failure = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "failed after 3 attempts" in failure[0].getMessage()


def test_an_unreachable_front_end_never_blocks_the_editor(
    seeded, hooks, django_capture_on_commit_callbacks
):
    hooks("http://127.0.0.1:9/nothing-listens-here")
    page = seeded["interviews"][0]
    with django_capture_on_commit_callbacks(execute=True):
        page.save_revision().publish()  # must not raise
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.RETRYING
    assert "ConnectionError" in delivery.last_error


def test_no_urls_no_deliveries(seeded, settings, django_capture_on_commit_callbacks):
    settings.CONTENT_WEBHOOK_URLS = []
    with django_capture_on_commit_callbacks(execute=True):
        seeded["interviews"][0].save_revision().publish()
    assert not WebhookDelivery.objects.exists()


def test_backoff_doubles_and_is_capped(settings):
    settings.CONTENT_WEBHOOK_BACKOFF = 30
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3, 10)] == [30, 60, 120, 3600]


def test_failed_deliveries_are_listed_in_the_admin(seeded, editor_client):
    WebhookDelivery.objects.create(
        url="https://www.example.org/api/revalidate",
        event="page.published",
        payload={"id": 1},
        status=WebhookDelivery.Status.FAILED,
        attempts=6,
        last_error="HTTP 500: boom",
    )
    response = editor_client.get("/admin/webhook_deliveries/?status=failed")
    assert response.status_code == 200
    assert "https://www.example.org/api/revalidate" in response.content.decode()
    delivery = WebhookDelivery.objects.get()
    inspect = editor_client.get(f"/admin/webhook_deliveries/inspect/{delivery.pk}/")
    assert "HTTP 500: boom" in inspect.content.decode()
