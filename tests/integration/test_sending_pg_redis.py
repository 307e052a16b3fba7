"""Scale-out: several qcluster processes on PostgreSQL + Redis share one campaign.

Runs when `.ci/run` (or you) exports INTEGRATION_PG_URL and
INTEGRATION_REDIS_URL_AVAILABLE; each run gets its own database and Redis db number,
so other runs on the same servers are left alone.
"""

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.mailing.workers import (
    Cluster,
    base_env,
    campaign_status,
    prepare_database,
    send_newsletter,
    wait_for,
)
from tests.smtp import SmtpSink

PG_URL = os.environ.get("INTEGRATION_PG_URL") or os.environ.get("INTEGRATION_DATABASE_URL")
REDIS_URL = os.environ.get("INTEGRATION_REDIS_URL_AVAILABLE") or os.environ.get(
    "INTEGRATION_REDIS_URL"
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (PG_URL and REDIS_URL),
        reason="needs INTEGRATION_PG_URL and INTEGRATION_REDIS_URL_AVAILABLE (see .ci/run)",
    ),
]

SUBSCRIBERS = 400
TOTAL = SUBSCRIBERS + 8


def with_path(url, path):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=path))


@pytest.fixture
def pg_database():
    import psycopg

    name = f"cms_sending_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield with_path(PG_URL, f"/{name}")
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_database():
    import redis

    for db in range(15, 0, -1):
        url = with_path(REDIS_URL, f"/{db}")
        client = redis.Redis.from_url(url)
        if client.dbsize() == 0:
            yield url
            client.flushdb()
            return
    pytest.skip("no empty Redis database to use")


class PgProbe:
    def __init__(self, url):
        self.url = url

    def campaign(self, campaign_id):
        import psycopg

        with psycopg.connect(self.url) as db:
            row = db.execute(
                "SELECT status FROM mailing_campaign WHERE id=%s", (campaign_id,)
            ).fetchone()
        return row[0]


def test_clusters_share_a_campaign_and_survive_a_sigkill(pg_database, redis_database, tmp_path):
    sink = SmtpSink()
    smtp = sink.start()
    env = base_env(
        pg_database,
        sink.port,
        REDIS_URL=redis_database,
        Q_WORKERS=2,
        SENDING_CHUNK_SIZE=25,
        SENDING_LEASE_SECONDS=4,
    )
    prepare_database(env, SUBSCRIBERS)
    clusters = []
    try:
        smtp.delay = 0.01
        first = Cluster(env, tmp_path / "a.log").start()
        clusters += [first, Cluster(env, tmp_path / "b.log").start()]
        created = send_newsletter(env, "--list", "newsletter")
        assert created["recipients"] == TOTAL
        wait_for(lambda: smtp.total >= 100, timeout=90, message="sending to start")
        first.kill()
        assert smtp.total < TOTAL, "the campaign finished before the kill"
        clusters.append(Cluster(env, tmp_path / "a2.log").start())
        probe = PgProbe(pg_database)
        wait_for(lambda: probe.campaign(created["campaign"]) == "sent", timeout=150)
    finally:
        for cluster in clusters:
            cluster.stop()
        sink.stop()

    assert len(smtp.counts) == TOTAL  # nobody left unmailed
    duplicates = sum(count - 1 for count in smtp.counts.values())
    assert duplicates <= 2  # at most one per connection of the killed cluster (2 workers)
    status = campaign_status(env, created["campaign"])
    assert (status["sent"], status["failed"], status["pending"]) == (TOTAL, 0, 0)
