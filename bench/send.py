"""Benchmark: send the seed issue to N generated subscribers through a real SMTP server.

    python bench/send.py [--n 10000] [--workers 2] [--connections 8] [--ceiling]
        [--languages 5]
        [--postgres postgres://cms:cms@127.0.0.1:5432/cms --redis redis://127.0.0.1:6390/13]

Builds a fresh SQLite database (or, with --postgres, a fresh PostgreSQL database
`<name>_bench_send` on that server, dropped first, and with --redis the broker and cache
in that Redis database, flushed first; DATABASE_URL/REDIS_URL are used as they are when
given instead), starts an SMTP sink in its own process on loopback (Postfix's
smtp-sink when installed, else aiosmtpd), and prints, in one run:

- the ceiling: raw smtplib sending one pre-built copy of the message N times over one
  connection to that sink;
- with --ceiling, the C ceiling: Postfix's `smtp-source` (Debian package postfix) with
  as many parallel sessions as the campaign has SMTP connections (--workers ×
  --connections, the latter being SENDING_SMTP_CONNECTIONS), the same message
  (same size), into the same sink, twice right after the campaign; the ratio is the
  campaign's msg/s over the mean of the two;
- end to end: `send_newsletter` + a `qcluster` with --workers worker processes,
  ledger included, from the campaign's start (materialising the ledger) to its finish;
- CPU milliseconds per message (user + system, from /proc): the cluster's processes,
  the sink and PostgreSQL during the campaign, smtp-source and the sink during its
  runs; unlike msg/s, these hardly move with the machine's other load;
- peak RSS of each worker process (VmHWM), which must not grow with N;
- with --languages K (2-8), issue #3 translated into K-1 more languages and the readers
  split evenly across the K: the same campaign once in one language (the baseline) and
  once per reader's language, both in this run, with their ratio (goal ≥ 0.9) and the
  milliseconds one rendering of the issue costs in each language (a campaign renders
  each language once, not each recipient).

The machine's other load moves every figure: compare the ratios of one run, and repeat a
run when the load average is high.
"""

import argparse
import json
import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import languages as bench_languages  # noqa: E402
from tests.mailing.workers import (  # noqa: E402
    Cluster,
    base_env,
    campaign_status,
    manage,
    prepare_database,
    send_newsletter,
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink(kind):
    port = free_port()
    if kind == "smtp-sink":
        # Postfix's smtp-sink (Debian package postfix): accepts and discards, in C.
        sink = subprocess.Popen(
            ["/usr/sbin/smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "256"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        return sink, port
    sink = subprocess.Popen(
        [sys.executable, "-m", "tests.smtp", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    sink.stdout.readline()
    return sink, port


def stop_sink(sink):
    sink.terminate()
    if sink.stdout is None:
        sink.wait(10)
        return None
    out, _ = sink.communicate(timeout=30)
    return int(out.strip().splitlines()[-1])


def ceiling(port, message: bytes, n: int) -> float:
    smtp = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for i in range(n):
        smtp.sendmail("newsletter@example.org", [f"ceiling{i}@example.net"], message)
    elapsed = time.perf_counter() - started
    smtp.quit()
    return n / elapsed


SMTP_SOURCE = Path("/usr/sbin/smtp-source")


def cpu_seconds(pids) -> float:
    """User + system CPU seconds the processes have used so far (gone ones count 0)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (its share of a campaign's CPU)."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":
                    pids.append(int(pid))
            except OSError:
                continue
    return pids


def c_ceiling(port, message: bytes, n: int, sessions: int, tmp: Path, sink) -> tuple:
    """Postfix's smtp-source: ``sessions`` parallel connections, each sending message after
    message over its connection (-d), ``n`` in all; (msg/s, its CPU seconds, the sink's)."""
    import resource

    path = tmp / "message.eml"
    # smtp-source adds the CRLF and the dot-stuffing itself (-F).
    path.write_bytes(message.replace(b"\r\n", b"\n"))
    before, sink_before = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds([sink.pid])
    started = time.perf_counter()
    subprocess.run(  # noqa: S603
        [
            str(SMTP_SOURCE),
            "-d",
            "-s",
            str(sessions),
            "-m",
            str(n),
            "-F",
            str(path),
            "-f",
            "newsletter@example.org",
            "-t",
            "ceiling@example.net",
            "-M",
            "bench.example.org",
            f"127.0.0.1:{port}",
        ],
        check=True,
        timeout=600,
    )
    rate = n / (time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return rate, used, cpu_seconds([sink.pid]) - sink_before


def fresh_postgres(url: str) -> str:
    """A new empty database ``<name>_bench_send`` on the server of ``url`` (made through
    its maintenance database ``postgres``); its URL."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.strip('/') or 'cms'}_bench_send"
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def fresh_redis(url: str) -> str:
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


def group_pids(pgid) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.getpgid(int(pid)) == pgid and int(pid) != pgid:
                    pids.append(int(pid))
            except ProcessLookupError:
                continue
    return pids


def profile(pgid, seconds: float, tmp: Path, idle: bool) -> list[str]:
    """py-spy (from PyPI) on every process of the cluster for ``seconds``; the functions
    that take the most samples, self and inclusive, over the processes that sent."""
    import collections
    import re
    import shutil

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return ["py-spy is not installed (pip install py-spy): no profile"]
    runs = []
    for pid in group_pids(pgid):
        out = tmp / f"profile-{pid}.txt"
        flags = ["--idle"] if idle else []
        runs.append(
            (
                out,
                subprocess.Popen(  # noqa: S603
                    [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "250"]
                    + [*flags, "-f", "raw", "--nonblocking", "-o", str(out)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
            )
        )
    inclusive, own, total = collections.Counter(), collections.Counter(), 0
    for out, run in runs:
        run.wait(seconds + 60)
        if not out.exists():
            continue
        text = out.read_text()
        if "run_sender" not in text:
            continue  # not a worker that sent
        for line in text.splitlines():
            stack, _, count = line.rpartition(" ")
            names = []
            for frame in stack.split(";"):
                match = re.match(r"(.*?) \((.*?)(?::\d+)?\)$", frame)
                where = match.group(2).split("site-packages/")[-1] if match else ""
                names.append(
                    f"{match.group(1)} ({where.replace(str(ROOT) + '/', '')})" if match else frame
                )
            total += int(count)
            for name in set(names):
                inclusive[name] += int(count)
            own[names[-1]] += int(count)
    if not total:
        return ["no samples"]
    lines = [f"{total} samples ({'wall time' if idle else 'on CPU'}), inclusive:"]
    skip = ("multiprocessing", "django_q", "manage.py", "management/", "<module>", "tasks.py")
    shown = [(n, c) for n, c in inclusive.most_common(60) if not any(s in n for s in skip)]
    lines += [f"  {100 * c / total:5.1f}% {n}" for n, c in shown[:22]]
    lines.append("self:")
    lines += [f"  {100 * c / total:5.1f}% {n}" for n, c in own.most_common(12)]
    return lines


def sample_message(env) -> bytes:
    """One message of the campaign as the pipeline builds it (for the ceiling run)."""
    code = (
        "import sys\n"
        "from mailing.models import Campaign\n"
        "from mailing.sending.ledger import Recipient\n"
        "from mailing.sending.message import MessageTemplate\n"
        "c = Campaign.objects.latest('pk')\n"
        "t = MessageTemplate.build(c)\n"
        "d = c.deliveries.select_related('subscriber').first()\n"
        "r = Recipient(d.pk, d.subscriber_id, d.subscriber.email, d.subscriber.name,"
        " d.mailing_list_id, 0)\n"
        "sys.stdout.buffer.write(t.render(t.values(r, b'Thu, 01 Jan 2026 00:00:00 +0000')))\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
    )
    return result.stdout.replace(b"\r\n..", b"\r\n.")


def peak_rss_kib(pgid) -> dict:
    peaks = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ProcessLookupError):
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        peaks[f"{pid} {cmd[:40]}"] = int(fields["VmHWM"].split()[0])
    return peaks


def campaign_state(database_url: str, campaign_id: int) -> str:
    """The campaign's status read straight from the database: a ``manage.py`` per poll
    would start Django (over a second of CPU) twice a second, next to the workers."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=30) as db:
            sql = "SELECT status FROM mailing_campaign WHERE id=?"
            return db.execute(sql, (campaign_id,)).fetchone()[0]
    import psycopg

    with psycopg.connect(database_url) as db:
        sql = "SELECT status FROM mailing_campaign WHERE id=%s"
        return db.execute(sql, (campaign_id,)).fetchone()[0]


def wait_sent(env, campaign_id) -> dict:
    while campaign_state(env["DATABASE_URL"], campaign_id) in {"scheduled", "sending"}:
        time.sleep(0.5)
    return campaign_status(env, campaign_id)


def seconds(status) -> float:
    """From the campaign's start (materialising the ledger) to its finish."""
    from datetime import datetime

    started = datetime.fromisoformat(status["started_at"])
    return (datetime.fromisoformat(status["finished_at"]) - started).total_seconds()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument(
        "--connections",
        type=int,
        default=1,
        help="SMTP connections per worker (SENDING_SMTP_CONNECTIONS)",
    )
    default_sink = "smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else "aiosmtpd"
    parser.add_argument("--sink", choices=["smtp-sink", "aiosmtpd"], default=default_sink)
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="also run Postfix's smtp-source (C) with --workers sessions, before and after",
    )
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        help="seconds of py-spy on the workers once the campaign runs (--idle: wall time)",
    )
    parser.add_argument("--idle", action="store_true", help="profile wall time, not CPU")
    parser.add_argument("--postgres", help="server URL: the bench makes its own database there")
    parser.add_argument("--redis", help="Redis database URL for broker and cache (flushed)")
    parser.add_argument(
        "--languages",
        type=int,
        default=1,
        help="split the readers across this many languages (2-8), against one language",
    )
    args = parser.parse_args()
    codes = bench_languages.codes_for(args.languages)
    if args.ceiling and not SMTP_SOURCE.exists():
        sys.exit(
            "--ceiling needs Postfix's smtp-source (/usr/sbin/smtp-source): "
            "apt-get install -y --no-install-recommends postfix"
        )

    tmp = Path(tempfile.mkdtemp(prefix="bench-send-"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'db.sqlite3'}"
    if args.postgres:
        database_url = fresh_postgres(args.postgres)
    redis_url = fresh_redis(args.redis) if args.redis else os.environ.get("REDIS_URL")
    extra = {"REDIS_URL": redis_url} if redis_url else {}
    sink, port = start_sink(args.sink)
    env = base_env(
        database_url,
        port,
        Q_WORKERS=args.workers,
        SENDING_CONCURRENCY=args.workers,
        SENDING_CHUNK_SIZE=args.chunk,
        SENDING_SMTP_CONNECTIONS=args.connections,
        **extra,
    )
    print(f"preparing {args.n} subscribers in {database_url.split('@')[-1]} …", flush=True)
    prepare_database(env, args.n)
    if database_url.startswith("sqlite"):
        # The demo list also holds the eight demo subscribers.
        path = database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    cluster = Cluster(env, tmp / "qcluster.log").start()
    # The cluster runs in its own process group: stop it when the bench is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    languages = {}
    try:
        time.sleep(3)  # let the cluster start its workers
        if len(codes) > 1:
            # The baseline first: everyone in one language, in this run.
            bench_languages.one_language(env)
            one = wait_sent(env, send_newsletter(env, "--list", "newsletter")["campaign"])
            languages["readers"] = bench_languages.split_readers(env, len(codes))
        # The cluster's processes once all have started (workers, monitor, pusher, timer).
        deadline = time.monotonic() + 60
        while len(group_pids(cluster.process.pid)) < args.workers + 3:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        cluster_pids = [cluster.process.pid, *group_pids(cluster.process.pid)]
        cpu_before = [cpu_seconds(cluster_pids), cpu_seconds([sink.pid])]
        cpu_before.append(cpu_seconds(postgres_pids()))
        created = send_newsletter(env, "--list", "newsletter")
        recipients = created["recipients"]
        profile_lines = []
        if args.profile:
            time.sleep(1)
            profile_lines = profile(cluster.process.pid, args.profile, tmp, args.idle)
        status = wait_sent(env, created["campaign"])
        cpu_used = [
            cpu_seconds(cluster_pids) - cpu_before[0],
            cpu_seconds([sink.pid]) - cpu_before[1],
            cpu_seconds(postgres_pids()) - cpu_before[2],
        ]
        peaks = peak_rss_kib(cluster.process.pid)
    finally:
        cluster.stop()
    elapsed = seconds(status)
    if len(codes) > 1:
        one_rate = one["sent"] / seconds(one)
        languages |= {
            "one_language_messages_per_second": round(one_rate, 1),
            "per_language_messages_per_second": round(status["sent"] / elapsed, 1),
            "ratio_to_one_language": round(status["sent"] / elapsed / one_rate, 2),
            "render_ms_per_language": {
                code: round(ms, 1) for code, ms in bench_languages.render_cost_ms(env).items()
            },
        }

    message = sample_message(env)
    c_runs = []
    if args.ceiling:
        # Twice, right after the campaign (its message exists from then on): the mean is
        # the ceiling.
        for _ in range(2):
            sessions = args.workers * args.connections  # the campaign's SMTP sessions
            c_runs.append(c_ceiling(port, message, min(args.n, 10_000), sessions, tmp, sink))
    rate_ceiling = ceiling(port, message, min(args.n, 10_000))
    received = stop_sink(sink)

    rate = status["sent"] / elapsed
    figures = {
        "database": database_url.split("://")[0],
        "broker": "redis" if redis_url else "orm",
        "workers": args.workers,
        "smtp_connections_per_worker": args.connections,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "sink": args.sink,
        "recipients": recipients,
        "status": status["status"],
        "sent": status["sent"],
        "failed": status["failed"],
        "received_by_sink": received,
        "message_bytes": len(message),
        "seconds": round(elapsed, 2),
        "messages_per_second": round(rate, 1),
        "ceiling_raw_smtplib_per_second": round(rate_ceiling, 1),
        **(
            {
                "ceiling_c_smtp_source_per_second": [round(r, 1) for r, _, _ in c_runs],
                "ratio_to_c_ceiling": round(rate / (sum(r for r, _, _ in c_runs) / len(c_runs)), 2),
            }
            if c_runs
            else {}
        ),
        # CPU milliseconds per message, whatever the machine's other load: the campaign's
        # processes (the qcluster and its workers), the sink and PostgreSQL meanwhile;
        # smtp-source and the sink during its runs.
        "cpu_ms_per_message": {
            "campaign_cluster": round(1000 * cpu_used[0] / status["sent"], 3),
            "sink_during_campaign": round(1000 * cpu_used[1] / status["sent"], 3),
            **(
                {"postgresql_during_campaign": round(1000 * cpu_used[2] / status["sent"], 3)}
                if database_url.startswith("postgres")
                else {}
            ),
            **(
                {
                    "smtp_source": round(
                        1000 * sum(c for _, c, _ in c_runs) / (len(c_runs) * min(args.n, 10_000)),
                        3,
                    ),
                    "sink_during_smtp_source": round(
                        1000 * sum(k for _, _, k in c_runs) / (len(c_runs) * min(args.n, 10_000)),
                        3,
                    ),
                }
                if c_runs
                else {}
            ),
        },
        **({"languages": languages} if languages else {}),
        "peak_rss_mib_per_process": {
            name: round(kib / 1024, 1) for name, kib in sorted(peaks.items())
        },
    }
    print(json.dumps(figures, indent=2))
    if profile_lines:
        print("\n".join(profile_lines))
    manage(env, "shell", "--no-imports", "-c", "pass", check=False)


if __name__ == "__main__":
    main()
