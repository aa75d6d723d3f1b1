"""``make bench``: sizes S, M, L; each phase in its own process; a table at the end.

    python -m bench [--sizes S,M,L] [--days 730]

Figures per size: generation time and peak memory, ingestion time (all
partitions, one single-run backfill through Dagster) and peak memory, and the
floor: a bare DuckDB ``CREATE TABLE AS SELECT * FROM read_csv/read_json`` over
the same files in the same run. Results also go to
``$SMS_DATA_DIR/bench/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from dagster_project import settings

SIZES = {"S": 10_000, "M": 100_000, "L": 1_000_000}


def run_phase(phase: str, base: Path, *args: str) -> dict:
    """Run one phase; returns its JSON figures plus its own peak RSS (os.wait4)."""
    cmd = [sys.executable, "-m", "bench.phases", phase, "--dir", str(base), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench phase {phase} failed ({proc.returncode}): {' '.join(cmd)}")
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH "))
    figures = json.loads(line[len("BENCH ") :])
    figures["peak_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="S,M,L")
    p.add_argument("--days", type=int, default=730)
    a = p.parse_args()
    root = settings.data_dir() / "bench"
    root.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    for size in a.sizes.split(","):
        customers = SIZES[size]
        base = root / size
        print(f"[{size}] generating {customers:,} customers x {a.days} days ...", flush=True)
        gen = run_phase("generate", base, "--customers", str(customers), "--days", str(a.days))
        print(f"[{size}] ingesting ...", flush=True)
        ing = run_phase("ingest", base)
        print(f"[{size}] bare DuckDB floor ...", flush=True)
        flo = run_phase("floor", base)
        print(f"[{size}] dbt build (full refresh, daily incremental) and its floor ...", flush=True)
        full = run_phase("dbt_full", base)
        daily = run_phase("dbt_daily", base)
        dfloor = run_phase("dbt_floor", base)
        results[size] = {
            "customers": customers,
            "generate": gen,
            "ingest": ing,
            "floor": flo,
            "dbt_full": full,
            "dbt_daily": daily,
            "dbt_floor": dfloor,
        }
        _print_row(size, results[size])
    # Keep figures of sizes not run this time, so partial runs add up to one table.
    path = root / "results.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(results)
    path.write_text(json.dumps(merged, indent=2, default=str))
    print()
    _print_table({k: merged[k] for k in SIZES if k in merged})
    print()
    _print_dbt_table({k: merged[k] for k in SIZES if k in merged})


def _print_row(size: str, r: dict) -> None:
    print(
        f"[{size}] gen {r['generate']['seconds']:.1f}s, ingest {r['ingest']['seconds']:.1f}s, "
        f"floor {r['floor']['seconds']:.1f}s",
        flush=True,
    )


def _print_dbt_table(results: dict) -> None:
    head = (
        f"{'size':<4} {'dbt full s':>10} {'dbt MiB':>8} {'daily s':>8} {'daily/full':>10} "
        f"{'floor s':>8} {'full/floor':>10} {'customers':>10}"
    )
    print(head)
    print("-" * len(head))
    for size, r in results.items():
        if "dbt_full" not in r:
            continue
        f, d, fl = r["dbt_full"], r["dbt_daily"], r["dbt_floor"]
        print(
            f"{size:<4} {f['seconds']:>10.1f} {f['peak_mib']:>8.0f} {d['seconds']:>8.1f} "
            f"{d['seconds'] / f['seconds']:>9.0%} {fl['seconds']:>8.1f} "
            f"{f['seconds'] / fl['seconds']:>9.2f}x {fl['customers']:>10,}"
        )
    print(
        "\nGoals (issue 3): full build at L within 3x the floor; daily incremental run under "
        "20% of the full build; peak memory under 4 GiB."
    )


def _print_table(results: dict) -> None:
    head = (
        f"{'size':<4} {'customers':>10} {'order lines':>12} {'rows loaded':>12} {'rejected':>9} "
        f"{'files':>7} {'gen s':>7} {'gen MiB':>8} {'ingest s':>9} {'ingest MiB':>11} "
        f"{'floor s':>8} {'ingest/floor':>12}"
    )
    print(head)
    print("-" * len(head))
    for size, r in results.items():
        g, i, f = r["generate"], r["ingest"], r["floor"]
        print(
            f"{size:<4} {r['customers']:>10,} {i['order_lines']:>12,} {i['rows_loaded']:>12,} "
            f"{i['rows_rejected']:>9,} {i['files']:>7,} {g['seconds']:>7.1f} {g['peak_mib']:>8.0f} "
            f"{i['seconds']:>9.1f} {i['peak_mib']:>11.0f} {f['seconds']:>8.1f} "
            f"{i['seconds'] / f['seconds']:>11.2f}x"
        )
    print("\nGoals (issue 2): ingestion of L within 2x the floor; peak memory under 4 GiB.")


if __name__ == "__main__":
    main()
