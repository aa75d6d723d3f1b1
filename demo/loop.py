"""The demo's world after the send: recipients' callbacks to the receiver, purchases to landing.

``demo.recipients`` decides what happens; this module makes it happen the way
it would for real:

* the sandbox outbox (what the gateway accepted) is read back, each message
  on the clock of the dispatch run that sent it;
* delivery receipts, replies (STOP, HELP, free text) and link clicks are sent
  over HTTP to a running webhook receiver (``python -m dagster_project.webhooks``,
  started here on a free loopback port), which writes them to its landing log;
* purchases are written as POS exports (Square item-export CSV, the phone typed
  at the till) into the landing folder, for the ingest layer to load.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from demo.recipients import Callback, Purchase, SentMessage

POS_HEADER = [
    "Date", "Time", "Time Zone", "Transaction ID", "Location ID", "Event Type", "Item", "SKU",
    "Category", "Qty", "Unit Price", "Gross Sales", "Discounts", "Discount Code", "Net Sales",
    "Currency", "Payment Method", "Customer Phone", "Loyalty ID",
]  # fmt: skip


@dataclass(frozen=True)
class DispatchClock:
    """Outbox lines [first, end) were accepted by a dispatch run at ``at`` (demo clock)."""

    first: int
    end: int
    at: dt.datetime


def outbox_lines(outbox_dir: Path) -> int:
    path = outbox_dir / "outbox.jsonl"
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for line in f if line.endswith(b"\n"))


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open("rb") as f:
        return [json.loads(line) for line in f if line.endswith(b"\n")]


def sent_messages(outbox_dir: Path, clocks: Sequence[DispatchClock]) -> list[SentMessage]:
    """Accepted messages, each on its dispatch run's clock, with the sandbox's receipt."""
    outbox = _jsonl(outbox_dir / "outbox.jsonl")
    receipts = {r["key"]: r for r in _jsonl(outbox_dir / "receipts.jsonl")}
    out = []
    for clock in clocks:
        for record in outbox[clock.first : clock.end]:
            receipt = receipts[record["key"]]
            accepted = dt.datetime.fromisoformat(record["accepted_at"])
            delay = (dt.datetime.fromisoformat(receipt["event_at"]) - accepted).total_seconds()
            out.append(
                SentMessage(
                    key=record["key"],
                    provider_message_id=record["id"],
                    phone=record["to"],
                    sender=record["from"],
                    text=record["text"],
                    sent_at=clock.at,
                    status=receipt["status"],
                    error_code=receipt["error_code"],
                    receipt_delay_s=delay,
                )
            )
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_receiver(timeout_s: float = 30.0) -> Iterator[str]:
    """A webhook receiver subprocess on a free loopback port; yields its base URL.

    Its log (every callback, phones masked) goes to ``$SMS_WEBHOOK_DIR/receiver.log``."""
    from dagster_project import settings

    port = _free_port()
    env = {**os.environ, "SMS_WEBHOOK_HOST": "127.0.0.1", "SMS_WEBHOOK_PORT": str(port)}
    log_path = settings.webhooks_dir() / "receiver.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.webhooks"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the webhook receiver exited with {proc.returncode}; its log: {log_path}"
                )
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the webhook receiver did not answer on {base} in {timeout_s}s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def deliver(base_url: str, secret: str, callbacks: Sequence[Callback]) -> dict[str, int]:
    """Send each callback to the receiver as the gateway or the phone would; counts by kind.

    Any answer but the expected one stops the demo: a lost callback would be a
    silent hole in the attribution.
    """
    done: dict[str, int] = defaultdict(int)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for c in callbacks:
            if c.kind == "status":
                r = client.post(f"/sandbox/{secret}/status", json=dict(c.payload))
                ok = r.status_code in (200, 204)
            elif c.kind == "inbound":
                r = client.post(f"/sandbox/{secret}/inbound", json=dict(c.payload))
                ok = r.status_code == 200
            else:
                # The demo clicks "in the past": the sandbox may date a click, with the secret.
                r = client.get(
                    f"/c/{c.payload['token']}",
                    headers={
                        "X-Sandbox-Secret": secret,
                        "X-Sandbox-Occurred-At": c.at.isoformat(timespec="milliseconds"),
                        "User-Agent": "sms-demo-recipient/1.0",
                    },
                )
                ok = r.status_code == 302
            if not ok:
                raise RuntimeError(
                    f"the receiver answered {r.status_code} to a {c.kind} callback: {r.text[:200]}"
                )
            done[c.kind] += 1
    return dict(done)


def _stores(landing: Path) -> list[dict]:
    with (landing / "pos" / "stores.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _items(landing: Path, location_id: str) -> list[dict]:
    """Items this store sold lately (name, SKU, category, price in its currency)."""
    folder = landing / "pos" / "transactions"
    for day in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True)[:30]:
        for path in day.glob(f"transactions-{location_id}-*.csv"):
            with path.open(newline="", encoding="utf-8") as f:
                rows = [
                    r
                    for r in csv.DictReader(f)
                    if r.get("Event Type") == "Payment"
                    and r.get("Qty") == "1"
                    and r.get("SKU")
                    and r.get("Unit Price")
                ]
            if rows:
                return rows
    raise RuntimeError(f"no sales of store {location_id} in the landing folder to take items from")


def write_purchases(landing: Path, purchases: Sequence[Purchase], seed: int) -> list[Path]:
    """POS sales for the purchases, one file per store and day (store-local dates)."""
    from zoneinfo import ZoneInfo

    from demo.recipients import digest, draw

    stores = _stores(landing)
    by_country: dict[str, list[dict]] = defaultdict(list)
    for s in stores:
        by_country[s["Country"]].append(s)
    items: dict[str, list[dict]] = {}
    files: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for p in purchases:
        choices = by_country.get(p.region or "") or stores
        store = choices[int(draw(seed, p.key, "store") * len(choices))]
        loc = store["Location ID"]
        stock = items.setdefault(loc, _items(landing, loc))
        item = stock[int(draw(seed, p.key, "item") * len(stock))]
        local = p.at.astimezone(ZoneInfo(store["Time Zone"]))
        txn = "SMS" + digest(seed, "txn", p.key)[:19]
        files[(loc, local.date().isoformat())].append(
            [
                local.date().isoformat(),
                local.strftime("%H:%M:%S"),
                store["Time Zone"],
                txn,
                loc,
                "Payment",
                item["Item"],
                item["SKU"],
                item["Category"],
                "1",
                item["Unit Price"],
                item["Unit Price"],
                "0.00",
                "",
                item["Unit Price"],
                store["Currency"],
                "Card",
                p.phone,
                "",
            ]
        )
    written = []
    for (loc, day), rows in sorted(files.items()):
        folder = landing / "pos" / "transactions" / day
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"transactions-{loc}-{day}-after-sms.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(POS_HEADER)
            writer.writerows(sorted(rows))
        written.append(path)
    return written
