"""Feed import benchmark: 1,000,000 generated lab-result rows streamed into SQLite.

    .venv/bin/python benchmarks/bench_import.py [--rows 1000000] [--citizens 1000]

Generates the CSV to a temp file (written row by row), migrates a fresh SQLite database,
registers `--citizens` residents (so imports also recompute colours), and imports the file with
`issuers.importer.import_feed`. Prints rows/s and the peak RSS (resource.getrusage) at each
checkpoint (100k rows, 1M rows): a flat peak RSS shows memory does not grow with the file.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from healthcode.idnumber import make_id_number
from issuers.context import IssuerContext
from issuers.db import migrate
from issuers.feeds import FeedKind
from issuers.importer import import_feed
from issuers.seed import demo_divisions
from issuers.settings import IssuerSettings
from issuers.store import register_citizen

CHECKPOINTS = (100_000, 1_000_000)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def id_number(index: int, divisions: list[str]) -> str:
    """A distinct valid ID number per index (division x birth day x sequence)."""
    division = divisions[index % len(divisions)]
    rest = index // len(divisions)
    born = date(1950, 1, 1) + timedelta(days=rest // 1000)
    return make_id_number(division, born, rest % 1000)


def generate(path: Path, rows: int, divisions: list[str]) -> None:
    sampled = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("id_number,result,test,sampled_at\n")
        for index in range(rows):
            result = "positive" if index % 97 == 0 else "negative"
            test = "pcr" if index % 3 else "antigen"
            when = (sampled - timedelta(minutes=index % 1440)).isoformat()
            out.write(f"{id_number(index, divisions)},{result},{test},{when}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--citizens", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hc-bench-import-") as tmp:
        directory = Path(tmp)
        settings = IssuerSettings(
            database_url=f"sqlite:///{directory / 'bench.db'}",
            redis_url=None,
            key_dir=directory / "keys",
            token_secret=SecretStr("bench-token-secret-0123456789abcdef"),
            subject_secret=SecretStr("bench-subject-secret-0123456789abcdef"),
        )
        divisions = demo_divisions(settings.region, count=40)
        feed = directory / "lab_results.csv"
        started = time.perf_counter()
        generate(feed, args.rows, divisions)
        print(
            f"generated {args.rows:,} rows ({feed.stat().st_size / 2**20:.0f} MiB) in "
            f"{time.perf_counter() - started:.1f} s; peak RSS {peak_rss_mib():.0f} MiB"
        )
        migrate(settings.database_url)
        context = IssuerContext.create(settings)
        with context.session() as session:
            for index in range(0, min(args.citizens, args.rows) * 97, 97):
                register_citizen(
                    context,
                    session,
                    id_number=id_number(index, divisions),
                    name="测试居民",
                    phone=None,
                    actor="bench",
                )
            session.commit()
        print(f"registered {args.citizens:,} citizens; peak RSS {peak_rss_mib():.0f} MiB")
        pending = [c for c in CHECKPOINTS if c <= args.rows] or [args.rows]
        import_started = time.perf_counter()

        def progress(rows: int) -> None:
            while pending and rows >= pending[0]:
                elapsed = time.perf_counter() - import_started
                print(
                    f"{rows:>9,} rows  {elapsed:7.1f} s  {rows / elapsed:9,.0f} rows/s  "
                    f"peak RSS {peak_rss_mib():.0f} MiB",
                    flush=True,
                )
                pending.pop(0)

        with feed.open(encoding="utf-8", newline="") as stream:
            report = import_feed(
                context,
                stream,
                FeedKind.LAB_RESULTS,
                actor="bench",
                batch_size=args.batch_size,
                progress=progress,
            )
        elapsed = time.perf_counter() - import_started
        print(
            f"imported {report.accepted:,} rows ({report.rejected_count} rejected, "
            f"{report.status_changes} status changes) in {elapsed:.1f} s = "
            f"{report.accepted / elapsed:,.0f} rows/s; database "
            f"{(directory / 'bench.db').stat().st_size / 2**20:.0f} MiB; "
            f"peak RSS {peak_rss_mib():.0f} MiB"
        )
        context.close()


if __name__ == "__main__":
    main()
