"""Benchmark: read N bounce reports from a maildir, as `process_bounces` does.

    python bench/bounces.py [--n 10000]

Builds a fresh SQLite database (or uses DATABASE_URL when given) holding one campaign
sent to N readers, writes N reports into a maildir (70% hard DSNs to the delivery's
VERP address, 15% delay warnings, 10% matched by the quoted Message-ID only, 5%
auto-replies), and prints, in one run, each in its own process:

- the baseline: reading and parsing every message and running flufl.bounce's scan on
  it (no database), the floor for any poller built on that library;
- the poller: `mailing.bounce_mailbox.process` on the same maildir (match, classify,
  suppress, record, delete);
- messages/s of each, their ratio, and each process's peak RSS (VmHWM), which must not
  grow with N.
"""

import argparse
import json
import mailbox
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.mailing.workers import base_env, manage  # noqa: E402

BOUNCE_ADDRESS = "bounces@mail.example.org"


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def dsn(recipient, to, *, action="failed", status="5.1.1", message_id=""):
    quoted = f"Message-ID: <{message_id}>\r\n" if message_id else ""
    return (
        f"Delivered-To: {to}\r\nFrom: MAILER-DAEMON@mx.example.net\r\nTo: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: User unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: newsletter@example.org\r\nTo: {recipient}\r\nSubject: News\r\n{quoted}"
        "\r\n--B--\r\n"
    ).encode()


def prepare(n: int, path: str):
    """One campaign sent to n readers and n reports about it in the maildir at ``path``."""
    import django

    django.setup()
    from django.utils import timezone
    from wagtail.models import Page

    from mailing.models import Campaign, Delivery, Subscriber
    from mailing.sending import message as msg
    from newsletters.models import NewsletterPage

    page = Page.objects.get(depth=1).add_child(
        instance=NewsletterPage(
            title="Bench", slug="bench-bounces", issue_number=9000, subject="Bench"
        )
    )
    campaign = Campaign.objects.create(
        page=page, status=Campaign.Status.SENT, from_email="newsletter@example.org"
    )
    Subscriber.objects.bulk_create(
        [Subscriber(email=f"reader{i}@example.net") for i in range(n)], batch_size=1000
    )
    now = timezone.now()
    Delivery.objects.bulk_create(
        [
            Delivery(campaign=campaign, subscriber=s, status=Delivery.Status.SENT, sent_at=now)
            for s in Subscriber.objects.filter(email__startswith="reader")
        ],
        batch_size=1000,
    )
    box = mailbox.Maildir(path, create=True)
    rows = Delivery.objects.filter(campaign=campaign).values_list("pk", "subscriber__email")
    for i, (delivery_id, email) in enumerate(rows.iterator()):
        kind = i % 20
        if kind < 14:
            raw = dsn(email, msg.bounce_address(delivery_id))
        elif kind < 17:
            raw = dsn(email, msg.bounce_address(delivery_id), action="delayed", status="4.2.2")
        elif kind < 19:
            raw = dsn(email, BOUNCE_ADDRESS, message_id=msg.message_id(campaign, delivery_id))
        else:
            raw = (
                f"From: {email}\r\nTo: {msg.bounce_address(delivery_id)}\r\n"
                "Subject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nAway.\r\n"
            ).encode()
        box.add(raw)
    box.close()


def baseline(path: str) -> dict:
    """Read, parse and scan every message with flufl.bounce alone."""
    import email

    from flufl.bounce import all_failures

    box = mailbox.Maildir(path, factory=None, create=False)
    started = time.perf_counter()
    count = found = 0
    for key in list(box.iterkeys()):
        message = email.message_from_bytes(box.get_bytes(key))
        temporary, permanent = all_failures(message)
        found += bool(temporary or permanent)
        count += 1
    seconds = time.perf_counter() - started
    return {"messages": count, "bounces": found, "seconds": seconds, "rss_mb": peak_rss_mb()}


def poller(path: str) -> dict:
    import django

    django.setup()
    from mailing import bounce_mailbox

    started = time.perf_counter()
    summary = bounce_mailbox.process(f"maildir://{path}")
    seconds = time.perf_counter() - started
    return {
        "messages": summary.read,
        "summary": summary.as_dict(),
        "seconds": seconds,
        "rss_mb": peak_rss_mb(),
    }


def child(env, *args) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        raise SystemExit(f"bench step {args[0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--step", choices=["prepare", "baseline", "poller"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.n, args.path)
        print("{}")
        return
    if args.step:
        print(json.dumps({"baseline": baseline, "poller": poller}[args.step](args.path)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        database = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
        env = base_env(database, BOUNCE_ADDRESS=BOUNCE_ADDRESS)
        path = f"{tmp}/bounces"
        manage(env, "migrate", "--noinput")
        started = time.perf_counter()
        child(env, "--step", "prepare", "--n", str(args.n), "--path", path)
        print(f"prepared {args.n} readers and reports in {time.perf_counter() - started:.1f} s")
        base = child(env, "--step", "baseline", "--path", path)
        full = child(env, "--step", "poller", "--path", path)
        left = len(mailbox.Maildir(path, create=False))
    base_rate = base["messages"] / base["seconds"]
    full_rate = full["messages"] / full["seconds"]
    print(
        f"baseline (parse + flufl.bounce scan, no database): {base['messages']} messages in "
        f"{base['seconds']:.2f} s = {base_rate:.0f} messages/s, peak RSS {base['rss_mb']:.0f} MB"
    )
    print(
        f"bounce mailbox poller (match, classify, suppress, delete): {full['messages']} "
        f"messages in {full['seconds']:.2f} s = {full_rate:.0f} messages/s, "
        f"peak RSS {full['rss_mb']:.0f} MB"
    )
    print(f"summary: {full['summary']}; left in the maildir: {left}")
    print(f"ratio poller / baseline: {full_rate / base_rate:.2f}")


if __name__ == "__main__":
    main()
