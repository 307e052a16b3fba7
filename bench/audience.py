"""Benchmark: segments, recipient materialisation and the subscriber listing at scale.

    python bench/audience.py [--n 1000000] [--keep]
    DATABASE_URL=postgres://cms:cms@127.0.0.1:5432/cms_segments_bench python bench/audience.py

Loads N subscribers across 3 lists (COPY on PostgreSQL, executemany on SQLite; the
database is migrated and emptied first; without DATABASE_URL a throw-away SQLite file),
then prints, each with its SQL query count and its ratio to a baseline measured in the
same run:

- a segment's live count (the admin's count endpoint, through its view), for a profile
  segment (list + status + language + attribute) and an engagement segment (opened in
  the last 3 campaigns); baseline: counting every active subscriber;
- a campaign's recipient materialisation (INSERT … SELECT of the ledger) to the 3 lists
  narrowed by the profile segment, and to the 3 whole lists (baseline);
- the admin subscriber listing's first page (50 rows, paginator count included), and
  the same page filtered on one list.

Goals on PostgreSQL: count < 1 s, materialisation < 60 s, listing < 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOALS = {"count": 1.0, "materialise": 60.0, "listing": 0.3}
LANGUAGES = ["en", "fr", "de", "it", "es", "ro", "fi"]
COUNTRIES = ["IT", "FR", "RO", "FI", "BE", "AT", "DE", "ES", ""]
SECTORS = ["textile", "automotive", "digital", "agrifood", "health"]
TOPICS = [[], [], ["digitalisation"], ["gender"], ["digitalisation", "gender"], ["events"]]


def setup(database_url: str):
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "penelope.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def timed(fn, *args, repeat=1, **kwargs):
    """(best seconds, queries of the last run, result); ``SQL_SECONDS`` gets the time the
    database took in the best run (the rest is Python: forms, templates)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    best, result, queries = float("inf"), None, 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = fn(*args, **kwargs)
            took = time.perf_counter() - started
        if took < best:
            best = took
            SQL_SECONDS[0] = sum(float(q["time"]) for q in captured.captured_queries)
        queries = len(captured)
    return best, queries, result


SQL_SECONDS = [0.0]


def subscriber_rows(n: int, now):
    rng = random.Random(14)
    for i in range(1, n + 1):
        email = f"reader{i}@example.org"
        attributes = {"sector": SECTORS[i % len(SECTORS)]}
        if i % 7 == 0:
            attributes["size"] = str(rng.randint(1, 500))
        yield (
            i,
            email,
            "",
            hashlib.sha256(email.encode()).hexdigest(),
            f"Reader {i}",
            LANGUAGES[i % len(LANGUAGES)],
            "active" if i % 50 else "blocklisted",
            json.dumps(attributes),
            COUNTRIES[i % len(COUNTRIES)],
            json.dumps(TOPICS[i % len(TOPICS)]),
            now - dt.timedelta(minutes=i),
            now,
            f"reader{i}@example.org reader {i}",
        )


def subscription_rows(n: int, list_ids, now):
    """Each subscriber on one list, every fifth on a second; a few pending or left."""
    pk = 0
    for i in range(1, n + 1):
        lists = [list_ids[i % 3]] + ([list_ids[(i + 1) % 3]] if i % 5 == 0 else [])
        for list_id in lists:
            pk += 1
            status = "pending" if i % 23 == 0 else "unsubscribed" if i % 31 == 0 else "confirmed"
            created = now - dt.timedelta(days=i % 700)
            yield (pk, i, list_id, status, created, None if status == "pending" else created)


SUBSCRIBER_COLUMNS = (
    "id, email, email_as_typed, email_hash, name, language, status, attributes, country,"
    " topics, created_at, updated_at, search_text"
)
SUBSCRIPTION_COLUMNS = "id, subscriber_id, mailing_list_id, status, created_at, confirmed_at"


def bulk_insert(table: str, columns: str, rows, *, fixed: dict | None = None):
    """COPY on PostgreSQL, executemany in one transaction elsewhere."""
    from django.db import connection, transaction

    fixed = fixed or {}
    names = columns + "".join(f", {name}" for name in fixed)
    extra = tuple(fixed.values())
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row + extra)
        return
    marks = ", ".join(["%s"] * (names.count(",") + 1))
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
    batch = []
    with transaction.atomic(), connection.cursor() as cursor:
        for row in rows:
            batch.append(row + extra)
            if len(batch) == 20000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


def reset_sequences():
    from django.core.management.color import no_style
    from django.db import connection

    from mailing.models import Delivery, DeliveryEvent, Subscriber, Subscription

    sql = connection.ops.sequence_reset_sql(
        no_style(), [Subscriber, Subscription, Delivery, DeliveryEvent]
    )
    with connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)


def load(n: int):
    from django.db import connection
    from django.utils import timezone
    from wagtail.models import Page

    from mailing.models import Campaign, MailingList, Segment, Subscriber
    from newsletters.models import NewsletterIndexPage, NewsletterPage

    now = timezone.now()
    Campaign.objects.all().delete()
    Segment.objects.all().delete()
    Subscriber.objects.all().delete()
    MailingList.objects.all().delete()
    lists = [
        MailingList.objects.create(name=name, slug=slug)
        for name, slug in (("Newsletter", "news"), ("Events", "events"), ("Partners", "partners"))
    ]
    started = time.perf_counter()
    bulk_insert("mailing_subscriber", SUBSCRIBER_COLUMNS, subscriber_rows(n, now))
    bulk_insert(
        "mailing_subscription",
        SUBSCRIPTION_COLUMNS,
        subscription_rows(n, [ml.pk for ml in lists], now),
        fixed={"source": "bench", "consent_text": ""},
    )
    load_seconds = time.perf_counter() - started
    index = NewsletterIndexPage.objects.first()
    if index is None:
        index = Page.get_first_root_node().add_child(
            instance=NewsletterIndexPage(title="Newsletter", slug="newsletter-bench")
        )
    page = NewsletterPage.objects.filter(slug="bench-issue").first()
    if page is None:
        page = NewsletterPage(title="Bench", slug="bench-issue", issue_number=9000, subject="B")
        index.add_child(instance=page)
    # Three earlier campaigns, each to a tenth of the audience, a fifth of them opening.
    campaigns = []
    for k in range(3):
        campaigns.append(
            Campaign.objects.create(
                page=page,
                status=Campaign.Status.SENT,
                started_at=now - dt.timedelta(days=30 * (3 - k)),
            )
        )
    delivery_rows = (
        (c_index * n + i, campaign.pk, i, "sent")
        for c_index, campaign in enumerate(campaigns)
        for i in range(1 + c_index, n + 1, 10)
    )
    bulk_insert(
        "mailing_delivery",
        "id, campaign_id, subscriber_id, status",
        delivery_rows,
        fixed={"lease_owner": "", "attempts": 0, "provider_message_id": "", "error": ""},
    )
    event_rows = (
        (c_index * n + i, c_index * n + i, "opened", now)
        for c_index in range(3)
        for i in range(1 + c_index, n + 1, 50)
    )
    bulk_insert(
        "mailing_deliveryevent",
        "id, delivery_id, kind, occurred_at",
        event_rows,
        fixed={"esp_event_id": "", "detail": "", "raw": "{}"},
    )
    reset_sequences()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum would, after a bulk load
    return lists, page, load_seconds


def bench(n: int):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from mailing import campaigns, segments
    from mailing.models import Campaign, Segment, Subscriber
    from mailing.sending import ledger

    lists, page, load_seconds = load(n)
    print(f"database: {connection.vendor}; {n:,} subscribers across 3 lists")
    print(f"loaded in {load_seconds:.1f} s")
    profile = Segment.objects.create(
        name="Textile, French or Italian, confirmed on the newsletter",
        slug="bench-profile",
        conditions=[
            {"type": "subscription", "value": {"mailing_list": "news", "status": "confirmed"}},
            {"type": "language", "value": {"languages": ["fr", "it"]}},
            {
                "type": "attribute",
                "value": {"name": "sector", "operator": "equals", "value": "textile"},
            },
        ],
    )
    engaged = Segment.objects.create(
        name="Opened in the last 3 campaigns",
        slug="bench-engaged",
        conditions=[{"type": "engagement", "value": {"kind": "opened", "campaigns": 3}}],
    )
    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench", "bench@example.org", "pw")
    client = Client()
    client.force_login(user)
    rows = []

    def row(name, seconds, queries, goal=None, baseline=None, note=""):
        rows.append((name, seconds, SQL_SECONDS[0], queries, goal, baseline, note))

    base_s, base_q, everyone = timed(
        lambda: Subscriber.objects.filter(status=Subscriber.Status.ACTIVE).count(), repeat=3
    )
    row("count: all active (baseline)", base_s, base_q, note=f"{everyone:,}")
    for segment in (profile, engaged):
        seconds, queries, found = timed(segments.count, segment, repeat=3)
        row(f"count: {segment.slug}", seconds, queries, "count", base_s, f"{found:,}")

    def admin_count(segment):
        data = {"match": segment.match, "conditions-count": str(len(segment.conditions))}
        for i, child in enumerate(segment.conditions):
            data[f"conditions-{i}-type"] = child.block_type
            data[f"conditions-{i}-deleted"] = ""
            data[f"conditions-{i}-order"] = str(i)
            for key, value in child.block.get_form_state(child.value).items():
                data[f"conditions-{i}-value-{key}"] = value if value is not None else ""
        response = client.post("/admin/mailing/segments/count/", data)
        assert response.status_code == 200, response.content
        return response.json()["count"]

    seconds, queries, found = timed(admin_count, profile, repeat=3)
    row("count endpoint (admin): bench-profile", seconds, queries, "count", base_s, f"{found:,}")

    def materialise(segment):
        campaign = Campaign.objects.create(page=page, status=Campaign.Status.SENDING)
        made = ledger.materialise(campaign, campaigns.recipients(lists, segment=segment))
        cleanup.append(campaign)
        return made

    def clean():
        for campaign in cleanup:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM mailing_delivery WHERE campaign_id = %s", [campaign.pk])
            campaign.delete()
        cleanup.clear()

    cleanup = []
    base_m, base_mq, whole = timed(materialise, None)
    clean()
    row(
        "materialise: 3 whole lists (baseline)",
        base_m,
        base_mq,
        "materialise",
        None,
        f"{whole:,} rows",
    )
    seconds, queries, made = timed(materialise, profile)
    clean()
    row(
        "materialise: 3 lists + bench-profile",
        seconds,
        queries,
        "materialise",
        base_m,
        f"{made:,} rows",
    )

    def listing(query=""):
        response = client.get(f"/admin/snippets/mailing/subscriber/{query}")
        assert response.status_code == 200, response.status_code
        return len(response.content)

    client.get("/admin/snippets/mailing/subscriber/")  # templates and caches warm
    base_l, base_lq, _size = timed(listing, repeat=3)
    row("listing: first page", base_l, base_lq, "listing")
    seconds, queries, _size = timed(listing, f"?mailing_list={lists[0].pk}", repeat=3)
    row("listing: first page, one list", seconds, queries, "listing", base_l)
    seconds, queries, _size = timed(listing, "?q=reader12345", repeat=3)
    row("listing: search", seconds, queries, "listing", base_l)

    print(
        f"{'measure':42} {'seconds':>8} {'of SQL':>7} {'queries':>7} {'vs base':>8}"
        f" {'goal':>10}  note"
    )
    for name, seconds, sql, queries, goal, baseline, note in rows:
        ratio = f"{seconds / baseline:.2f}x" if baseline else "-"
        target = ""
        if goal and connection.vendor == "postgresql":
            limit = GOALS[goal]
            target = f"{'ok' if seconds < limit else 'MISSED'} <{limit:g}"
        print(f"{name:42} {seconds:8.3f} {sql:7.3f} {queries:7} {ratio:>8} {target:>10}  {note}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    tmp = None
    if not url:
        tmp = tempfile.TemporaryDirectory(prefix="bench-audience-")
        url = f"sqlite:///{tmp.name}/db.sqlite3"
    setup(url)
    bench(args.n)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
