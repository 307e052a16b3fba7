"""Click-tracking redirect benchmark: /t/<token>/ beside a bare 302 from the same gunicorn.

    python bench/track.py [--seconds 4] [--concurrency 8] [--workers 2] [--redis URL]

Builds a throw-away SQLite database with the demo issue sent to 2,000 recipients (the
ledger and its links, as `campaigns.start` makes them), then serves it with gunicorn
on loopback and fires a burst of concurrent clicks, each with another reader's token,
beside a view that only answers 302 (the floor of a Django response on this server).
Prints requests/s, p50 and p95 of each and the ratio (goal: at least 0.7), then stores
what was queued and checks that every click reached the database.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import _free_port  # noqa: E402


def __getattr__(name):
    """`bench.track.urlpatterns` (ROOT_URLCONF) and `bench.track:application` (gunicorn)."""
    if name == "urlpatterns":
        from django.http import HttpResponseRedirect
        from django.urls import include, path

        def static_302(request):
            return HttpResponseRedirect("https://www.example.org/")

        return [path("static302/", static_302), path("", include("mailing.urls"))]
    if name == "application":
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()
        settings.ROOT_URLCONF = "bench.track"
        return application
    raise AttributeError(name)


def load(port, paths, seconds, concurrency):
    """Closed-loop load, keep-alive connections, each request the next path; (req/s, p50
    ms, p95 ms, requests)."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    cycle = itertools.cycle(paths)

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while time.perf_counter() < deadline:
            with lock:
                target = next(cycle)
            t = time.perf_counter()
            conn.request("GET", target)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - t)
            if response.status != 302:
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
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000
    return len(latencies) / elapsed, statistics.median(latencies) * 1000, p95, len(latencies)


def build(recipients: int) -> list[str]:
    """The demo issue, started for ``recipients`` readers; click paths for all of them."""
    from django.core.management import call_command

    from mailing import campaigns, links
    from mailing.models import Delivery, MailingList, Subscriber, Subscription
    from newsletters.models import NewsletterPage

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    news = MailingList.objects.get(slug="newsletter")
    Subscriber.objects.bulk_create(
        Subscriber(email=f"reader{i}@example.net", email_hash=f"bench{i:060d}")
        for i in range(recipients)
    )
    Subscription.objects.bulk_create(
        Subscription(subscriber=s, mailing_list=news, status=Subscription.Status.CONFIRMED)
        for s in Subscriber.objects.filter(email__startswith="reader")
    )
    campaign = campaigns.create(NewsletterPage.objects.live().first(), [news])
    campaigns.schedule(campaign)
    assert campaigns.start(campaign.pk)
    link_ids = list(campaign.links.values_list("pk", flat=True))
    deliveries = Delivery.objects.filter(campaign=campaign).values_list("pk", flat=True)
    return [
        f"/t/{links.click_token(d, link)}/"
        for d, link in zip(deliveries, itertools.cycle(link_ids), strict=False)
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--redis", default="", help="queue clicks in Redis (REDIS_URL)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-track-"))
    port = _free_port()
    env = {
        "DJANGO_SETTINGS_MODULE": "penelope.settings",
        "SECRET_KEY": "bench-only-secret",
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "VAR_DIR": str(tmp),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "FRONTEND_URL": "https://www.example.org",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": args.redis,
        # Store only when the benchmark asks: measure the redirect, not the flush.
        "TRACKING_FLUSH_EVERY": "100000000",
    }
    os.environ.update(env)
    (tmp / "static").mkdir()
    os.chdir(ROOT)
    server = None
    try:
        import django

        django.setup()
        from mailing import hits
        from mailing.models import Engagement

        if args.redis:
            hits.queue().redis.delete(hits.REDIS_QUEUE, hits.REDIS_WORK, hits.REDIS_LOCK)
        started = time.perf_counter()
        clicks = build(args.recipients)
        print(
            f"database: demo issue, {len(clicks)} readers, in {time.perf_counter() - started:.1f}s"
        )
        server = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gunicorn",
                "bench.track:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            env={**os.environ, **env},
            cwd=ROOT,
        )
        _wait_for_302(port)
        print(
            f"server: gunicorn, {args.workers} sync workers; client: {args.concurrency} "
            f"concurrent keep-alive connections, {args.seconds:.0f}s per row, twice, "
            f"alternating; queue: {'Redis' if args.redis else 'spool files'}; "
            f"{os.cpu_count()} CPUs shared with the client"
        )
        load(port, clicks[:200], 0.5, args.concurrency)  # every worker learns the links
        load(port, ["/static302/"], 0.5, args.concurrency)
        results = {"static 302": [], "click redirect": []}
        recorded = 0
        for _round in range(2):
            results["static 302"].append(
                load(port, ["/static302/"], args.seconds, args.concurrency)
            )
            row = load(port, clicks, args.seconds, args.concurrency)
            results["click redirect"].append(row)
            recorded += row[3]
        print()
        print(f"{'endpoint':16} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'requests':>9}")
        summary = {}
        for name, rows in results.items():
            rps = statistics.mean(r[0] for r in rows)
            p50 = statistics.mean(r[1] for r in rows)
            p95 = statistics.mean(r[2] for r in rows)
            summary[name] = rps
            print(f"{name:16} {rps:8.1f} {p50:7.2f} {p95:7.2f} {sum(r[3] for r in rows):9d}")
        ratio = summary["click redirect"] / summary["static 302"]
        print(f"\nratio click redirect / static 302: {ratio:.2f} (goal ≥ 0.70)")
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        server = None
        started = time.perf_counter()
        stored = hits.flush()
        elapsed = time.perf_counter() - started
        total = Engagement.objects.filter(kind=Engagement.Kind.CLICK).count()
        rate = stored / max(elapsed, 1e-9)
        verdict = "none lost" if total >= recorded else "CLICKS LOST"
        print(
            f"flush: {stored} clicks stored in {elapsed:.2f}s ({rate:.0f}/s); in the database: "
            f"{total} (measured {recorded} + warm-up): {verdict}"
        )
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_for_302(port, timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/static302/")
            if conn.getresponse().status == 302:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


if __name__ == "__main__":
    main()
