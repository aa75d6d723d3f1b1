"""The demo loop (``python -m demo run``): send on a replayed day, recipients answer, attribution.

It drives the product only through the command line's run functions
(``dagster_project.pipeline.runs``), as an operator would, on a replayed clock.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

from dagster import DagsterInstance

from dagster_project import settings
from dagster_project.contracts.webhook_urls import webhook_secret
from dagster_project.pipeline.console import CommandError, say
from dagster_project.pipeline.runs import (
    advance_journeys,
    dispatch,
    ingest,
    landing_range,
    load_outcomes,
    plan,
    transform,
)
from demo import loop, recipients

# When the demo's dispatch runs (UTC) on the send day and the morning after: windows open
# at different hours in Berlin, Istanbul, London and New York.
DEMO_DISPATCH_HOURS = ((0, 8), (0, 10), (0, 13), (0, 16), (0, 19), (0, 22), (1, 8), (1, 10))


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def demo_days(send_day: date | None) -> tuple[date, date, date]:
    """(first landed day, send day, last landed day): by default the send day is a week back."""
    found = landing_range()
    if found is None:
        raise CommandError(
            f"no delivery-day folders under {settings.landing_dir()}: run `python -m demo generate`"
        )
    first, end = found
    send_day = send_day or end - timedelta(days=6)
    if not first < send_day <= end:
        raise CommandError(
            f"the send day {send_day} must lie within the landed days {first}..{end}"
        )
    return first, send_day, end


def demo_loop(
    instance: DagsterInstance,
    send_day: date | None,
    behaviour,
    *,
    history_built: bool = False,
    after_history=None,
) -> dict:
    """send -> outcomes -> attribution on the demo data, on a replayed clock.

    History up to the day before ``send_day`` is loaded and modelled as of
    ``send_day``; the campaigns are planned that morning and sent by dispatch
    runs through the day (sandbox gateway), the journeys advanced before each of
    them; recipients' receipts, replies, STOPs and clicks go to a running webhook
    receiver while the sends go on (a STOP
    before a dispatch run is honoured by it); their purchases land as POS files;
    then the rest of the days are loaded and the attribution marts built.

    ``history_built``: the warehouse already holds that history, modelled (a copy of
    another loop's at that point, which ``after_history()`` is called at); the loop
    starts with the plans.
    """
    first, send_day, end = demo_days(send_day)
    say(
        f"history {first}..{send_day - timedelta(days=1)}; campaigns sent on {send_day}; "
        f"what recipients did until {end}"
    )
    if not history_built:
        ingest(instance, None, send_day - timedelta(days=1))
        transform(instance, as_of=send_day)
    if after_history is not None:
        after_history()
    say(f"planning the campaigns for {send_day} at 07:00 UTC")
    plan(instance, send_day, at(send_day, 7))

    outbox_dir = settings.data_dir() / "sandbox_gateway"
    secret = webhook_secret()
    pending: list = []
    purchases: list = []
    counts: defaultdict[str, Counter] = defaultdict(Counter)  # what recipients did, per campaign
    delivered: Counter = Counter()  # callbacks the receiver took, per kind
    sent: Counter = Counter()  # dispatch outcomes over all runs
    with loop.running_receiver() as base:
        say(f"webhook receiver on {base}; recipients answer between dispatch runs")
        for day_offset, hour in DEMO_DISPATCH_HOURS:
            moment = at(send_day + timedelta(days=day_offset), hour)
            due = [c for c in pending if c.at <= moment]
            pending = [c for c in pending if c.at > moment]
            delivered.update(loop.deliver(base, secret, due))
            before = loop.outbox_lines(outbox_dir)
            # The journeys look at every dispatch hour, as their sensor would: new entries,
            # steps fallen due, exits after a STOP or a purchase the receiver just took.
            advance_journeys(instance, moment)
            report = dispatch(instance, moment)
            sent.update({k: report[k] for k in ("accepted", "failed", "unknown")})
            clock = loop.DispatchClock(before, loop.outbox_lines(outbox_dir), moment)
            outcome = recipients.simulate(loop.sent_messages(outbox_dir, [clock]), behaviour)
            pending = sorted([*pending, *outcome.callbacks], key=lambda c: c.at)
            purchases += outcome.purchases
            for campaign, per in outcome.counts.items():
                counts[campaign].update(per)
        delivered.update(loop.deliver(base, secret, pending))
    say(
        f"{len(DEMO_DISPATCH_HOURS)} dispatch runs through the sandbox: {sent['accepted']:,} sent, "
        f"{sent['failed']:,} failed, {sent['unknown']:,} unknown"
    )
    files = loop.write_purchases(settings.landing_dir(), purchases, behaviour.seed)
    say(
        "recipients: "
        + ", ".join(f"{n:,} {kind} callbacks" for kind, n in sorted(delivered.items()))
        + f"; {len(purchases):,} purchases caused by the messages in {len(files)} POS files"
    )
    truth = {
        "send_day": send_day.isoformat(),
        "behaviour": {
            **{k: v for k, v in vars(behaviour).items() if k != "uplift"},
            "uplift": dict(behaviour.uplift),
        },
        "per_campaign": {campaign: dict(per) for campaign, per in counts.items()},
    }
    path = settings.demo_truth_dir() / "outcomes.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth, indent=2, sort_keys=True))

    ingest(instance, send_day, end)
    load_outcomes(instance)
    transform(instance)
    return truth
