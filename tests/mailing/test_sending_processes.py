"""Campaigns sent by real `qcluster` processes to a real SMTP server on loopback.

Workers and the test share a SQLite file built once per session; the ORM broker
carries the tasks (tests/integration/ runs the same with PostgreSQL and Redis).
"""

from datetime import UTC, datetime, timedelta

import pytest

from tests.mailing.workers import (
    Cluster,
    SqliteProbe,
    base_env,
    campaign_status,
    copy_database,
    manage,
    prepare_database,
    send_newsletter,
    wait_for,
)
from tests.smtp import SmtpSink

SUBSCRIBERS = 300  # generated, on top of the 4 demo subscribers
TOTAL = SUBSCRIBERS + 8
WORKER_SETTINGS = {
    "Q_WORKERS": 2,
    "SENDING_CHUNK_SIZE": 25,
    "SENDING_LEASE_SECONDS": 4,
    "SENDING_RETRY_SECONDS": 1,
}


@pytest.fixture(scope="session")
def sending_template_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("sending-db") / "template.sqlite3"
    prepare_database(base_env(f"sqlite:///{path}"), SUBSCRIBERS)
    return path


@pytest.fixture
def sending_world(sending_template_db, tmp_path):
    db = copy_database(sending_template_db, tmp_path / "db.sqlite3")
    sink = SmtpSink()
    recorder = sink.start()
    clusters = []

    class World:
        probe = SqliteProbe(db)
        env = base_env(f"sqlite:///{db}", sink.port, **WORKER_SETTINGS)
        smtp = recorder

        def cluster(self, **extra):
            env = {**self.env, **{k: str(v) for k, v in extra.items()}}
            cluster = Cluster(env, tmp_path / f"qcluster-{len(clusters)}.log").start()
            clusters.append(cluster)
            return cluster

        def wait_sent(self, campaign_id, timeout=150):
            return wait_for(
                lambda: self.probe.campaign(campaign_id) == "sent",
                timeout=timeout,
                message=f"campaign {campaign_id} to be sent",
            )

        def dispatcher_runs(self):
            return self.probe.query(
                "SELECT count(*) FROM django_q_task WHERE name LIKE 'mailing-dispatch%'"
            )[0][0]

        def wait_dispatched(self, runs, timeout=60):
            """How many dispatcher runs finished, once at least ``runs`` did."""
            wait_for(
                lambda: self.dispatcher_runs() >= runs,
                timeout=timeout,
                message=f"{runs} dispatcher run(s)",
            )
            return self.dispatcher_runs()

    yield World()
    for cluster in clusters:
        cluster.stop()
    sink.stop()


def test_a_worker_sends_a_campaign_to_every_recipient_once(sending_world):
    world = sending_world
    world.cluster()
    created = send_newsletter(world.env, "--list", "newsletter")
    assert created["recipients"] == TOTAL
    world.wait_sent(created["campaign"])

    assert len(world.smtp.counts) == TOTAL
    assert set(world.smtp.counts.values()) == {1}
    status = campaign_status(world.env, created["campaign"])
    assert status["status"] == "sent"
    assert (status["recipients"], status["sent"], status["failed"], status["pending"]) == (
        TOTAL,
        TOTAL,
        0,
        0,
    )
    assert status["started_at"] and status["finished_at"]
    _, message = world.smtp.parsed()[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://cms.example.org/subscriptions/")


def test_two_clusters_never_mail_anyone_twice(sending_world):
    world = sending_world
    world.smtp.delay = 0.002
    world.cluster()
    world.cluster()
    created = send_newsletter(world.env, "--list", "newsletter")
    world.wait_sent(created["campaign"])
    assert len(world.smtp.counts) == TOTAL
    assert set(world.smtp.counts.values()) == {1}


def test_killed_worker_loses_nobody_and_repeats_at_most_one_per_connection(sending_world):
    world = sending_world
    world.smtp.delay = 0.02  # about 50 messages/s a connection: time to kill mid-campaign
    first = world.cluster()
    created = send_newsletter(world.env, "--list", "newsletter")
    wait_for(lambda: world.smtp.total >= 60, timeout=90, message="sending to start")
    first.kill()
    before = world.smtp.total
    assert before < TOTAL, "the campaign finished before the kill"
    world.smtp.delay = 0.0
    world.cluster()
    world.wait_sent(created["campaign"])

    assert len(world.smtp.counts) == TOTAL  # nobody left unmailed
    duplicates = sum(count - 1 for count in world.smtp.counts.values())
    assert duplicates <= WORKER_SETTINGS["Q_WORKERS"]  # one SMTP connection per worker


def test_scheduled_campaign_waits_for_its_time_then_goes(sending_world):
    world = sending_world
    world.cluster()
    dispatched = world.wait_dispatched(1)  # the run a worker does when it starts
    # Far enough ahead that no machine is slow enough to reach it during the test.
    at = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    created = send_newsletter(world.env, "--list", "newsletter", "--at", at)
    # Scheduling enqueued the dispatcher at once: once it has run, the campaign is untouched.
    world.wait_dispatched(dispatched + 1)
    assert world.smtp.total == 0
    assert world.probe.campaign(created["campaign"]) == "scheduled"
    # Its time comes (moved instead of waited for), then the every-minute schedule's work.
    world.probe.query(
        "UPDATE mailing_campaign SET send_at=? WHERE id=?",
        (datetime.now(UTC).replace(tzinfo=None).isoformat(" "), created["campaign"]),
    )
    manage(
        world.env, "shell", "--no-imports", "-c", "from mailing.tasks import dispatch; dispatch()"
    )
    world.wait_sent(created["campaign"])
    assert len(world.smtp.counts) == TOTAL
