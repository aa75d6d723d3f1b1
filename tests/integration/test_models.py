"""The dbt models on generated data, through Dagster, checked against the generator's truth.

The generator knows who every person is (their CRM contact, shop account, phone,
e-mail), what they spent, whether they are a big spender, lapsed or a prospect,
and their consent at the end. The marts must say the same.
"""

import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance

from dagster_project.definitions import defs, materialize_selection
from dagster_project.ingest.assets import daily_assets, reference_assets
from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.lib.dbt_parse_cache import cache_path
from dagster_project.lib.dbt_unit_tests import code_fingerprint
from dagster_project.transform import DBT_DIR, dbt_models, run_dbt

END = date(2026, 11, 21)
AS_OF = "2026-11-22"
DAYS = 400
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


# The first build sees all but the last LATE_DAYS delivery days; they arrive afterwards
# and the second build is incremental (new orders, contacts that link existing customers).
LATE_DAYS = 30


@pytest.fixture(scope="module")
def built(tmp_path_factory, generated):
    base = tmp_path_factory.mktemp("models")
    generated(customers=2000, days=DAYS, seed=5, end=END).copy_to(base)
    start = date.fromordinal(END.toordinal() - DAYS + 1).isoformat()
    cut = END - timedelta(days=LATE_DAYS)
    dbt_config = {**QUIET, "ops": {"dbt_models": {"config": {"as_of": AS_OF}}}}
    warehouse = base / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMS_LANDING_DIR", str(base / "landing"))
        mp.setenv("SMS_WAREHOUSE_PATH", str(warehouse))
        with DagsterInstance.ephemeral() as instance:
            run = lambda selection, **kw: materialize_selection(  # noqa: E731
                selection, instance=instance, **kw
            )
            assert run(AssetSelection.assets(*reference_assets), run_config=QUIET).success
            assert run(
                AssetSelection.assets(*daily_assets),
                run_config=QUIET,
                tags={RANGE_START_TAG: start, RANGE_END_TAG: cut.isoformat()},
            ).success
            first = run(AssetSelection.assets(dbt_models), run_config=dbt_config)
            assert first.success
            with duckdb.connect(str(warehouse), read_only=True) as conn:
                before = dict(
                    conn.execute(
                        "SELECT identifier, customer_id FROM intermediate.int_identity__identifiers"
                    ).fetchall()
                )
            # The next days arrive; the build takes only what is new.
            assert run(
                AssetSelection.assets(*daily_assets),
                run_config=QUIET,
                tags={
                    RANGE_START_TAG: (cut + timedelta(days=1)).isoformat(),
                    RANGE_END_TAG: END.isoformat(),
                },
            ).success
            again = run(
                AssetSelection.assets(dbt_models), run_config=dbt_config, raise_on_error=False
            )
            incremental_ok = again.success
            checks = first.get_asset_check_evaluations() + again.get_asset_check_evaluations()
    # What dbt logged about parsing in each build (its own target folder, named by the run).
    parse_logs = [
        "".join(
            p.read_text() for p in (DBT_DIR / "target").glob(f"dbt_models-{r.run_id[:7]}-*/dbt.log")
        )
        for r in (first, again)
    ]
    # The same data built from scratch, in a copy.
    rebuilt = base / "rebuilt.duckdb"
    shutil.copy(warehouse, rebuilt)
    run_dbt("build", "--full-refresh", warehouse=rebuilt, work_dir=base, as_of=AS_OF)
    conn = duckdb.connect(str(warehouse), read_only=True)
    people = pd.read_parquet(base / "truth/people.parquet")
    yield {
        "conn": conn,
        "people": people,
        "checks": checks,
        "incremental_ok": incremental_ok,
        "before": before,
        "rebuilt": rebuilt,
        "parse_logs": parse_logs,
        "warehouse": warehouse,
    }
    conn.close()


def customer_of(conn, people: pd.DataFrame) -> pd.DataFrame:
    """Each generated person with the customer_ids their known identifiers resolved to.

    ``resolved`` marks people all of whose identifiers were seen and landed on one
    customer: the data linked them fully, so all their purchases are that customer's.
    """
    idents = conn.execute(
        "SELECT identifier, customer_id FROM intermediate.int_identity__identifiers "
        "WHERE customer_id IS NOT NULL"
    ).df()
    lookup = dict(zip(idents.identifier, idents.customer_id, strict=True))
    rows = []
    for p in people.itertuples():
        keys = [f"phone:{p.phone_e164}", f"email:{p.email}"]
        if isinstance(p.crm_contact_id, str):
            keys.append(f"crm:{p.crm_contact_id}")
        if not pd.isna(p.shop_customer_id):
            keys.append(f"shop:{int(p.shop_customer_id)}")
        if isinstance(p.loyalty_id, str):
            keys.append(f"loyalty:{p.loyalty_id}")
        found = {lookup[k] for k in keys if k in lookup}
        rows.append({"person_id": p.person_id, "customer_ids": found, "resolved": len(found) == 1})
    out = people.merge(pd.DataFrame(rows), on="person_id")
    out["customer_id"] = out.customer_ids.map(lambda s: next(iter(s)) if len(s) == 1 else None)
    return out


def python_components(conn) -> dict[str, str]:
    """Identity resolution done again, independently: union-find over the raw records."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def link(ids) -> None:
        ids = [i for i in ids if i]
        for other in ids[1:]:
            parent[find(other)] = find(ids[0])
        if ids:
            find(ids[0])

    records = conn.execute(
        """
        SELECT ['crm:' || record_id,
                CASE WHEN phone_is_valid THEN 'phone:' || phone_e164 END,
                'email:' || email_normalized] FROM raw.crm_contacts
        UNION ALL
        SELECT ['shop:' || customer_id, 'email:' || email_normalized,
                'email:' || customer_email_normalized,
                CASE WHEN phone_is_valid THEN 'phone:' || phone_e164 END,
                CASE WHEN customer_phone_is_valid THEN 'phone:' || customer_phone_e164 END]
        FROM raw.shop_orders
        UNION ALL
        SELECT ['shop:' || customer_id, 'email:' || email_normalized,
                'email:' || customer_email_normalized,
                CASE WHEN phone_is_valid THEN 'phone:' || phone_e164 END]
        FROM raw.shop_checkouts
        UNION ALL
        SELECT [CASE WHEN customer_phone_is_valid THEN 'phone:' || customer_phone_e164 END,
                'loyalty:' || loyalty_id] FROM raw.pos_transactions
        UNION ALL
        SELECT ['crm:' || contact_id, CASE WHEN phone_is_valid THEN 'phone:' || phone_e164 END]
        FROM raw.crm_consent
        """
    ).fetchall()
    for (ids,) in records:
        link(ids)
    return {node: find(node) for node in parent}


def test_dbt_tests_run_as_asset_checks_and_pass(built):
    checks = built["checks"]
    assert len(checks) > 50
    failed = [c.check_name for c in checks if not c.passed]
    assert failed == []


def test_a_second_incremental_build_succeeds(built):
    assert built["incremental_ok"]


def test_the_second_build_starts_from_the_first_builds_parse(built):
    """The build passes as_of (a dbt var) on a warehouse the project was not parsed for:
    the first build parses the whole project; the second, on the same warehouse with the
    same vars, starts from the parse the first kept beside it (lib/dbt_parse_cache)."""
    first, again = built["parse_logs"]
    assert "Unable to do partial parsing" in first
    assert "Unable to do partial parsing" not in again
    assert "Partial parsing enabled" in again
    assert cache_path(built["warehouse"]).exists()


def test_incremental_build_equals_a_full_refresh(built):
    """Every model the incremental run left equals the same model rebuilt from scratch.

    The late days must have exercised the hard path: identifiers new to the first build,
    and customers of the first build merged into another (their id gone).
    """
    conn = built["conn"]
    after = dict(
        conn.execute(
            "SELECT identifier, customer_id FROM intermediate.int_identity__identifiers"
        ).fetchall()
    )
    before = built["before"]
    assert len(after) > len(before)
    gone = {c for c in before.values() if c} - set(after.values())
    assert gone, "no customer was merged by the late days"
    moved = [i for i, c in before.items() if c is not None and after[i] != c]
    assert moved

    conn.execute(f"ATTACH '{built['rebuilt']}' AS rebuilt (READ_ONLY)")
    try:
        tables = conn.execute(
            """SELECT schema_name, table_name FROM duckdb_tables()
               WHERE database_name = 'warehouse' AND schema_name IN ('intermediate', 'marts')
                 AND table_name <> 'fct_customer_segment_history'  -- made by running, not rebuilt
               ORDER BY ALL"""
        ).fetchall()
        assert len(tables) >= 15
        differ = {}
        for schema, table in tables:
            columns = ", ".join(
                f'"{name}"'
                for (name,) in conn.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = 'warehouse' "
                    "AND schema_name = ? AND table_name = ? AND column_name <> '_built_at' "
                    "ORDER BY column_index",
                    [schema, table],
                ).fetchall()
            )
            a, b = f"warehouse.{schema}.{table}", f"rebuilt.{schema}.{table}"
            only_a, only_b = conn.execute(
                f"SELECT (SELECT count(*) FROM (SELECT {columns} FROM {a} "
                f"EXCEPT ALL SELECT {columns} FROM {b})), "
                f"(SELECT count(*) FROM (SELECT {columns} FROM {b} "
                f"EXCEPT ALL SELECT {columns} FROM {a}))"
            ).fetchone()
            if only_a or only_b:
                differ[f"{schema}.{table}"] = (only_a, only_b)
        assert differ == {}
    finally:
        conn.execute("DETACH rebuilt")


def test_one_lineage_from_landing_to_marts():
    graph = defs.get_repository_def().asset_graph
    stg = graph.get(AssetKey(["staging", "stg_pos__transactions"]))
    # dbt's source raw.pos_transactions *is* the ingest asset: one connected graph.
    upstream = graph.get(AssetKey(["raw", "pos_transactions"]))
    assert upstream.group_name == "ingest"
    assert AssetKey(["raw", "pos_transactions"]) in graph.get_ancestor_asset_keys(stg.key)
    assert stg.group_name == "staging"
    lifecycle = graph.get(AssetKey(["marts", "dim_customer_lifecycle"]))
    assert lifecycle.group_name == "marts"
    assert AssetKey(["raw", "crm_contacts"]) in graph.get_ancestor_asset_keys(lifecycle.key)


def test_identity_resolution_matches_an_independent_union_find(built):
    conn = built["conn"]
    dbt = dict(
        conn.execute(
            "SELECT identifier, customer_id FROM intermediate.int_identity__identifiers "
            "WHERE customer_id IS NOT NULL"
        ).fetchall()
    )
    hubs = {
        r[0]
        for r in conn.execute(
            "SELECT identifier FROM intermediate.int_identity__identifiers WHERE is_hub"
        ).fetchall()
    }
    py = python_components(conn)
    shared = [i for i in dbt if i in py]
    assert len(shared) > 0.95 * len(dbt)
    # Same partition: identifiers together in one are together in the other.
    pairs = {(py[i], dbt[i]) for i in shared}
    py_to_dbt = pd.Series([b for _, b in pairs]).groupby([a for a, _ in pairs]).nunique()
    dbt_to_py = pd.Series([a for a, _ in pairs]).groupby([b for _, b in pairs]).nunique()
    if not hubs:  # a hub links nobody in dbt; the plain union-find would merge through it
        assert (py_to_dbt == 1).all()
    assert (dbt_to_py == 1).all()


def test_people_the_data_links_resolve_to_one_customer(built):
    mapped = customer_of(built["conn"], built["people"])
    # The demo data links most people fully; those it cannot (a loyalty card never
    # shown with the phone, a CRM contact without a phone) stay apart, by design.
    assert mapped.resolved.mean() > 0.75
    owners = mapped[mapped.resolved].customer_id
    assert owners.duplicated().mean() < 0.02  # a customer is rarely two people


def test_known_people_land_in_their_stage_and_segments(built):
    conn = built["conn"]
    mapped = customer_of(conn, built["people"])
    mapped = mapped[mapped.resolved].copy()
    stage = dict(
        conn.execute(
            "SELECT customer_id, lifecycle_stage FROM marts.dim_customer_lifecycle"
        ).fetchall()
    )
    segments = (
        conn.execute("SELECT customer_id, segment FROM marts.dim_customer_segments")
        .df()
        .groupby("customer_id")
        .segment.agg(set)
    )
    mapped["stage"] = mapped.customer_id.map(stage)
    mapped["segments"] = mapped.customer_id.map(segments).map(
        lambda s: s if isinstance(s, set) else set()
    )

    big = mapped[mapped.is_big_spender]
    assert len(big) > 0
    assert big.segments.map(lambda s: "big_spender" in s).mean() > 0.9
    lapsed = mapped[mapped.is_lapsed]
    assert (lapsed.stage == "lapsed").mean() > 0.9
    assert lapsed.segments.map(lambda s: "lapsed" in s).mean() > 0.9
    # The example: a lapsed big spender is in both segments.
    both = mapped[mapped.is_big_spender & mapped.is_lapsed]
    assert len(both) > 0
    for segs in both.segments:
        assert {"big_spender", "lapsed"} <= segs
    prospects = mapped[mapped.is_prospect]
    assert (prospects.stage == "prospect").mean() > 0.95
    # Online orders always carry the buyer; in store a buyer may pay anonymously only,
    # and then, rightly, the data cannot tell them from a prospect. A few online buyers
    # had their only order's date planted years in the future: not a purchase, rightly.
    online_buyers = mapped[~mapped.is_prospect & (mapped.channel == "online")]
    assert len(online_buyers) > 0
    assert online_buyers.stage.eq("prospect").mean() < 0.01


def test_revenue_matches_what_online_buyers_spent(built):
    """Net of refunds, cancellations excluded, in USD. Online only: in store, the truth
    also counts anonymous sales that no system can attribute to anyone."""
    conn = built["conn"]
    mapped = customer_of(conn, built["people"])
    mapped = mapped[mapped.resolved & (mapped.n_orders > 0) & (mapped.channel == "online")].copy()
    assert len(mapped) > 20
    revenue = dict(
        conn.execute("SELECT customer_id, revenue_amount FROM marts.dim_customers").fetchall()
    )
    mapped["revenue"] = mapped.customer_id.map(revenue).astype(float)
    close = (mapped.revenue - mapped.total_spend_usd).abs() <= 0.01 * mapped.total_spend_usd + 0.05
    assert close.mean() > 0.95, mapped.loc[~close, ["total_spend_usd", "revenue"]].head()


def test_consent_state_per_phone_matches_the_last_event(built):
    conn = built["conn"]
    people = built["people"]
    state = dict(
        conn.execute("SELECT phone_e164, consent_state FROM marts.dim_sms_consent").fetchall()
    )
    for truth, expected in [("opted_in", "opted_in"), ("opted_out", "opted_out")]:
        group = people[people.consent_state_at_end == truth]
        assert len(group) > 0
        agree = group.phone_e164.map(state).eq(expected).mean()
        assert agree > 0.95, (truth, agree)
    never = people[people.consent_state_at_end == "none"].phone_e164.map(state)
    assert not never.eq("opted_in").any()


def test_exactly_one_lifecycle_stage_per_customer(built):
    conn = built["conn"]
    customers, staged, dupes = conn.execute(
        """SELECT (SELECT count(*) FROM marts.dim_customers),
                  (SELECT count(*) FROM marts.dim_customer_lifecycle),
                  (SELECT count(*) - count(DISTINCT customer_id) FROM marts.dim_customer_lifecycle)"""
    ).fetchone()
    assert customers == staged and dupes == 0


def test_reachability_is_one_verdict_per_phone_that_the_audience_and_consent_agree_with(built):
    """dim_sms_reachability on the generated world: every phone of the phone cache, the
    consent events and the suppression list exactly once; its facts are those of
    dim_sms_consent and dim_sms_suppression; its verdicts follow the funnel's order with today's
    reasons (the dbt unit tests pin each case); dim_sms_audience is inside it."""
    conn = built["conn"]
    rows, phones, expected = conn.execute(
        """SELECT (SELECT count(*) FROM marts.dim_sms_reachability),
                  (SELECT count(DISTINCT phone_e164) FROM marts.dim_sms_reachability),
                  (SELECT count(*) FROM (
                      SELECT e164 FROM ingest.phone_cache WHERE e164 IS NOT NULL
                      UNION SELECT phone_e164 FROM marts.dim_sms_consent
                      UNION SELECT phone_e164 FROM marts.dim_sms_suppression))"""
    ).fetchone()
    assert rows == phones == expected > 0
    view = conn.execute("SELECT * FROM marts.dim_sms_reachability").df().set_index("phone_e164")
    consent = dict(
        conn.execute("SELECT phone_e164, consent_state FROM marts.dim_sms_consent").fetchall()
    )
    assert view.consent_state.to_dict() == {p: consent.get(p, "none") for p in view.index}
    suppressed = set(
        conn.execute("SELECT DISTINCT phone_e164 FROM marts.dim_sms_suppression").df().phone_e164
    )
    assert set(view.index[view.suppression_reasons.notna()]) == suppressed

    # The funnel's order: a phone fails at the first step that fails.
    capable = view.phone_is_valid & view.phone_type.isin(["mobile", "fixed_line_or_mobile"])
    assert (view.marketing_blocked_step[~capable] == "valid_mobile").all()
    assert (view.transactional_blocked_step[~capable] == "valid_mobile").all()
    on = capable & (view.consent_state == "opted_out")
    assert on.any() and (view.marketing_blocked_reason[on] == "opted out").all()
    assert (view.transactional_blocked_reason[on].str.startswith("suppressed: ")).all()
    on = capable & (view.consent_state == "none")
    assert on.any() and (view.marketing_blocked_reason[on] == "no opt-in on record").all()
    on = capable & (view.consent_state == "opted_in") & ~view.has_complete_opt_in_record
    assert (
        view.marketing_blocked_reason[on]
        == "opt-in record incomplete (source or text version missing)"
    ).all()
    on = capable & view.has_complete_opt_in_record & view.is_shared_hub_phone
    assert (view.marketing_blocked_step[on] == "opt_in").all()
    on = capable & view.has_complete_opt_in_record & ~view.is_shared_hub_phone
    blocked = on & view.suppression_reasons.notna()
    assert (
        view.marketing_blocked_reason[blocked] == "suppressed: " + view.suppression_reasons[blocked]
    ).all()
    assert view.may_receive_marketing[on & ~blocked].all() and view.may_receive_marketing.any()
    assert (view.may_receive_marketing == view.marketing_blocked_step.isna()).all()
    # A phone that may receive marketing may receive a transactional message too.
    assert view.may_receive_transactional[view.may_receive_marketing].all()

    audience = conn.execute("SELECT phone_e164 FROM marts.dim_sms_audience").df().phone_e164
    assert len(audience) > 0 and view.may_receive_marketing[audience].all()


def test_the_journey_event_stream_agrees_with_the_marts(built):
    """fct_customer_events says what the marts say: every event's customer is in
    dim_customers; every purchase with a customer is an order event and each buyer has exactly one first order, their earliest; every checkout
    the abandoned-checkout mart holds is a checkout event; each phone's latest consent event
    is the state dim_sms_consent gives it (phones with a customer)."""
    conn = built["conn"]
    purchases, orders, buyers, firsts, wrong_first = conn.execute(
        """
        WITH firsts AS (
            SELECT customer_id, event_at FROM marts.fct_customer_events
            WHERE event_type = 'order' AND is_first_order)
        SELECT
            (SELECT count(*) FROM marts.fct_orders WHERE is_purchase AND customer_id IS NOT NULL),
            (SELECT count(*) FROM marts.fct_customer_events WHERE event_type = 'order'),
            (SELECT count(DISTINCT customer_id) FROM marts.fct_orders
             WHERE is_purchase AND customer_id IS NOT NULL),
            (SELECT count(*) FROM firsts),
            (SELECT count(*) FROM firsts JOIN (
                SELECT customer_id, min(ordered_at) AS first_at FROM marts.fct_orders
                WHERE is_purchase GROUP BY 1) AS o USING (customer_id)
             WHERE firsts.event_at <> o.first_at)
        """
    ).fetchone()
    assert orders == purchases > 0
    assert firsts == buyers and wrong_first == 0
    strangers = conn.execute(
        """SELECT count(*) FROM marts.fct_customer_events
           WHERE customer_id NOT IN (SELECT customer_id FROM marts.dim_customers)"""
    ).fetchone()[0]
    assert strangers == 0
    missing_checkouts = conn.execute(
        """SELECT count(*) FROM intermediate.int_customers__abandoned_checkouts
           WHERE 'checkout:' || checkout_id NOT IN (
               SELECT event_id FROM marts.fct_customer_events)"""
    ).fetchone()[0]
    assert missing_checkouts == 0
    disagree, compared = conn.execute(
        """
        WITH latest AS (
            SELECT phone_e164, event_type FROM marts.fct_customer_events
            WHERE event_type IN ('opt_in', 'opt_out')
            QUALIFY row_number() OVER (
                PARTITION BY phone_e164
                ORDER BY event_at DESC, (event_type = 'opt_out') DESC, event_id DESC) = 1)
        SELECT count(*) FILTER (WHERE c.consent_state <> CASE latest.event_type
                   WHEN 'opt_in' THEN 'opted_in' ELSE 'opted_out' END),
               count(*)
        FROM latest JOIN marts.dim_sms_consent AS c USING (phone_e164)
        """
    ).fetchone()
    assert compared > 0 and disagree == 0


def test_the_first_build_passed_every_unit_test_and_the_daily_one_could_skip_them(built):
    """The stamp beside the warehouse: every dbt unit test passed on this code (docs/models.md)."""
    warehouse = built["rebuilt"].parent / "warehouse.duckdb"
    stamp = Path(f"{warehouse}.unit-tested")
    assert stamp.read_text().strip() == code_fingerprint(DBT_DIR)


def test_a_failing_property_fails_the_build_naming_model_column_and_property(built, capfd):
    broken = built["rebuilt"].parent / "broken.duckdb"
    shutil.copy(built["rebuilt"], broken)
    with duckdb.connect(str(broken)) as conn:
        conn.execute(
            "UPDATE marts.dim_customer_rfm SET rfm_segment = NULL WHERE customer_id IN "
            "(SELECT customer_id FROM marts.dim_customer_rfm ORDER BY ALL LIMIT 3)"
        )
        # a number as typed, not E.164 (and one whose first digit is 0)
        conn.execute(
            "UPDATE marts.dim_customers SET phone_e164 = CASE WHEN customer_id = "
            "(SELECT min(customer_id) FROM marts.dim_customers WHERE phone_e164 IS NOT NULL) "
            "THEN '0151 2345678' ELSE '+0151234567' END WHERE customer_id IN "
            "(SELECT customer_id FROM marts.dim_customers WHERE phone_e164 IS NOT NULL "
            "ORDER BY customer_id LIMIT 2)"
        )
    capfd.readouterr()
    with pytest.raises(subprocess.CalledProcessError):
        run_dbt(
            "test", "--select", "dim_customer_rfm,test_type:data", "dim_customers,test_type:data",
            warehouse=broken, work_dir=built["rebuilt"].parent, as_of=AS_OF,
        )  # fmt: skip
    out = capfd.readouterr().out
    assert "properties of dim_customer_rfm failed: rfm_segment not_null in 3 rows" in out
    assert "properties of dim_customers failed: phone_e164 is_e164 in 2 rows" in out
