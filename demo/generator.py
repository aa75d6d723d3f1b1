"""``generate()``: the one entry point that builds the people, their orders and every file."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from . import duck
from .catalog import make_catalog
from .checkouts import make_checkouts, write_checkouts
from .consent import write_consent
from .crm import assign_contacts, write_contacts, write_tickets
from .invoices import write_invoices
from .orders import make_orders
from .params import DEFAULT_INTRADAY_DAYS, DEFAULT_STORES, Params
from .people import make_people
from .pos import write_pos
from .seasonality import DaySampler
from .shop import open_accounts, write_orders, write_products
from .stores import make_stores
from .truth import clear_truth, write_invoice_truth, write_truth
from .writers import Landing


@dataclass
class GenerationSummary:
    out: Path
    truth_dir: Path
    parameters: dict
    rows: dict[str, int]  # lines written per entity, header excluded, injected lines included
    files: dict[str, int]
    mess: dict[str, dict[str, int]]
    people: int
    elapsed_seconds: float
    details: dict = field(default_factory=dict)  # the truth folder's summary.json

    @property
    def total_files(self) -> int:
        return sum(self.files.values())

    def format(self) -> str:
        width = max(len(e) for e in self.rows)
        out = [
            f"Wrote {self.total_files:,} files to {self.out} "
            f"(truth in {self.truth_dir}) in {self.elapsed_seconds:.1f} s",
            f"  {self.people:,} people, {self.parameters['days']} days "
            f"{self.parameters['start']}..{self.parameters['end']}, "
            f"seed {self.parameters['seed']}",
            f"  {'entity'.ljust(width)}  {'files':>7}  {'rows':>11}  mess (injected)",
        ]
        for entity, rows in self.rows.items():
            kinds = ", ".join(f"{k} {v:,}" for k, v in self.mess[entity].items() if v)
            out.append(
                f"  {entity.ljust(width)}  {self.files[entity]:>7,}  {rows:>11,}  {kinds or '-'}"
            )
        return "\n".join(out)


def generate(
    out: Path,
    truth_dir: Path,
    customers: int,
    days: int,
    seed: int,
    end: date,
    mess_rate: float = 0.005,
    late_rate: float = 0.02,
    stores: int | None = None,
    intraday_days: int = DEFAULT_INTRADAY_DAYS,
) -> GenerationSummary:
    started = time.perf_counter()
    params = Params(
        customers=customers,
        days=days,
        seed=seed,
        end=end,
        mess_rate=mess_rate,
        late_rate=late_rate,
        stores=DEFAULT_STORES if stores is None else stores,
        intraday_days=intraday_days,
    )
    out, truth_dir = Path(out), Path(truth_dir)
    landing = Landing(out)
    landing.wipe()
    out.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    clear_truth(truth_dir)

    con = duck.connect()
    try:
        estate = make_stores(params)
        catalog = make_catalog(params)
        people = make_people(params, estate, con)
        sampler = DaySampler(params)
        orders = make_orders(params, people, catalog, estate, sampler)
        write_pos(params, con, landing, people, catalog, estate, orders)
        invoices = write_invoices(params, con, landing, people, estate)
        write_products(landing, catalog)
        carts = make_checkouts(params, people, catalog, orders, sampler)
        accounts = open_accounts(params, people, orders, carts.person, carts.utc)
        write_orders(params, con, landing, people, catalog, orders, accounts)
        write_checkouts(params, con, landing, people, catalog, orders, carts, accounts)
        crm = assign_contacts(params, people, orders)
        write_contacts(params, con, landing, people, crm)
        write_tickets(params, con, landing, people, crm)
        consent = write_consent(params, con, landing, people, orders, crm.record_id)
        details = write_truth(
            truth_dir, params, people, orders, crm.record_id, consent, accounts, landing
        )
        details["invoices"] = write_invoice_truth(truth_dir, params, people, estate, invoices)
    finally:
        con.close()
    return GenerationSummary(
        out=out,
        truth_dir=truth_dir,
        parameters=params.as_dict(),
        rows=dict(landing.rows),
        files=dict(landing.files),
        mess={e: dict(k) for e, k in landing.mess.items()},
        people=params.customers,
        elapsed_seconds=time.perf_counter() - started,
        details=details,
    )
