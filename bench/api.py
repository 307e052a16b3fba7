"""Content API benchmark: our /api/v2/ beside Wagtail's stock v2 endpoint, same data, same run.

    python bench/api.py [--pages 2000] [--seconds 4] [--concurrency 4] [--dir DIR]

`--dir` keeps the database there and reuses it on the next run (building it takes
minutes on a busy machine).

Builds a throw-away SQLite database (2,000 content pages: interviews, good practices,
events, each with organisation, tags, image, StreamField body with rich-text page and
document links), serves it with gunicorn on loopback and measures, per listing of 20
items with all fields: requests/s, p50/p95 latency, and the SQL queries per request.

The stock endpoint is Wagtail's own `PagesAPIViewSet`, mounted at /api/stock/ by this
module's URLconf, with `api_fields` declared the way Wagtail's documentation shows
(nested organisation serializer, image rendition field, tags, body), so that
`fields=*` returns comparable content.

Our endpoint keeps no response per URL: each page's JSON is a fragment cached by page,
revision and state (cms/api/fragments.py), and a listing is one query for its ids plus
one read of its fragments; that query's SQL is compiled once per shape of request and
process, and run with each request's clock (cms/api/compiled.py); its total is counted
once per set of filters and state of the content (a new `_` does not change the
filters, so the cold runs below reuse it, as a front end paging through a listing
does). It is measured:

- cold: a unique `_` parameter per request, so no two requests share a URL (nor an
  ETag): every answer is assembled afresh from the fragments;
- 304: conditional requests (If-None-Match);
- right after a publish: one page of the listing is published (Wagtail's own publish,
  signals and all), then the same load runs again: that page's fragment is rebuilt
  once per server process, the 19 others are read as they were;
- in-process (no network, sequential): the cold request; the first request after the
  publish; and a request with nothing cached at all (the cache and the compiled SQL
  emptied before each), which builds every fragment and query and shows the work they save.

The ratio column is our cold req/s over the stock endpoint's, in the same run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LISTINGS = [
    (
        "interviews",
        "/api/v2/pages/?type=interviews.InterviewPage&limit=20",
        "/api/stock/pages/?type=interviews.InterviewPage&fields=*&limit=20",
    ),
    (
        "good practices",
        "/api/v2/pages/?type=cms.GoodPracticePage&limit=20",
        "/api/stock/pages/?type=cms.GoodPracticePage&fields=*&limit=20",
    ),
    (
        "events by start",
        "/api/v2/pages/?type=cms.EventPage&order=start&limit=20",
        "/api/stock/pages/?type=cms.EventPage&fields=*&order=start&limit=20",
    ),
    ("all pages (mixed)", "/api/v2/pages/?limit=20", None),
]


# URLconf and WSGI entry for the server process ----------------------------------------


def __getattr__(name):
    """`bench.api.urlpatterns` (ROOT_URLCONF) and `bench.api:application` (gunicorn)."""
    if name == "urlpatterns":
        return _urlpatterns()
    if name == "application":
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()
        settings.ROOT_URLCONF = "bench.api"
        return application
    raise AttributeError(name)


def _urlpatterns():
    from django.urls import path
    from rest_framework import serializers
    from wagtail.api import APIField
    from wagtail.api.v2.router import WagtailAPIRouter
    from wagtail.api.v2.views import PagesAPIViewSet
    from wagtail.images.api.fields import ImageRenditionField

    from cms.models import EventPage, GoodPracticePage, Organisation
    from interviews.models import InterviewPage
    from penelope.urls import urlpatterns

    class OrganisationSerializer(serializers.ModelSerializer):
        country = serializers.CharField()

        class Meta:
            model = Organisation
            fields = ["id", "name", "short_name", "country", "website"]

    org = [APIField("organisation", serializer=OrganisationSerializer())]
    common = [APIField("tags"), APIField("body"), APIField("summary")]
    # The stock endpoint's own fields, declared as Wagtail's documentation shows; the
    # models' `api_fields` (what our API serves) stay untouched.
    stock_fields = {}
    stock_fields[InterviewPage] = [
        APIField("interviewee_name"),
        APIField("role"),
        APIField("pull_quote"),
        APIField("intro"),
        APIField("date"),
        APIField("portrait"),
        APIField(
            "portrait_card", serializer=ImageRenditionField("fill-640x400", source="portrait")
        ),
        APIField("tags"),
        APIField("body"),
        *org,
    ]
    stock_fields[GoodPracticePage] = [
        APIField("date"),
        APIField("cover_image"),
        APIField(
            "cover_card", serializer=ImageRenditionField("fill-640x400", source="cover_image")
        ),
        APIField("documents"),
        APIField("links"),
        *common,
        *org,
    ]
    stock_fields[EventPage] = [
        APIField("start"),
        APIField("end"),
        APIField("is_online"),
        APIField("city"),
        APIField("venue"),
        APIField("cover_image"),
        APIField(
            "cover_card", serializer=ImageRenditionField("fill-640x400", source="cover_image")
        ),
        APIField("organiser", serializer=OrganisationSerializer()),
        *common,
    ]

    class StockPagesAPIViewSet(PagesAPIViewSet):
        @classmethod
        def get_body_fields(cls, model):
            fields = stock_fields.get(model, getattr(model, "api_fields", ()))
            return cls._convert_api_fields(cls.body_fields + list(fields))

    stock = WagtailAPIRouter("wagtailapi_stock")
    stock.register_endpoint("pages", StockPagesAPIViewSet)
    return [path("api/stock/", stock.urls), *urlpatterns]


# Data --------------------------------------------------------------------------------


def _environment(tmp: Path, port: int) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "penelope.settings",
        "SECRET_KEY": "bench-only-secret",
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "VAR_DIR": str(tmp),
        "MEDIA_ROOT": str(tmp / "media"),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "FRONTEND_URL": "https://www.example.org",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "API_CACHE_TIMEOUT": "300",
    }


def build_database(n_pages: int) -> dict:
    import random
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from cms import demo
    from cms.models import (
        EventIndexPage,
        EventPage,
        GoodPracticeDocument,
        GoodPracticeIndexPage,
        GoodPracticeLink,
        GoodPracticePage,
        Organisation,
    )
    from interviews.demo import seed_interviews
    from interviews.models import InterviewIndexPage, InterviewPage

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    content = demo.seed_site()
    content.update(seed_interviews(content))
    content.update(demo.seed_content(content))
    t1 = time.perf_counter()

    rng = random.Random(6)
    orgs = list(Organisation.objects.all())
    images = [p.portrait for p in content["interviews"]] + [content["handbook"].cover_image]
    pdf = content["handbook_pdf"]
    targets = [p.pk for p in content["interviews"]]
    indexes = {
        InterviewPage: InterviewIndexPage.objects.get(),
        GoodPracticePage: GoodPracticeIndexPage.objects.get(),
        EventPage: EventIndexPage.objects.get(),
    }
    now = timezone.now()

    def body(i):
        return [
            ("heading", f"Section {i}"),
            (
                "paragraph",
                f'<p>Read <a linktype="page" id="{rng.choice(targets)}">an interview</a> and '
                f'<a linktype="document" id="{pdf.pk}">the handbook</a>. ' + "Text. " * 40 + "</p>",
            ),
            ("image", {"image": rng.choice(images), "alt_text": "", "caption": f"Figure {i}"}),
            ("quote", {"quote": "Gender equality drives innovation.", "attribution": "Someone"}),
            ("document", {"document": pdf, "label": "Download"}),
        ]

    common = {
        "live": True,
        "has_unpublished_changes": False,
        "first_published_at": now,
        "last_published_at": now,
    }
    made = {InterviewPage: [], GoodPracticePage: [], EventPage: []}
    # Generated pages skip the search and reference indexes: the bench reads listings only,
    # and indexing would triple the time it takes to build the database.
    from django.db.models.signals import post_save
    from modelsearch.signal_handlers import post_save_signal_handler
    from wagtail.signal_handlers import disable_reference_index_auto_update

    for model in made:
        post_save.disconnect(post_save_signal_handler, sender=model)
    with transaction.atomic(), disable_reference_index_auto_update():
        for i in range(n_pages):
            kind = (InterviewPage, GoodPracticePage, EventPage)[i % 3]
            org = rng.choice(orgs)
            if kind is InterviewPage:
                page = InterviewPage(
                    title=f"Interview {i}",
                    slug=f"interview-{i}",
                    interviewee_name=f"Person {i}",
                    role="Cluster manager",
                    organisation=org,
                    country=rng.choice(["IT", "FR", "RO", "FI", "AT"]),
                    portrait=rng.choice(images),
                    pull_quote="Balanced teams find more creative solutions.",
                    intro=f'<p>An <a linktype="page" id="{rng.choice(targets)}">interview</a>.</p>',
                    body=body(i)
                    + [("question_answer", {"question": "Why?", "answer": "<p>Because.</p>"})],
                    **common,
                )
            elif kind is GoodPracticePage:
                page = GoodPracticePage(
                    title=f"Good practice {i}",
                    slug=f"practice-{i}",
                    summary="A practice that works.",
                    organisation=org,
                    country=rng.choice(["IT", "FR", "RO", "FI", "AT"]),
                    cover_image=rng.choice(images),
                    body=body(i),
                    **common,
                )
            else:
                start = now + timedelta(days=rng.randint(-400, 400), hours=rng.randint(0, 23))
                page = EventPage(
                    title=f"Event {i}",
                    slug=f"event-{i}",
                    start=start,
                    end=start + timedelta(hours=2),
                    is_online=i % 2 == 0,
                    city="Brussels",
                    organiser=org,
                    cover_image=rng.choice(images),
                    summary="An event.",
                    body=body(i),
                    **common,
                )
            indexes[kind].add_child(instance=page)
            made[kind].append(page.pk)
        for model, ids in made.items():
            through = model.tags.through
            from taggit.models import Tag

            tags = [Tag.objects.get_or_create(name=n, slug=n)[0] for n in ("gender", "smes")]
            through.objects.bulk_create(
                [through(content_object_id=pk, tag=tag) for pk in ids for tag in tags]
            )
        GoodPracticeDocument.objects.bulk_create(
            [
                GoodPracticeDocument(page_id=pk, document=pdf, label="Get it", sort_order=0)
                for pk in made[GoodPracticePage]
            ]
        )
        GoodPracticeLink.objects.bulk_create(
            [
                GoodPracticeLink(page_id=pk, title="More", url="https://example.com/", sort_order=0)
                for pk in made[GoodPracticePage]
            ]
        )
    t2 = time.perf_counter()
    return {"migrate_seed_s": t1 - t0, "generate_s": t2 - t1}


def in_process(url: str, repeat: int = 5, *, empty=False) -> tuple[int, int, float]:
    """Queries, bytes and median milliseconds of `url` through Django's test client.

    Sequential and without the network, so it shows the work per request even when the
    machine is shared. Each request gets a unique `_`; `empty` empties the cache first.
    """
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cms.api import compiled

    client = Client(HTTP_HOST="127.0.0.1")
    timings = []
    for i in range(repeat):
        if empty:
            cache.clear()
            compiled.forget()  # the listing's SQL compiled anew too
        sep = "&" if "?" in url else "?"
        t = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(
                f"{url}{sep}_=inproc{i}-{time.time_ns()}" if "/api/v2/" in url else url
            )
        timings.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return len(ctx.captured_queries), len(response.content), statistics.median(timings)


def publish_first(url: str) -> int:
    """Publish (a new revision of) the first page of a listing; returns its id."""
    from django.test import Client
    from wagtail.models import Page

    item = Client(HTTP_HOST="127.0.0.1").get(url).json()["items"][0]
    page = Page.objects.get(pk=item["id"]).specific
    page.title = page.title.split(" (")[0] + f" (edited {time.strftime('%H:%M:%S')})"
    page.save_revision().publish()
    return page.pk


# Load --------------------------------------------------------------------------------


def load(port, url, seconds, concurrency, *, unique=False, headers=None):
    """Closed-loop load with keep-alive connections; returns (req/s, p50 ms, p95 ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while time.perf_counter() < deadline:
            target = url
            if unique:
                target += f"&_={next(counter)}-{threading.get_ident()}"
            t = time.perf_counter()
            conn.request("GET", target, headers=headers or {})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - t)
            if response.status not in (200, 304):
                raise RuntimeError(f"{target} → {response.status}")
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000
    return len(latencies) / elapsed, p50, p95


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port, timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v2/pages/?limit=1")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dir", type=Path, help="keep (and reuse) the database here")
    args = parser.parse_args()

    tmp = args.dir or Path(tempfile.mkdtemp(prefix="bench-api-"))
    tmp.mkdir(parents=True, exist_ok=True)
    reuse = args.dir is not None and (tmp / "bench.sqlite3").exists()
    port = _free_port()
    env = _environment(tmp, port)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    server = None
    try:
        import django

        django.setup()
        from django.conf import settings

        settings.ROOT_URLCONF = "bench.api"
        if reuse:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            timings = {"migrate_seed_s": 0.0, "generate_s": 0.0}
        else:
            timings = build_database(args.pages)
        from wagtail.models import Page

        total = Page.objects.live().count()
        print(
            f"database: {total} live pages ({args.pages} generated) in "
            f"{timings['migrate_seed_s']:.1f}s migrate+seed, {timings['generate_s']:.1f}s generate"
        )

        # Queries per request (also warms renditions, shared through the database).
        queries, empty = {}, {}
        for name, ours, stock in LISTINGS:
            in_process(ours, 1)  # the first request generates renditions
            queries[name] = (in_process(ours), in_process(stock) if stock else None)
            empty[name] = in_process(ours, 3, empty=True)

        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "bench.api:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--threads",
                "1",
                "--log-level",
                "warning",
            ],
            env={**os.environ, **env},
            cwd=ROOT,
        )
        _wait_for(port)
        print(
            f"server: gunicorn, {args.workers} sync workers on 127.0.0.1:{port}; "
            f"client: {args.concurrency} keep-alive connections, {args.seconds:.0f}s per row; "
            f"{os.cpu_count()} CPUs shared with the client (and other users of this machine)"
        )
        print()
        header = (
            f"{'listing (20 items, all fields)':26} {'endpoint':26} {'req/s':>7} {'× stock':>7} "
            f"{'p50 ms':>7} {'p95 ms':>7} {'queries':>7} {'KB':>6} {'1-req ms':>8}"
        )
        print(header)
        print("-" * len(header))
        for name, ours, stock in LISTINGS:
            (our_q, our_bytes, our_ms), stock_counts = queries[name]
            # Warm each worker's fragments and validators before measuring.
            load(port, ours, 0.5, args.concurrency, unique=True)
            conn = http.client.HTTPConnection("127.0.0.1", port)
            conn.request("GET", ours)
            response = conn.getresponse()
            response.read()
            etag = response.getheader("ETag")
            stock_row = load(port, stock, args.seconds, args.concurrency) if stock else None
            cold = load(port, ours, args.seconds, args.concurrency, unique=True)
            revalidate = load(
                port, ours, args.seconds, args.concurrency, headers={"If-None-Match": etag}
            )
            publish_first(ours)
            after_q, _bytes, after_ms = in_process(ours, 1)
            after = load(port, ours, args.seconds, args.concurrency, unique=True)
            empty_q, _bytes, empty_ms = empty[name]
            rows = [
                ("ours, cold (new URL)", cold, our_q, our_bytes, our_ms),
                ("ours, 304 revalidate", revalidate, our_q, 0, None),
                ("ours, right after publish", after, after_q, our_bytes, after_ms),
                ("ours, nothing cached", None, empty_q, our_bytes, empty_ms),
            ]
            if stock:
                rows.append(("wagtail stock v2", stock_row, *stock_counts))
            for i, (label, measured, q, size, one) in enumerate(rows):
                rps_text = p50_text = p95_text = ratio_text = ""
                if measured:
                    rps, p50, p95 = measured
                    rps_text, p50_text, p95_text = f"{rps:7.1f}", f"{p50:7.1f}", f"{p95:7.1f}"
                    if stock_row and label.startswith("ours"):
                        ratio_text = f"{rps / stock_row[0]:6.1f}×"
                one_text = f"{one:8.1f}" if one is not None else ""
                print(
                    f"{name if i == 0 else '':26} {label:26} {rps_text:>7} {ratio_text:>7} "
                    f"{p50_text:>7} {p95_text:>7} {q:7d} {size / 1024:6.1f} {one_text:>8}"
                )
                sys.stdout.flush()
        print()
        print(
            "queries: per request, counted with Django's test client against the same database;\n"
            "1-req ms: median time of one request in-process, sequential, no network ('right "
            "after publish': the first request after it);\n"
            "'nothing cached': the cache and the compiled SQL emptied before each request, "
            "every fragment built."
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if args.dir is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
