"""``make bench``: sizes S, M, L; each phase in its own process; a table at the end.

    python -m bench [--sizes S,M,L] [--days 730] [--phases PHASES] [--repeat N]

Figures per size: generation time and peak memory, ingestion time (all
partitions, one single-run backfill through Dagster) and peak memory, and the
floor: a bare DuckDB ``CREATE TABLE AS SELECT * FROM read_csv/read_json`` over
the same files in the same run; then the dbt build (full refresh, then a daily
incremental run) beside its hand-written floor. Results also go to
``$SMS_DATA_DIR/bench/results.json``.

The ``daily_e2e`` phase (bench/daily.py) runs a user's whole morning on a copy of the
built warehouse: the schedule's jobs in order (reference and daily ingest, the dbt build,
the analysts' copy, the day's plans, the journeys' advance) with their gates, on a SQLite
Dagster instance at a fixed clock; its parts, counts and peak memory are one table.

The ``dispatch`` phase (bench/dispatch.py) does not depend on the data size and
runs once per invocation: 100,000 messages (``--messages``) through the gateway
sender to a local gateway beside a bare loop on the fastest client (aiohttp),
the token bucket's accuracy at 100 msg/s, and the rate through a real Kannel
beside Kannel's bare acceptance; its figures go under
``"dispatch"`` in results.json.

The ``opstore`` phase (bench/opstore.py) also runs once per invocation: messages/s to the
local gateway through the embedded store's dispatch loop (DuckDB ledger, one process)
and through PostgreSQL's dispatch workers (1, 2 and 4: ``--workers``), ``--opstore-messages``
(50,000) each, every one checked accepted exactly once in the gateway's log; then the
warehouse sync of ``--sync-rows`` (1,000,000) ledger rows into an empty warehouse and
again after 10,000 of them were sent. A throwaway PostgreSQL server is started
(``make postgres`` installs it); figures under ``"opstore"`` in results.json.

``--phases dbt_full,dbt_daily,dbt_floor`` re-runs only those phases on data an
earlier run generated and ingested (phases always run in the order above, so
``dbt_daily`` follows ``dbt_full``). ``--repeat N`` runs the chosen phases N
times in a row and keeps each phase's best run, with every run's seconds and
peak memory beside it (the spread). Phases not run keep their earlier figures.
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
PHASES = [
    "generate", "ingest", "floor", "dbt_full", "dbt_daily", "checks", "dbt_floor",
    "journey_latency", "daily_e2e", "spark_full", "dispatch", "opstore",
]  # fmt: skip
# Phases measured once per invocation, not per size.
ONCE = {"dispatch", "opstore"}
# What a phase reads that an earlier phase writes.
NEEDS = {
    "ingest": "landing",
    "floor": "landing",
    "dbt_full": "warehouse.duckdb",
    "dbt_daily": "warehouse.duckdb",
    "checks": "warehouse.duckdb",
    "dbt_floor": "warehouse.duckdb",
    "journey_latency": "warehouse.duckdb",
    "daily_e2e": "warehouse.duckdb",
    "spark_full": "warehouse.duckdb",
}


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
    # CPU seconds of the phase and the subprocesses it waited for (dbt): on a shared machine
    # the wall time stretches with the load, this much less.
    figures["cpu_s"] = usage.ru_utime + usage.ru_stime
    return figures


def best_of(runs: list[dict]) -> dict:
    """The fastest run's figures, with every run's seconds and peak memory (the spread)."""
    best = dict(min(runs, key=lambda r: r["seconds"]))
    if len(runs) > 1:
        best["runs"] = [{"seconds": r["seconds"], "peak_mib": r["peak_mib"]} for r in runs]
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="S,M,L")
    p.add_argument("--days", type=int, default=730)
    p.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (default: all)",
    )
    p.add_argument("--repeat", type=int, default=1, help="run the chosen phases N times")
    p.add_argument("--messages", type=int, default=100_000, help="dispatch: messages sent")
    p.add_argument(
        "--opstore-messages", type=int, default=50_000, help="opstore: messages per measurement"
    )
    p.add_argument("--workers", default="1,2,4", help="opstore: PostgreSQL worker counts")
    p.add_argument("--sync-rows", type=int, default=1_000_000, help="opstore: ledger rows synced")
    a = p.parse_args()
    chosen = [x.strip() for x in a.phases.split(",") if x.strip()]
    unknown = sorted(set(chosen) - set(PHASES))
    if unknown:
        p.error(f"unknown phase(s) {', '.join(unknown)}; choose from {', '.join(PHASES)}")
    once = [x for x in PHASES if x in chosen and x in ONCE]
    phases = [x for x in PHASES if x in chosen and x not in ONCE]  # always in pipeline order
    sizes = [s.strip() for s in a.sizes.split(",") if s.strip()]
    if not set(sizes) <= set(SIZES):
        p.error(f"unknown size(s); choose from {', '.join(SIZES)}")
    root = settings.data_dir() / "bench"
    root.mkdir(parents=True, exist_ok=True)
    path = root / "results.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    for size in sizes if phases else []:
        customers = SIZES[size]
        base = root / size
        for phase in phases:
            need = NEEDS.get(phase)
            produced_here = {"landing": "generate", "warehouse.duckdb": "ingest"}.get(need)
            if need and produced_here not in phases and not (base / need).exists():
                raise SystemExit(
                    f"[{size}] {phase} needs {base / need}: run the {produced_here} phase first"
                )
        runs: dict[str, list[dict]] = {phase: [] for phase in phases}
        for attempt in range(1, a.repeat + 1):
            for phase in phases:
                note = f" (run {attempt}/{a.repeat})" if a.repeat > 1 else ""
                print(f"[{size}] {phase}{note} ...", flush=True)
                args = (
                    ["--customers", str(customers), "--days", str(a.days)]
                    if phase == "generate"
                    else []
                )
                figures = run_phase(phase, base, *args)
                print(
                    f"[{size}] {phase}: {figures['seconds']:.1f} s, {figures['peak_mib']:.0f} MiB",
                    flush=True,
                )
                runs[phase].append(figures)
        entry = merged.setdefault(size, {})
        entry["customers"] = customers
        for phase in phases:
            entry[phase] = best_of(runs[phase])
        # Written after every size, so an interrupted run keeps what it measured.
        path.write_text(json.dumps(merged, indent=2, default=str))
    if "dispatch" in once:
        runs = []
        for attempt in range(1, a.repeat + 1):
            note = f" (run {attempt}/{a.repeat})" if a.repeat > 1 else ""
            print(f"dispatch{note} ...", flush=True)
            figures = run_phase("dispatch", root / "dispatch", "--messages", str(a.messages))
            print(
                f"dispatch: {figures['seconds']:.1f} s, {figures['peak_mib']:.0f} MiB", flush=True
            )
            runs.append(figures)
        best = max(runs, key=lambda r: r["throughput"]["send_all_msgs_per_s"])
        if len(runs) > 1:
            best["runs"] = [r["throughput"]["send_all_msgs_per_s"] for r in runs]
        merged["dispatch"] = best
        path.write_text(json.dumps(merged, indent=2, default=str))
    if "opstore" in once:
        print("opstore ...", flush=True)
        figures = run_phase(
            "opstore", root / "opstore", "--opstore-messages", str(a.opstore_messages),
            "--workers", a.workers, "--sync-rows", str(a.sync_rows),
        )  # fmt: skip
        print(f"opstore: {figures['seconds']:.1f} s, {figures['peak_mib']:.0f} MiB", flush=True)
        merged["opstore"] = figures
        path.write_text(json.dumps(merged, indent=2, default=str))
    by_size = {k: merged[k] for k in SIZES if k in merged}
    for table in (
        _print_table,
        _print_dbt_table,
        _print_checks_table,
        _print_latency_table,
        _print_daily_e2e_table,
        _print_spark_table,
    ):
        print()
        table(by_size)
    if "dispatch" in merged:
        print()
        _print_dispatch_table(merged["dispatch"])
    if "opstore" in merged:
        print()
        _print_opstore_table(merged["opstore"])


def _print_spark_table(results: dict) -> None:
    head = (
        f"{'size':<4} {'duckdb full s':>13} {'export s':>9} {'spark build s':>13} "
        f"{'order lines':>12} {'us/line':>8} {'us/extra line':>13} {'MiB':>6}"
    )
    print(head)
    print("-" * len(head))
    previous = None
    for size, r in results.items():
        s = r.get("spark_full")
        if not s:
            continue
        per_line = s["build_seconds"] / max(s["order_lines"], 1) * 1e6
        extra = "-"
        if previous and s["order_lines"] > previous["order_lines"]:
            extra = format(
                (s["build_seconds"] - previous["build_seconds"])
                / (s["order_lines"] - previous["order_lines"])
                * 1e6,
                ".1f",
            )
        previous = s
        print(
            f"{size:<4} {_num(r.get('dbt_full', {}), 'seconds', '.1f'):>13} "
            f"{s['export_seconds']:>9.1f} {s['build_seconds']:>13.1f} {s['order_lines']:>12,} "
            f"{per_line:>8.1f} {extra:>13} {s['peak_mib']:>6.0f}"
        )
    print(
        "\nThe dbt project on a local Spark (issue 14; `dbt build --target spark`, every model "
        "and data test, the session's start included) beside DuckDB's full build. Export: the "
        "source tables written as Parquet. 'us/extra line': the build's growth from the size "
        "above divided by the order lines added, the cost of one more line without the fixed "
        "cost of the ~180 nodes. 'MiB': the phase's peak (the export's DuckDB and dbt's Python "
        "side); Spark's JVM, which pyspark starts beside dbt, is not in it (its heap is capped "
        "by SMS_SPARK_DRIVER_MEMORY, 4g)."
    )


def _print_latency_table(results: dict) -> None:
    head = (
        f"{'size':<4} {'carts':>6} {'accepted':>9} {'held out':>9} {'ingest s':>9} "
        f"{'journeys+send s':>15} {'total s':>8} {'MiB':>6}"
    )
    print(head)
    print("-" * len(head))
    for size, r in results.items():
        j = r.get("journey_latency")
        if not j:
            continue
        print(
            f"{size:<4} {j['carts']:>6} {j['reminders_accepted']:>9} {j['held_out']:>9} "
            f"{j['ingest_seconds']:>9.1f} {j['advance_and_dispatch_seconds']:>15.1f} "
            f"{j['seconds']:>8.1f} {j['peak_mib']:>6.0f}"
        )
    print(
        "\nJourney latency (issue 13): carts left at 10:05, their hourly cut landed, the "
        "day's checkouts ingested, the journeys job run at 11:05 (events, consent, the "
        "event stream's dbt models, advance, gates) and the dispatch job after it (sandbox). "
        "'total s' is the pipeline's share of the delay from leaving the cart to the "
        "gateway's acceptance; the sensors add up to a minute each."
    )


# The parts of the daily run, in the schedule's order, as the table heads them.
DAILY_PARTS = [
    ("reference_ingest", "ref"),
    ("daily_ingest", "load"),
    ("dbt_build", "dbt"),
    ("publish", "publish"),
    ("plans", "plans"),
    ("journeys", "journeys"),
]


def _print_daily_e2e_table(results: dict) -> None:
    head = (
        f"{'size':<4} "
        + " ".join(f"{label + ' s':>10}" for _, label in DAILY_PARTS)
        + f" {'total s':>8} {'(spread)':>11} {'cpu s':>6} {'MiB':>6} {'dbt s':>6} {'gates s':>8} "
        f"{'dagster s':>9} {'day rows':>9} {'models':>6} {'tests ok':>9} {'gates ok':>8} "
        f"{'planned':>8} {'entered':>8}"
    )
    print(head)
    print("-" * len(head))
    for size, r in results.items():
        d = r.get("daily_e2e")
        if not d:
            continue
        parts = d["parts"]
        print(
            f"{size:<4} "
            + " ".join(
                f"{parts[key]['seconds']:>10.1f}" if key in parts else f"{'-':>10}"
                for key, _ in DAILY_PARTS
            )
            + f" {d['seconds']:>8.1f} {_spread(d):>11} {_num(d, 'cpu_s', '.0f'):>6} "
            f"{d['peak_mib']:>6.0f} "
            f"{d['dbt_step_seconds']:>6.1f} {d['gx_gate_seconds']:>8.1f} "
            f"{d['outside_steps_seconds']:>9.1f} {d['day_rows']:>9,} "
            f"{d['dbt_models_materialized']:>6} "
            f"{str(d['dbt_tests_passed']) + '/' + str(d['dbt_tests']):>9} "
            f"{str(d['gates_passed']) + '/' + str(d['gates']):>8} "
            f"{d['recipients_planned']:>8,} {d['journeys'].get('entered') or 0:>8,}"
        )
    print(
        "\nGoal (issue 16): a whole daily run at L (load the new day, dbt, all gates, plan every "
        "campaign, advance every journey) in <= 60 s, as one phase. The jobs in the schedule's "
        "order on a copy of the warehouse, SQLite Dagster instance, the morning after the data: "
        "ref = ingest_reference, load = ingest_daily (yesterday and today, raw gates), dbt = "
        "refresh_marts (dbt build, mart gates), publish = publish_snapshot, plans = "
        "plan_campaigns, journeys = advance_journeys. Across them: 'dbt s' the dbt steps "
        "(two invocations), 'gates s' the GX gate steps, 'dagster s' the time outside any step "
        "(run start, event log, resources); 'cpu s' the phase's CPU seconds with dbt's."
    )


def _print_dispatch_table(d: dict) -> None:
    t, b, k = d["throughput"], d["bucket"], d.get("kannel") or {}
    bare = t.get("bare_client", "httpx")
    head = (
        f"{'messages':>9} {'conc':>5} {'+ledger msg/s':>14} {'ratio':>6} "
        f"{'send_all msg/s':>15} {'bare msg/s':>11} {'ratio':>6} "
        f"{'httpx bare':>11} {'stock bare':>11} {'bucket set':>10} {'measured':>9} {'error':>7} "
        f"{'Kannel msg/s':>13} {'Kannel bare':>12} {'ratio':>6}"
    )
    print(head)
    print("-" * len(head))
    kannel = k.get("send_all_msgs_per_s")
    print(
        f"{t['messages']:>9,} {t['concurrency']:>5} {t.get('with_ledger_msgs_per_s', 0):>14,.0f} "
        f"{t.get('with_ledger_ratio', 0):>6.0%} {t['send_all_msgs_per_s']:>15,.0f} "
        f"{t['bare_msgs_per_s']:>11,.0f} {t['ratio']:>6.0%} "
        f"{t.get('bare_httpx_msgs_per_s', 0):>11,.0f} "
        f"{t.get('bare_stock_pool_msgs_per_s', 0):>11,.0f} {b['configured']:>10.0f} "
        f"{b['measured']:>9.2f} {b['error']:>+7.1%} "
        f"{(format(kannel, ',.0f') if kannel else 'n/a'):>13} "
        f"{(format(k['bare_msgs_per_s'], ',.0f') if kannel else 'n/a'):>12} "
        f"{(format(k['ratio'], '.0%') if kannel else 'n/a'):>6}"
    )
    if k.get("skipped"):
        print(f"Kannel: {k['skipped']}")
    print(
        "\nGoals (issue 16): send_all >= 2,000 msg/s and >= 90% of the bare loop on the "
        f"fastest client found ({bare}; same requests, same concurrency, same server); "
        "through Kannel >= 90% of Kannel's own acceptance (its bare loop); token bucket "
        "within +-5% of 100 msg/s. '+ledger': send_all with the ledger's bulk writes around "
        "every batch (the dispatch path); 'send_all': the sender alone, on the client "
        "GatewayResource builds (httpx over aiohttp, uvloop). 'httpx bare': the bare loop "
        "through that httpx client; 'stock bare': through httpx's stock client (httpcore)."
    )


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def opstore_rows(o: dict) -> list[tuple[str, dict]]:
    """The opstore phase's dispatch measurements, labelled, in the table's order."""
    rows = [("embedded (DuckDB)", o["embedded"])] if "embedded" in o else []
    if "postgres_in_process" in o:
        rows.append(("postgres in-proc", o["postgres_in_process"]))
    for workers, r in sorted(o.get("postgres", {}).items(), key=lambda kv: int(kv[0])):
        rows.append((f"postgres x{workers}", r))
    return rows


def _print_opstore_table(o: dict) -> None:
    head = (
        f"{'store':<18} {'messages':>9} {'accepted':>9} {'wall s':>7} {'msg/s':>7} "
        f"{'start-up s':>10} {'steady msg/s':>12} {'final s':>8} {'claim ms':>8} {'load':>5}"
    )
    print(head)
    print("-" * len(head))
    for label, r in opstore_rows(o):
        print(
            f"{label:<18} {r['messages']:>9,} {r['accepted']:>9,} {r['wall_s']:>7.1f} "
            f"{_fmt(r['msgs_per_s'], ',.0f'):>7} {_fmt(r['startup_s'], '.1f'):>10} "
            f"{_fmt(r['steady_msgs_per_s'], ',.0f'):>12} {_fmt(r.get('final_s'), '.1f'):>8} "
            f"{_fmt(r.get('first_claim_s') and r['first_claim_s'] * 1000, '.0f'):>8} "
            f"{r['load_before']:>5.1f}"
        )
    s = o.get("sync")
    if s:
        print(
            f"\nsync: {s['rows']:,} ledger rows into an empty warehouse in {s['first_s']:.1f} s "
            f"({s['first_rows_per_s']:,.0f} rows/s); {s['incremental_rows']:,} updated rows "
            f"again in {s['incremental_s']:.2f} s; the warehouse equals the store by state."
        )
    print(
        f"\nOperational store: {o['messages']:,} messages to the local gateway per line, rate "
        "limit off, batches of "
        f"{o['batch_size']:,}; each accepted exactly once (the gateway's log). 'wall s' from "
        "the start (PostgreSQL: the approved run handed to the workers) to the run's return; "
        "'start-up s' until the gateway's first arrival (the worker processes' imports: "
        f"{_fmt(o.get('worker_import_s'), '.1f')} s for one alone); 'steady msg/s' between the "
        "first and the last arrival; 'final s' when the store held every message final; "
        "'claim ms' one claim of a batch on the fresh run (rolled back); 'load' the 1-minute "
        f"load average before. {o['cpus']} CPUs shared by the gateway, "
        "PostgreSQL and the workers."
    )


def _print_checks_table(results: dict) -> None:
    head = (
        f"{'size':<4} {'checks':>7} {'failed':>7} {'rows validated':>15} {'checks s':>9} {'MiB':>6}"
    )
    print(head)
    print("-" * len(head))
    for size, r in results.items():
        c = r.get("checks")
        if not c:
            continue
        print(
            f"{size:<4} {c['checks']:>7} {len(c['failed']):>7} {c['rows_validated']:>15,} "
            f"{c['seconds']:>9.1f} {c['peak_mib']:>6.0f}"
        )
    print(
        "\nGoal (issue 4): all checks of a daily run at L under 60 s (raw gates on the last "
        "delivery day, volume bands, mart gates, Data Docs included)."
    )


def _spread(figures: dict) -> str:
    runs = figures.get("runs")
    if not runs:
        return ""
    seconds = [r["seconds"] for r in runs]
    return f"{min(seconds):.1f}-{max(seconds):.1f}"


def _num(figures: dict, key: str, fmt: str) -> str:
    return format(figures[key], fmt) if key in figures else "-"


def _ratio(a: dict, b: dict, fmt: str) -> str:
    if "seconds" not in a or "seconds" not in b:
        return "-"
    return format(a["seconds"] / b["seconds"], fmt)


def _print_dbt_table(results: dict) -> None:
    head = (
        f"{'size':<4} {'dbt full s':>10} {'(spread)':>11} {'full MiB':>8} {'daily s':>8} "
        f"{'(spread)':>11} {'daily MiB':>9} {'daily/full':>10} {'floor s':>8} "
        f"{'full/floor':>10} {'customers':>10}"
    )
    print(head)
    print("-" * len(head))
    for size, r in results.items():
        if not {"dbt_full", "dbt_daily", "dbt_floor"} & r.keys():
            continue
        f, d, fl = (r.get(k, {}) for k in ("dbt_full", "dbt_daily", "dbt_floor"))
        print(
            f"{size:<4} {_num(f, 'seconds', '.1f'):>10} {_spread(f):>11} "
            f"{_num(f, 'peak_mib', '.0f'):>8} {_num(d, 'seconds', '.1f'):>8} {_spread(d):>11} "
            f"{_num(d, 'peak_mib', '.0f'):>9} {_ratio(d, f, '.0%'):>10} "
            f"{_num(fl, 'seconds', '.1f'):>8} {_ratio(f, fl, '.2f'):>9}x "
            f"{_num(fl, 'customers', ',d'):>10}"
        )
    print(
        "\nGoals (issue 3): full build at L within 3x the floor; daily incremental run under "
        "20% of the full build; peak memory under 4 GiB. Best of the runs; spread = "
        "fastest-slowest when repeated."
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
        if not {"generate", "ingest", "floor"} <= r.keys():
            continue
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
