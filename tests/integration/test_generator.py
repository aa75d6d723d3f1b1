"""The demo generator: deterministic, on contract, realistic where it matters, mess on record."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import phonenumbers
import pyarrow.parquet as pq
import pytest

from demo import generate
from demo.__main__ import main
from demo.phones import JUNK_PHONES

END = date(2026, 11, 21)

HEADERS = {
    "pos/stores.csv": "Location ID,Location Name,Country,Time Zone,Currency",
    "pos/transactions": "Date,Time,Time Zone,Transaction ID,Location ID,Event Type,Item,SKU,"
    "Category,Qty,Unit Price,Gross Sales,Discounts,Discount Code,Net Sales,Currency,"
    "Payment Method,Customer Phone,Loyalty ID",
    "pos/invoices": "Invoice No,Customer Phone,Loyalty ID,Location ID,Amount,Balance,Currency,"
    "Issue Date,Due Date,Paid Date,Status",
    "crm/contacts": "Record ID,First Name,Last Name,Email,Phone Number,Date of Birth,Gender,"
    "Preferred Language,Country/Region,State/Region,Time Zone,Create Date,Last Modified Date,"
    "Lead Status",
    "crm/tickets": "Ticket ID,Contact ID,Created At,Status,Priority,Subject,Closed At",
    "shop/products.csv": "Handle,Title,Vendor,Product Type,Variant SKU,Variant Price,Status",
}
ENTITY_FOLDERS = {
    "pos_transactions": "pos/transactions",
    "pos_invoices": "pos/invoices",
    "crm_contacts": "crm/contacts",
    "crm_tickets": "crm/tickets",
    "crm_consent": "crm/consent",
    "shop_orders": "shop/orders",
    "shop_checkouts": "shop/checkouts",
}
CSV_ENTITIES = ("pos_transactions", "crm_contacts", "crm_tickets", "pos_invoices")
JSON_ENTITIES = ("crm_consent", "shop_orders", "shop_checkouts")
# Every field the contract lists, and no other.
# fmt: off
ORDER_FIELDS = {
    "id", "name", "email", "phone", "created_at", "updated_at", "currency", "total_price",
    "subtotal_price", "total_discounts", "financial_status", "cancelled_at", "cancel_reason",
    "discount_codes", "customer", "shipping_address", "line_items", "refunds",
}
CHECKOUT_FIELDS = {
    "id", "token", "email", "phone", "created_at", "updated_at", "completed_at", "currency",
    "total_price", "customer", "shipping_address", "line_items",
}
CONSENT_FIELDS = {
    "event_id", "contact_id", "phone", "country_code", "event_type", "source", "occurred_at",
    "consent_text_version", "keyword",
}
# fmt: on
PHONE_FORMATS = {
    "US": [
        r"\(\d{3}\) \d{3}-\d{4}",
        r"\d{3}-\d{3}-\d{4}",
        r"\d{10}",
        r"\+1 \d{3} \d{3} \d{4}",
        r"1-\d{3}-\d{3}-\d{4}",
    ],
    "DE": [r"01\d{2} \d{7,8}", r"\+49 1\d{2} \d{7,8}", r"0049 1\d{2} \d{7,8}", r"01\d{2}/\d{7,8}"],
    "GB": [r"07\d{3} \d{6}", r"\+44 7\d{3} \d{6}", r"0044 7\d{9}"],
    "TR": [r"05\d{2} \d{3} \d{2} \d{2}", r"\+90 5\d{2} \d{3} \d{2} \d{2}", r"5\d{2} \d{3} \d{4}"],
}


MESSY = dict(customers=1500, days=400, seed=7, end=END, mess_rate=0.01, late_rate=0.05)


def run(tmp: Path, **kwargs):
    params = {**MESSY, **kwargs}
    out, truth = tmp / "landing", tmp / "truth"
    summary = generate(out=out, truth_dir=truth, **params)
    return summary, out, truth


def shared(world):
    return world.summary, world.landing, world.truth


# Only read here, so the session's generated worlds serve as they are.
@pytest.fixture(scope="module")
def messy(generated):
    return shared(generated(**MESSY))


@pytest.fixture(scope="module")
def clean(generated):
    clean_params = dict(customers=1200, days=300, seed=11, mess_rate=0.0, late_rate=0.0)
    return shared(generated(**{**MESSY, **clean_params}))


def files_of(out: Path, entity: str) -> list[Path]:
    ext = "csv" if entity in CSV_ENTITIES else "jsonl"
    return sorted((out / ENTITY_FOLDERS[entity]).glob(f"*/*.{ext}"))


def rel(out: Path, path: Path) -> str:
    return path.relative_to(out).as_posix()


def mess_log(truth: Path) -> list[dict]:
    return [json.loads(x) for x in (truth / "mess.jsonl").read_text().splitlines()]


def rejected(truth: Path) -> set[tuple[str, int]]:
    return {(m["file"], m["line"]) for m in mess_log(truth)}


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def dict_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def people(truth: Path):
    return pq.read_table(truth / "people.parquet").to_pandas()


def hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    small = dict(customers=400, days=90, mess_rate=0.02, late_rate=0.1)
    _, out_a, truth_a = run(tmp_path / "a", **small)
    _, out_b, truth_b = run(tmp_path / "b", **small)
    _, out_c, _ = run(tmp_path / "c", seed=8, **small)
    first = hashes(out_a)
    assert len(first) > 100
    assert first == hashes(out_b)
    assert hashes(truth_a) == hashes(truth_b)
    other = hashes(out_c)
    assert other != first
    shared = set(first) & set(other)
    assert sum(first[k] != other[k] for k in shared) > len(shared) // 2


def test_rerun_wipes_only_the_folders_it_owns(tmp_path):
    out = tmp_path / "landing"
    (out / "pos" / "transactions" / "1999-01-01").mkdir(parents=True)
    (out / "pos" / "transactions" / "1999-01-01" / "stale.csv").write_text("x\n")
    (out / "shop" / "stale.jsonl").parent.mkdir(parents=True)
    (out / "shop" / "stale.jsonl").write_text("{}\n")
    (out / "keep.txt").write_text("not ours\n")
    generate(out=out, truth_dir=tmp_path / "truth", customers=200, days=30, seed=1, end=END)
    assert not (out / "pos" / "transactions" / "1999-01-01").exists()
    assert not (out / "shop" / "stale.jsonl").exists()
    assert (out / "keep.txt").read_text() == "not ours\n"


def test_cli_writes_files_and_prints_a_summary(tmp_path, capsys):
    args = "--customers 300 --days 45 --seed 3 --end 2026-01-31 --stores 5 --mess-rate 0"
    paths = ["--out", str(tmp_path / "l"), "--truth-dir", str(tmp_path / "t")]
    code = main(["generate", *args.split(), *paths])
    assert code == 0
    printed = capsys.readouterr().out
    assert "pos_transactions" in printed and "files" in printed
    stores = csv_rows(tmp_path / "l" / "pos" / "stores.csv")
    assert len(stores) == 1 + 5
    assert Counter(r[2] for r in stores[1:]) == {"US": 2, "GB": 1, "DE": 1, "TR": 1}
    days = sorted(p.name for p in (tmp_path / "l" / "shop" / "orders").iterdir())
    assert days[-1] == "2026-01-31" and days[0] >= "2025-12-18"
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert summary["parameters"]["start"] == "2025-12-18"
    assert main(["generate", "--customers", "0", *paths]) == 2


def test_intraday_files_partition_the_days_records(tmp_path):
    """The last ``intraday_days`` days deliver shop orders and checkouts in one file per
    hourly cut: read in name order they are exactly the day's one file (no record lost,
    doubled or reordered), each record updated before its file's cut and at or after the
    previous one; every other file is byte for byte what one file per day gives."""
    small = dict(customers=600, days=30, mess_rate=0.01, late_rate=0.0)
    _, split, split_truth = run(tmp_path / "split", intraday_days=3, **small)
    _, whole, _ = run(tmp_path / "whole", intraday_days=0, **small)
    on_record = rejected(split_truth)
    intraday = {(END - timedelta(days=k)).isoformat() for k in range(3)}
    split_files, whole_files = hashes(split), hashes(whole)
    for entity in ("shop_orders", "shop_checkouts"):
        folder = ENTITY_FOLDERS[entity]
        stem = folder.rsplit("/", 1)[-1]
        for day in sorted(intraday):
            parts = sorted((split / folder / day).glob("*.jsonl"))
            assert len(parts) > 1, (entity, day)
            assert not (split / folder / day / f"{stem}-{day}.jsonl").exists()
            one = read_lines(whole / folder / day / f"{stem}-{day}.jsonl")
            assert [line for f in parts for line in read_lines(f)] == one
            start = previous = datetime.fromisoformat(f"{day}T00:00:00+00:00")
            for f in parts:
                cut = re.fullmatch(rf"{stem}-{day}-(\d{{2}})00\.jsonl", f.name)
                assert cut, f.name
                end = start + timedelta(hours=int(cut.group(1)))
                for n, line in enumerate(read_lines(f), start=1):
                    if (rel(split, f), n) in on_record:  # corrupted on purpose, logged
                        continue
                    updated = datetime.fromisoformat(json.loads(line)["updated_at"])
                    assert previous <= updated < end, (f.name, n)
                previous = end

    # Outside the split days' shop folders, nothing moved.
    def outside(files: dict[str, str]) -> dict[str, str]:
        return {
            k: v for k, v in files.items()
            if not k.startswith(("shop/orders/", "shop/checkouts/")) or k.split("/")[2] not in intraday
        }  # fmt: skip

    assert outside(split_files) == outside(whole_files)


# --- the contract ------------------------------------------------------------------------------


def test_layout_headers_and_day_folders(messy):
    summary, out, _ = messy
    start = END - timedelta(days=399)
    for single in ("pos/stores.csv", "shop/products.csv"):
        assert read_lines(out / single)[0] == HEADERS[single]
    for entity, folder in ENTITY_FOLDERS.items():
        files = files_of(out, entity)
        assert files, entity
        assert len(files) == summary.files[entity]
        for f in files:
            day = date.fromisoformat(f.parent.name)
            assert start <= day <= END
            if folder in HEADERS:
                assert read_lines(f)[0] == HEADERS[folder], f
    assert {p.name for p in out.iterdir()} == {"pos", "crm", "shop"}


def test_row_counts_match_the_files(messy):
    summary, out, truth = messy
    written = json.loads((truth / "summary.json").read_text())["rows"]
    assert written == summary.rows
    for entity in ENTITY_FOLDERS:
        header = 1 if entity in CSV_ENTITIES else 0
        total = sum(len(read_lines(f)) - header for f in files_of(out, entity))
        assert total == summary.rows[entity], entity
    assert summary.rows["pos_stores"] == 12
    assert summary.rows["shop_products"] == len(read_lines(out / "shop/products.csv")) - 1
    assert 300 <= summary.rows["shop_products"] <= 600


def _money(value: str) -> None:
    if not re.fullmatch(r"-?\d+\.\d{2}", value):
        raise ValueError(value)


PARSERS = {
    "Qty": int,
    "Unit Price": _money,
    "Gross Sales": _money,
    "Discounts": _money,
    "Net Sales": _money,
    "Date": date.fromisoformat,
    "Date of Birth": date.fromisoformat,
    "Amount": _money,
    "Balance": _money,
    "Issue Date": date.fromisoformat,
    "Due Date": date.fromisoformat,
    "Paid Date": date.fromisoformat,
    "Time": lambda v: datetime.strptime(v, "%H:%M:%S"),
    **{
        c: lambda v: datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
        for c in ("Create Date", "Last Modified Date", "Created At", "Closed At")
    },
}
OPTIONAL = {"Date of Birth", "Closed At", "Paid Date"}


def _check_csv_value(column: str, value: str) -> None:
    """Parse a typed column the way a strict loader would; raise on failure."""
    if value or column not in OPTIONAL:
        PARSERS[column](value)


POS_TYPED = ("Date", "Time", "Qty", "Unit Price", "Gross Sales", "Discounts", "Net Sales")
TYPED = {
    "pos_transactions": POS_TYPED,
    "crm_contacts": ("Date of Birth", "Create Date", "Last Modified Date"),
    "crm_tickets": ("Created At", "Closed At"),
    "pos_invoices": ("Amount", "Balance", "Issue Date", "Due Date", "Paid Date"),
}
NESTED = {
    "customer": {"id", "email", "phone", "first_name", "last_name"},
    "shipping_address": {"country_code"},
    "line_items": {"id", "sku", "product_id", "title", "quantity", "price"},
    "refunds": {"id", "created_at", "refund_line_items"},
    "discount_codes": {"code", "amount", "type"},
}


@pytest.mark.parametrize("entity", CSV_ENTITIES)
def test_every_csv_line_not_on_record_loads(messy, entity):
    _, out, truth = messy
    bad = rejected(truth)
    header = HEADERS[ENTITY_FOLDERS[entity]].split(",")
    checked = 0
    for f in files_of(out, entity):
        for number, row in enumerate(csv_rows(f), start=1):
            if number == 1 or (rel(out, f), number) in bad:
                continue
            assert len(row) == len(header), (f, number)
            record = dict(zip(header, row, strict=True))
            for column in TYPED[entity]:
                _check_csv_value(column, record[column])
            checked += 1
    assert checked > 100


def _check_nested(entity: str, obj: dict) -> None:
    for name, keys in NESTED.items():
        if name not in obj:
            continue
        if entity == "shop_checkouts":  # a checkout's customer has no names, its items no ids
            keys = keys - ({"first_name", "last_name"} if name == "customer" else {"id"})
        values = obj[name] if isinstance(obj[name], list) else [obj[name]]
        for value in values:
            assert set(value) == keys, (name, value)
    for refund in obj.get("refunds", []):
        for item in refund["refund_line_items"]:
            assert set(item) == {"line_item_id", "quantity", "subtotal"}


@pytest.mark.parametrize("entity", JSON_ENTITIES)
def test_every_json_line_not_on_record_parses_with_its_fields(messy, entity):
    _, out, truth = messy
    bad = rejected(truth)
    fields = {
        "crm_consent": CONSENT_FIELDS,
        "shop_orders": ORDER_FIELDS,
        "shop_checkouts": CHECKOUT_FIELDS,
    }[entity]
    checked = 0
    for f in files_of(out, entity):
        for number, line in enumerate(read_lines(f), start=1):
            if (rel(out, f), number) in bad:
                continue
            obj = json.loads(line)
            assert set(obj) == fields
            assert isinstance(obj.get("id", 0), int)
            stamp = obj.get("created_at") or obj["occurred_at"]
            assert datetime.fromisoformat(stamp).utcoffset() == timedelta(0)
            for item in obj.get("line_items", []):
                assert isinstance(item["quantity"], int) and item["quantity"] > 0
                assert re.fullmatch(r"\d+\.\d{2}", item["price"])
            if entity != "crm_consent":
                assert re.fullmatch(r"\d+\.\d{2}", obj["total_price"])
                _check_nested(entity, obj)
            checked += 1
    assert checked > 100


def test_pos_amounts_add_up(clean):
    _, out, _ = clean
    kinds = Counter()
    for f in files_of(out, "pos_transactions"):
        for r in dict_rows(f):
            qty, price = int(r["Qty"]), Decimal(r["Unit Price"])
            gross, disc, net = (Decimal(r[k]) for k in ("Gross Sales", "Discounts", "Net Sales"))
            assert gross == qty * price and net == gross + disc and disc <= 0
            assert r["Event Type"] in ("Payment", "Refund")
            assert (qty < 0) == (r["Event Type"] == "Refund")
            assert f.name.endswith(f"{r['Date']}.csv")
            assert f.parent.name == r["Date"]
            kinds[r["Event Type"]] += 1
            kinds[r["Payment Method"]] += 1
            kinds["phone" if r["Customer Phone"] else "loyalty" if r["Loyalty ID"] else "anon"] += 1
    assert kinds["Refund"] > 0 and kinds["Payment"] > 20 * kinds["Refund"]
    assert {"Card", "Cash", "Mobile", "Gift Card"} <= set(kinds)
    total = kinds["phone"] + kinds["loyalty"] + kinds["anon"]
    assert 0.35 < kinds["phone"] / total < 0.6
    assert 0.1 < kinds["loyalty"] / total < 0.3


def test_shop_orders_life_cycle(clean):
    _, out, _ = clean
    versions = defaultdict(list)
    for f in files_of(out, "shop_orders"):
        for line in read_lines(f):
            o = json.loads(line)
            assert f.parent.name == o["updated_at"][:10]
            versions[o["id"]].append(o)
    statuses = Counter(v[-1]["financial_status"] for v in versions.values())
    assert {"paid", "pending", "refunded", "partially_refunded", "voided"} <= set(statuses)
    assert statuses["paid"] > 0.8 * len(versions)
    updated = [v for v in versions.values() if len(v) > 1]
    assert updated
    for v in updated:
        assert len(v) == 2 and v[1]["updated_at"] > v[0]["updated_at"]
        assert v[0]["created_at"] == v[1]["created_at"] and not v[0]["refunds"]
    for v in versions.values():
        last = v[-1]
        subtotal = sum(Decimal(i["price"]) * i["quantity"] for i in last["line_items"])
        assert Decimal(last["subtotal_price"]) == subtotal - Decimal(last["total_discounts"])
        if last["discount_codes"]:
            assert last["discount_codes"][0]["amount"] == last["total_discounts"]
        if last["financial_status"] in ("refunded", "partially_refunded"):
            assert last["refunds"] and last["refunds"][0]["refund_line_items"]
        assert (last["cancelled_at"] is None) == (last["cancel_reason"] is None)


def test_abandoned_checkouts_some_completed_by_matching_orders(clean):
    _, out, _ = clean
    orders = {}
    for f in files_of(out, "shop_orders"):
        for line in read_lines(f):
            o = json.loads(line)
            orders[(o["customer"]["id"], o["created_at"])] = o
    completed, abandoned = [], 0
    for f in files_of(out, "shop_checkouts"):
        for line in read_lines(f):
            c = json.loads(line)
            if c["completed_at"]:
                completed.append(c)
            else:
                abandoned += 1
    assert completed and abandoned > 2 * len(completed)
    for c in completed:
        order = orders[(c["customer"]["id"], c["completed_at"])]
        assert sorted((i["sku"], i["quantity"]) for i in c["line_items"]) == sorted(
            (i["sku"], i["quantity"]) for i in order["line_items"]
        )


def test_crm_contacts_reappear_when_modified(clean):
    _, out, _ = clean
    seen = defaultdict(list)
    for f in files_of(out, "crm_contacts"):
        for r in dict_rows(f):
            assert f.parent.name == r["Last Modified Date"][:10]
            seen[r["Record ID"]].append(r)
    again = [v for v in seen.values() if len(v) > 1]
    assert len(again) > 0.2 * len(seen)
    for v in again:
        stamps = [r["Last Modified Date"] for r in v]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert len({r["Create Date"] for r in v}) == 1
    tickets = Counter()
    for f in files_of(out, "crm_tickets"):
        for r in dict_rows(f):
            assert r["Contact ID"] in seen
            tickets[r["Status"]] += 1
    assert tickets["open"] > 0 and tickets["closed"] > 0


# --- people, phones, identity ------------------------------------------------------------------


def test_invoices_are_redelivered_when_they_change_and_match_the_truth(clean):
    summary, out, truth = clean
    header = HEADERS["pos/invoices"].split(",")
    versions = defaultdict(list)
    for f in files_of(out, "pos_invoices"):
        assert f.name == f"invoices-{f.parent.name}.csv"
        for row in csv_rows(f)[1:]:
            r = dict(zip(header, row, strict=True))
            versions[r["Invoice No"]].append((f.parent.name, r))
    final = pq.read_table(truth / "invoices.parquet").to_pandas().set_index("invoice_id")
    assert set(versions) == set(final.index)
    people = pq.read_table(truth / "people.parquet").num_rows
    # A minority buys on account: a few percent of the customers.
    assert 0.01 * people <= final.person_id.nunique() <= 0.06 * people
    for number, rows in versions.items():
        days = [d for d, _ in rows]
        assert days == sorted(days) and len(set(days)) == len(days), number  # one per day
        first, last = rows[0][1], rows[-1][1]
        assert first["Status"] == "open" and first["Issue Date"] == days[0]
        assert last["Status"] == final.loc[number, "status"]
        assert Decimal(last["Balance"]) * 100 == int(final.loc[number, "balance_cents"])
        assert last["Due Date"] > last["Issue Date"]
        if last["Status"] == "paid":
            assert last["Paid Date"] == days[-1] and len(rows) >= 2
    assert set(final.status) == {"open", "partially paid", "paid", "void"}
    # Some rows carry the card only, no phone: identity must come from the loyalty id.
    rows = [r for rs in versions.values() for _, r in rs]
    assert any(not r["Customer Phone"] and r["Loyalty ID"] for r in rows)
    assert summary.details["invoices"]["invoices"] == len(final)


def test_truth_people_shape(messy):
    _, _, truth = messy
    p = people(truth)
    assert len(p) == 1500 and p.person_id.is_unique
    assert p.email.is_unique and p.phone_e164.is_unique
    assert (p.email == p.email.str.strip().str.lower()).all()
    shares = p.country.value_counts(normalize=True)
    assert abs(shares["US"] - 0.45) < 0.06 and abs(shares["TR"] - 0.15) < 0.05
    zones = set(p[p.country == "US"].time_zone)
    assert zones == {"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"}
    assert dict(p.groupby("country").currency.first()) == {
        "US": "USD",
        "GB": "GBP",
        "DE": "EUR",
        "TR": "TRY",
    }
    assert abs(p.is_prospect.mean() - 0.30) < 0.05
    assert (p[p.is_prospect].n_orders == 0).all() and (p[~p.is_prospect].n_orders > 0).all()
    assert 0.55 < p.crm_contact_id.notna().mean() < 0.85
    assert set(p.consent_state_at_end) == {"opted_in", "opted_out", "none"}
    names = set(p.first_name) | set(p.last_name)
    assert any("'" in n for n in names) and any(ch in "".join(names) for ch in "üöäŞşİıç")


def test_phones_are_valid_mobiles_typed_in_every_format(messy):
    _, out, truth = messy
    p = people(truth)
    for e164, country in zip(p.phone_e164, p.country, strict=True):
        number = phonenumbers.parse(e164)
        assert phonenumbers.is_valid_number(number), e164
        assert phonenumbers.region_code_for_number(number) == country
        assert phonenumbers.number_type(number) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
    by_phone = dict(zip(p.phone_e164, p.country, strict=True))
    stores = {r[0]: r[2] for r in csv_rows(out / "pos/stores.csv")[1:]}
    typed = defaultdict(set)
    for f in files_of(out, "pos_transactions"):
        for r in csv_rows(f)[1:]:
            if len(r) == 19 and r[17] and r[17] not in JUNK_PHONES:
                typed[stores[r[4]]].add(r[17])
    for f in files_of(out, "crm_contacts"):
        for r in csv_rows(f)[1:]:
            if len(r) == 12 and r[4] and r[4] not in JUNK_PHONES:
                typed[r[8]].add(r[4])
    for country, values in typed.items():
        for value in values:
            number = phonenumbers.parse(value, country)
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            assert by_phone[e164] == country, value
        for pattern in PHONE_FORMATS[country]:
            assert any(re.fullmatch(pattern, v) for v in values), (country, pattern)
    for junk in JUNK_PHONES:
        for region in ("US", "GB", "DE", "TR"):
            with contextlib.suppress(phonenumbers.NumberParseException):
                assert not phonenumbers.is_valid_number(phonenumbers.parse(junk, region))


def test_big_spenders_spend_over_ten_times_the_average(messy, clean):
    for _, _, truth in (messy, clean):
        p = people(truth)
        big = p[p.is_big_spender]
        assert (p.is_big_spender == (p.archetype == "big_spender")).all()
        assert 0.01 < len(big) / len(p) < 0.035
        assert (big.total_spend_usd > 10 * p.total_spend_usd.mean()).all()
        assert (big.total_spend_usd > 10 * p[~p.is_prospect].total_spend_usd.mean()).all()
        assert (p[~p.is_big_spender].total_spend_usd < 10 * p.total_spend_usd.mean()).all()


def test_lapsed_buyers_stopped_over_six_months_before_the_end(messy):
    _, _, truth = messy
    p = people(truth)
    end = datetime(END.year, END.month, END.day, tzinfo=UTC) + timedelta(days=1)
    six_months_ago = end - timedelta(days=182)
    buyers = p[~p.is_prospect]
    lapsed = buyers[buyers.is_lapsed]
    assert 0.12 < len(lapsed) / len(buyers) < 0.28
    assert (lapsed.last_order_at < six_months_ago).all()
    assert (buyers[~buyers.is_lapsed].last_order_at >= six_months_ago).all()
    assert (buyers.first_order_at <= buyers.last_order_at).all()
    # A store sale late on the last local day can fall on the next UTC day.
    assert (buyers.last_order_at < end + timedelta(hours=12)).all()


def test_people_link_across_systems_by_phone_and_email(clean):
    _, out, truth = clean
    p = people(truth)
    by_phone = dict(zip(p.phone_e164, p.person_id, strict=True))
    by_email = dict(zip(p.email, p.person_id, strict=True))
    stores = {r[0]: r[2] for r in csv_rows(out / "pos/stores.csv")[1:]}

    def e164(value, region):
        return phonenumbers.format_number(
            phonenumbers.parse(value, region), phonenumbers.PhoneNumberFormat.E164
        )

    pos = set()
    for f in files_of(out, "pos_transactions"):
        for r in dict_rows(f):
            if r["Customer Phone"]:
                pos.add(by_phone[e164(r["Customer Phone"], stores[r["Location ID"]])])
    crm = {}
    for f in files_of(out, "crm_contacts"):
        for r in dict_rows(f):
            if r["Email"]:
                crm[r["Record ID"]] = by_email[r["Email"].strip().lower()]
    shop = {}
    for f in files_of(out, "shop_orders"):
        for line in read_lines(f):
            o = json.loads(line)
            shop[o["customer"]["id"]] = by_email[o["email"].strip().lower()]
            assert by_email[o["customer"]["email"]] == shop[o["customer"]["id"]]
    truth_crm = dict(zip(p.crm_contact_id, p.person_id, strict=True))
    truth_shop = dict(zip(p.shop_customer_id, p.person_id, strict=True))
    assert all(truth_crm[k] == v for k, v in crm.items())
    assert all(truth_shop[k] == v for k, v in shop.items())
    everywhere = pos & set(crm.values()) & set(shop.values())
    assert len(everywhere) > 0.05 * len(p)
    # Ids differ between systems: a CRM record id is never a shop customer id.
    assert not set(crm) & {str(k) for k in shop}


def test_consent_events(clean):
    _, out, truth = clean
    p = people(truth)
    by_phone = dict(zip(p.phone_e164, p.person_id, strict=True))
    state = {}
    sources, versions = Counter(), Counter()
    events = []
    for f in files_of(out, "crm_consent"):
        events += [json.loads(x) for x in read_lines(f)]
    for e in sorted(events, key=lambda e: e["occurred_at"]):
        sources[(e["source"], e["event_type"])] += 1
        versions[e["consent_text_version"]] += 1
        if e["source"] == "keyword":
            assert e["phone"].startswith("+") and e["keyword"]
        else:
            assert e["keyword"] is None
        number = phonenumbers.parse(e["phone"], e["country_code"])
        pid = by_phone[phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)]
        state[pid] = "opted_in" if e["event_type"] == "opt_in" else "opted_out"
    assert {
        ("web_form", "opt_in"),
        ("pos_keypad", "opt_in"),
        ("keyword", "opt_in"),
        ("checkout_box", "opt_in"),
        ("keyword", "opt_out"),
    } <= set(sources)
    assert versions["sms-terms-v1"] and versions["sms-terms-v2"]
    expected = {
        pid: s for pid, s in zip(p.person_id, p.consent_state_at_end, strict=True) if s != "none"
    }
    assert state == expected


# --- mess ---------------------------------------------------------------------------------------

CSV_CASTS = {
    "Qty": "INTEGER",
    "Unit Price": "DECIMAL(18,2)",
    "Date": "DATE",
    "Create Date": "TIMESTAMP",
    "Last Modified Date": "TIMESTAMP",
    "Created At": "TIMESTAMP",
    "Amount": "DECIMAL(18,2)",
    "Issue Date": "DATE",
    "Due Date": "DATE",
}


def _fails_cast(value: str, sql_type: str) -> bool:
    return duckdb.execute(f"SELECT TRY_CAST(? AS {sql_type}) IS NULL", [value]).fetchall()[0][0]


def test_mess_log_points_at_lines_a_loader_must_reject(messy):
    _, out, truth = messy
    log = mess_log(truth)
    kinds = Counter((m["entity"], m["kind"]) for m in log)
    for entity in CSV_ENTITIES[:2] + JSON_ENTITIES:
        assert kinds[(entity, "malformed")] > 0 and kinds[(entity, "wrong_type")] > 0, entity
    assert len({(m["file"], m["line"]) for m in log}) == len(log)
    columns = Counter()
    for m in log:
        line = read_lines(out / m["file"])[m["line"] - 1]
        assert m["file"].startswith(ENTITY_FOLDERS[m["entity"]] + "/")
        if m["kind"] == "future_dated":
            # A well-formed row dated a year or more after the day its file was delivered.
            if m["entity"] in CSV_ENTITIES:
                header = HEADERS[ENTITY_FOLDERS[m["entity"]]].split(",")
                value = next(csv.reader([line]))[header.index(m["column"])]
            else:
                obj = json.loads(line)
                value = obj[m["column"]]
                assert obj.get("event_type") != "opt_out"  # a STOP is loaded, whatever its date
            delivered = date.fromisoformat(m["file"].split("/")[-2])
            assert value[:10] >= str(delivered + timedelta(days=365)), (m, value)
            columns[(m["entity"], m["column"])] += 1
            continue
        if m["entity"] in CSV_ENTITIES:
            header = HEADERS[ENTITY_FOLDERS[m["entity"]]].split(",")
            row = next(csv.reader([line]))
            if m["kind"] == "malformed":
                assert len(row) != len(header) and m["column"] is None
            elif m["kind"] == "missing_required":
                assert len(row) == len(header) and row[header.index(m["column"])] == ""
            else:
                assert len(row) == len(header)
                value = row[header.index(m["column"])]
                assert _fails_cast(value, CSV_CASTS[m["column"]]), (m, value)
        elif m["kind"] == "malformed":
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
        else:
            obj = json.loads(line)
            if m["column"] == "id":
                assert not isinstance(obj["id"], int)
            elif m["column"] == "line_items[].quantity":
                assert any(not isinstance(i["quantity"], int) for i in obj["line_items"])
            else:
                assert _fails_cast(obj[m["column"]], "TIMESTAMPTZ"), obj[m["column"]]
        columns[(m["entity"], m["column"])] += 1
    assert columns[("pos_transactions", "Qty")] and columns[("pos_transactions", "Unit Price")]
    assert columns[("pos_transactions", "Date")]
    assert columns[("shop_orders", "line_items[].quantity")] and columns[("shop_orders", "id")]


@pytest.mark.parametrize("entity", CSV_ENTITIES)
def test_duckdb_alone_rejects_the_logged_lines_except_the_shifted_ones(messy, entity):
    """DuckDB's reader rejects every malformed line but one shape: a line with one extra
    *empty* trailing field, which it forgives and loads shifted by a column. The generator
    plants that shape on purpose; the loader's structural scan must catch it
    (tests/integration/test_ingest_pipeline.py checks the loader against the whole log)."""
    _, out, truth = messy
    header = HEADERS[ENTITY_FOLDERS[entity]].split(",")
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in header) + "}"
    con = duckdb.connect()
    con.sql(
        f"SELECT * FROM read_csv('{out / ENTITY_FOLDERS[entity]}/*/*.csv', header=true, "
        f"auto_detect=false, columns={columns}, strict_mode=true, store_rejects=true, "
        f"filename=true)"
    ).fetchall()
    scans = dict(con.sql("SELECT file_id, file_path FROM reject_scans").fetchall())
    got = {
        (Path(scans[f]).relative_to(out).as_posix(), int(line))
        for f, line in con.sql("SELECT file_id, line FROM reject_errors").fetchall()
    }
    malformed = [m for m in mess_log(truth) if m["entity"] == entity and m["kind"] == "malformed"]
    forgiven = set()
    for m in malformed:
        row = next(csv.reader([read_lines(out / m["file"])[m["line"] - 1]]))
        if len(row) == len(header) + 1 and row[-1] == "":
            forgiven.add((m["file"], m["line"]))
    assert got == {(m["file"], m["line"]) for m in malformed} - forgiven
    if entity == "pos_transactions":  # its lines often end empty (no loyalty id)
        assert forgiven


def test_counted_mess_kinds_appear(messy):
    _, out, truth = messy
    counts = json.loads((truth / "mess_summary.json").read_text())
    for entity in ("pos_transactions", "crm_contacts", "shop_orders", "shop_checkouts"):
        for kind in ("duplicate", "invalid_phone", "future_timestamp"):
            assert counts[entity][kind] > 0, (entity, kind)
    logged = Counter((m["entity"], m["kind"]) for m in mess_log(truth))
    for (entity, kind), n in logged.items():
        assert counts[entity][kind] == n
    # Exact duplicates really are exact repeats of a line in the same file.
    dupes = 0
    for f in files_of(out, "shop_orders") + files_of(out, "pos_transactions"):
        lines = read_lines(f)
        dupes += len(lines) - len(set(lines))
    assert dupes == counts["shop_orders"]["duplicate"] + counts["pos_transactions"]["duplicate"]
    # Future timestamps are a year or more after the end; copies of such rows don't count.
    bad = {(m["file"], m["line"]) for m in mess_log(truth) if m["kind"] != "future_dated"}
    future, future_lines = set(), set()
    for f in files_of(out, "pos_transactions"):
        for number, line in enumerate(read_lines(f)[1:], start=2):
            day = line[:10]
            if (rel(out, f), number) not in bad and day >= str(END + timedelta(days=365)):
                future.add((f, line))
                future_lines.add((rel(out, f), number))
    assert len(future) == counts["pos_transactions"]["future_timestamp"]
    # Each such line, and each exact copy of one, is logged for the loader to quarantine.
    assert future_lines == {
        (m["file"], m["line"])
        for m in mess_log(truth)
        if m["entity"] == "pos_transactions" and m["kind"] == "future_dated"
    }


def test_late_files_keep_their_name_in_a_later_folder(messy):
    _, out, truth = messy
    counts = json.loads((truth / "mess_summary.json").read_text())["pos_transactions"]
    late = 0
    for f in files_of(out, "pos_transactions"):
        own_day = date.fromisoformat(f.stem[-10:])
        delay = (date.fromisoformat(f.parent.name) - own_day).days
        assert 0 <= delay <= 3
        late += delay > 0
    assert late == counts["late_file"] > 0


def test_no_mess_at_rate_zero(clean):
    summary, out, truth = clean
    assert (truth / "mess.jsonl").read_text() == ""
    counts = json.loads((truth / "mess_summary.json").read_text())
    assert all(v == 0 for kinds in counts.values() for v in kinds.values())
    phone_column = {"pos_transactions": 17, "crm_contacts": 4}
    for entity in ENTITY_FOLDERS:
        for f in files_of(out, entity):
            lines = read_lines(f)
            assert len(lines) == len(set(lines)), f
            if entity in JSON_ENTITIES:
                for line in lines:
                    obj = json.loads(line)
                    assert obj["phone"] not in JUNK_PHONES
                continue
            for row in csv_rows(f):
                assert len(row) == len(lines[0].split(","))
                if entity in phone_column:
                    assert row[phone_column[entity]] not in JUNK_PHONES
            if entity == "pos_transactions":
                assert f.parent.name == f.stem[-10:]
    assert summary.mess["pos_transactions"]["late_file"] == 0


def test_rates_are_validated(tmp_path):
    with pytest.raises(ValueError):
        generate(
            out=tmp_path,
            truth_dir=tmp_path / "t",
            customers=10,
            days=5,
            seed=1,
            end=END,
            mess_rate=0.5,
        )


def test_the_demo_command_line_offers_generate_and_run(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    usage = " ".join(capsys.readouterr().out.split())
    assert "python -m demo generate" in usage and "python -m demo run" in usage
    with pytest.raises(SystemExit) as exc:
        main(["run", "--uplift", "winback=lots"])
    assert "'lots' is not a number" in str(exc.value)
