"""Real processes for sending tests: a migrated database, `manage.py` commands, qcluster workers.

The database is built once per session (migrate + seed_demo + generated subscribers)
and copied for each test, so workers in other processes share it with the test.
"""

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CREATE_SUBSCRIBERS = """
from django.utils import timezone
from mailing.models import MailingList, Subscriber, Subscription, email_hash
ml = MailingList.objects.get(slug="newsletter")
n = {n}
emails = [f"reader{{i:06d}}@example.net" for i in range(n)]
subs = Subscriber.objects.bulk_create(
    Subscriber(email=e, email_hash=email_hash(e), name=f"Reader {{i}}")
    for i, e in enumerate(emails))
Subscription.objects.bulk_create(
    Subscription(subscriber=s, mailing_list=ml, status="confirmed", confirmed_at=timezone.now())
    for s in subs)
"""


def base_env(database_url, smtp_port=None, **extra):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "EMAIL_", "SENDING_", "Q_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="penelope.settings",
        DATABASE_URL=database_url,
        SECRET_KEY="tests-only-secret-key",
        SITE_URL="https://cms.example.org",
        ALLOWED_HOSTS="*",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    if smtp_port:
        env["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    env.update({key: str(value) for key, value in extra.items()})
    return env


def manage(env, *args, check=True, timeout=300):
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result


def prepare_database(env, subscribers):
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    if subscribers:
        manage(env, "shell", "--no-imports", "-c", CREATE_SUBSCRIBERS.format(n=subscribers))


class Cluster:
    """A `manage.py qcluster` in its own process group, so SIGKILL takes all its processes."""

    def __init__(self, env, log_path):
        self.env, self.log_path = env, log_path
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self):
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, grace=3):
        """SIGTERM, then SIGKILL for whatever of the group is left after ``grace`` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        self.kill()


class SqliteProbe:
    """Reads the shared SQLite file directly (no Django in the test for that database)."""

    def __init__(self, path):
        self.path = path

    def query(self, sql, params=()):
        with sqlite3.connect(self.path, timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def campaign(self, campaign_id):
        return self.query("SELECT status FROM mailing_campaign WHERE id=?", (campaign_id,))[0][0]


def wait_for(predicate, timeout=120, interval=0.25, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def send_newsletter(env, *args):
    result = manage(env, "send_newsletter", "newsletter-3", *args, "--json")
    return json.loads(result.stdout.strip().splitlines()[-1])


def campaign_status(env, campaign_id):
    result = manage(env, "campaign_status", str(campaign_id), "--json")
    return json.loads(result.stdout.strip().splitlines()[-1])


def copy_database(template, target):
    shutil.copyfile(template, target)
    return target
