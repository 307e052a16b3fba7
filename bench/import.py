"""Benchmark: import 100,000 subscribers from CSV; prints rows/s and peak memory.

Runs `manage.py import_subscribers` in a child process against its own temporary
SQLite database (migrated first), or against PostgreSQL when `--database-url` (or
`DATABASE_URL`) names one: that database is dropped and created afresh, so give the
bench a name of its own. The file is generated with a sprinkling of bad rows.
Peak memory is the child's peak RSS (os.wait4), next to the same command importing
a one-row file: the difference is what the import itself costs.

    python bench/import.py [--rows 100000] [--keep] [--database-url postgres://…/cms_bench]
"""

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args, env):
    """(seconds, peak RSS in MiB, stdout, CPU seconds) of a manage.py child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{output}")
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, usage.ru_maxrss / 1024, output, cpu  # ru_maxrss is in KiB on Linux


def write_csv(path: Path, rows: int) -> int:
    rng = random.Random(42)
    languages = ["en", "fr", "de", "es", "it", "ro", "fi", ""]
    bad = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name", "language", "organisation", "country"])
        for i in range(rows):
            if i % 1000 == 999:  # one bad row in a thousand: invalid, or a duplicate
                email = f"broken-{i}-at-example.org" if i % 2000 == 999 else f"p{i - 1}@example.org"
                bad += 1
            else:
                email = f"p{i}@example.org"
            writer.writerow([email, f"Person {i}", rng.choice(languages), f"Org {i % 500}", "BE"])
    return bad


def fresh_postgres(url: str) -> None:
    """Drop and create the database `url` names (through the server's `postgres` one)."""
    from urllib.parse import urlsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def postgres_cpu() -> float | None:
    """CPU seconds used so far by this machine's PostgreSQL server: its live processes',
    and (through the postmaster's counts of reaped children) those of backends that have
    exited, such as the import's own. None when no server runs here."""
    total, found = 0.0, False
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found = True
        # utime, stime, cutime, cstime (fields 14-17 of proc(5), counted from the state)
        total += sum(int(f) for f in fields[11:15]) / tick
    return total if found else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="a PostgreSQL database to recreate and import into (default: temporary SQLite)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    database_url = args.database_url
    if database_url.startswith(("postgres://", "postgresql://")):
        fresh_postgres(database_url)
    else:
        database_url = f"sqlite:///{work / 'db.sqlite3'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(work),
        "SECRET_KEY": "bench-only",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "localhost",
        "LOG_LEVEL": "WARNING",
    }
    try:
        run(["migrate", "--noinput"], env)
        small, big = work / "one.csv", work / "people.csv"
        write_csv(small, 1)
        bad = write_csv(big, args.rows)
        _t, baseline_rss, _out, baseline_cpu = run(
            ["import_subscribers", str(small), "--list", "warmup"], env
        )
        server_before = postgres_cpu() if database_url.startswith("postgres") else None
        seconds, peak_rss, output, cpu = run(
            ["import_subscribers", str(big), "--list", "bench", "--confirmed"], env
        )
        server_after = postgres_cpu() if server_before is not None else None
        print(output.rstrip())
        print()
        print(f"database: {database_url.split('://')[0]}")
        print(f"rows: {args.rows} ({bad} bad rows seeded)")
        print(f"time: {seconds:.1f} s (whole command, including Django start-up)")
        print(f"rate: {args.rows / seconds:,.0f} rows/s")
        print(
            f"CPU: {cpu:.1f} s in the command ({cpu - baseline_cpu:.1f} s more than a one-row "
            "import), the database server's own time not included; on a shared machine the "
            "wall time above also holds the waits for a CPU"
        )
        if server_after is not None:
            print(
                f"PostgreSQL server CPU: {server_after - server_before:.1f} s during the command "
                "(every PostgreSQL process of this machine)"
            )
        print(f"peak RSS: {peak_rss:.0f} MiB (one-row import: {baseline_rss:.0f} MiB)")
        print(f"import's own memory: {peak_rss - baseline_rss:.0f} MiB")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
