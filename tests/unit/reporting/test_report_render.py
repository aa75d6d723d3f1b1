"""The campaign performance page, rendered from a DataFrame: no Dagster, no DuckDB, no browser."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.report_frames import frame, performance_row, three_campaigns

from dagster_project.reporting import render
from dagster_project.reporting.charts import nice_ticks
from dagster_project.reporting.entries import build_entries
from dagster_project.reporting.formats import fmt_pct, fmt_pts, fmt_ratio, fmt_usd
from dagster_project.reporting.render import render_report

AT = dt.datetime(2026, 2, 21, 8, 0, tzinfo=dt.UTC)
EVIL = '<script>alert("x")</script>'


class Page(HTMLParser):
    """Every tag with its attributes, and the text of <script> and <style> elements."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: dict[str, list[str]] = {"script": [], "style": []}
        self._open: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.inline:
            self._open = tag
            self.inline[tag].append("")

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None

    def handle_data(self, data):
        if self._open:
            self.inline[self._open][-1] += data

    def attrs(self, name: str) -> list[tuple[str, str]]:
        return [(tag, a[name] or "") for tag, a in self.tags if name in a]


@pytest.fixture(scope="module")
def html() -> str:
    return render_report(three_campaigns(), generated_at=AT)


def test_every_campaign_with_its_sentence(html):
    for campaign in ("winback-lapsed", "vip-thank-you", "newcomer-offer"):
        assert campaign in html
    assert (
        "winback-lapsed: positive: more buyers and more revenue than the holdout: +4.1 pts "
        "conversion vs holdout (95% CI +1.0 to +7.2), about $1,240 incremental revenue." in html
    )
    assert "Generated 2026-02-21 08:00 UTC" in html
    # Headline table (11 columns, then the card tables' 3 each) and the per-campaign charts,
    # each chart with a title for screen readers.
    page = Page(html)
    assert sum(1 for tag, a in page.tags if tag == "th" and a.get("scope") == "col") == 11 + 3 * 3
    assert sum(1 for tag, a in page.tags if tag == "svg" and a.get("role") == "img") == 1 + 3 * 4
    assert html.count("<title id=") == 1 + 3 * 4


def test_an_interval_that_contains_zero_or_is_missing_is_inconclusive():
    entries = {e.campaign_id: e for e in build_entries(three_campaigns())}
    zero = entries["vip-thank-you"].verdict
    assert zero.kind == "inconclusive"
    assert zero.explanation.startswith("the 95% interval of the conversion lift includes zero")
    assert "95% CI \u22122.1 to +2.1" in zero.explanation
    assert "incremental" not in zero.explanation
    assert entries["newcomer-offer"].verdict.kind == "too-small"  # a holdout of 3
    # Enough recipients but no interval: cannot be told from zero.
    (missing,) = build_entries(
        frame(performance_row("x", lift_abs_ci_low=None, lift_abs_ci_high=None))
    )
    assert missing.verdict.kind == "inconclusive" and "no confidence interval" in missing.sentence
    assert entries["winback-lapsed"].verdict.kind == "positive"
    # An interval below zero is a result too, and says so.
    (worse,) = build_entries(
        frame(
            performance_row(
                "x",
                lift_abs=-0.03,
                lift_abs_ci_low=-0.05,
                lift_abs_ci_high=-0.01,
                incremental_revenue=-300,
            )
        )
    )
    assert worse.verdict.kind == "negative"
    assert "fewer buyers and no more revenue than the holdout" in worse.sentence
    # No lift at all (no holdout yet).
    (none,) = build_entries(
        frame(
            performance_row(
                "x", lift_abs=None, lift_abs_ci_low=None, lift_abs_ci_high=None, holdout_customers=0
            )
        )
    )
    assert none.verdict.kind == "no-estimate" and "no held-out recipients" in none.sentence


def test_ids_are_escaped_everywhere(html):
    evil = frame(
        performance_row(EVIL, variant="<b>B</b>"),
        performance_row('x" onmouseover="alert(1)', lift_abs_ci_low=None, lift_abs_ci_high=None),
    )
    page_html = render_report(evil, generated_at=AT)
    assert EVIL not in page_html and "<b>B</b>" not in page_html
    assert "&lt;script&gt;alert(" in page_html  # shown, as text
    page = Page(page_html)
    assert [t for t, _ in page.tags].count("script") == 2  # the page's own two, nothing else
    assert not [a for _, a in page.tags if "onmouseover" in a]
    # Exactly the elements a page with harmless ids has: the data added none.
    benign = frame(
        performance_row("a", variant="B"),
        performance_row("c", lift_abs_ci_low=None, lift_abs_ci_high=None),
    )
    assert [t for t, _ in page.tags] == [
        t for t, _ in Page(render_report(benign, generated_at=AT)).tags
    ]


def test_nothing_is_loaded_from_anywhere(html):
    for page_html in (html, render_report(frame(), generated_at=AT)):
        assert "http://" not in page_html and "https://" not in page_html
        assert "url(" not in page_html and "@import" not in page_html
        page = Page(page_html)
        ids = {a["id"] for _, a in page.tags if a.get("id")}
        assert page.attrs("src") == [] and page.attrs("srcset") == []
        assert page.attrs("xlink:href") == []
        for tag, href in page.attrs("href"):
            assert href.startswith("#") and href[1:] in ids, (tag, href)
        assert not {t for t, _ in page.tags} & {"link", "img", "iframe", "object", "embed", "base"}


def test_the_content_security_policy_allows_exactly_the_inline_script_and_style(html):
    page = Page(html)
    (policy,) = [
        a["content"]
        for t, a in page.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert policy.startswith("default-src 'none';")

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    script_src = policy.split("script-src ")[1].split(";")[0].split()
    style_src = policy.split("style-src ")[1].split(";")[0].split()
    assert sorted(digest(s) for s in page.inline["script"]) == sorted(script_src)
    assert [digest(s) for s in page.inline["style"]] == style_src
    assert "dataset.ready" in page.inline["script"][-1]
    assert "onerror" in page.inline["script"][0]


def test_no_rows_is_a_friendly_empty_page():
    page_html = render_report(frame(), generated_at=AT)
    assert "No campaign results yet" in page_html
    assert "<table" not in page_html and "<svg" not in page_html
    assert 'dataset.ready="1"' in page_html


def test_one_campaign_with_a_long_id():
    long_id = "spring-" + "very-long-campaign-identifier-" * 6 + "end"
    page_html = render_report(frame(performance_row(long_id, variant="B")), generated_at=AT)
    assert long_id in page_html  # in the headings, the table and each chart's <title>
    assert "\u2026" in page_html  # clipped where a chart has room for a label only
    assert f"{long_id} (variant B): positive: more buyers" in page_html  # a chart's <title>


def test_display_names_replace_ids_when_given():
    page_html = render_report(
        frame(performance_row("winback-lapsed")),
        generated_at=AT,
        names={"winback-lapsed": "Win-back"},
    )
    assert ">Win-back</a>: more buyers and more revenue than the holdout" in page_html


def test_a_missing_column_is_named():
    with pytest.raises(ValueError, match="lift_abs_ci_low"):
        render_report(three_campaigns().drop(columns=["lift_abs_ci_low"]))


def test_number_formatting():
    assert fmt_pct(0.9592) == "95.9%"
    assert fmt_pct(0.00255) == "0.26%"
    assert fmt_pct(0) == "0.0%"
    assert fmt_pct(None) == fmt_pct(float("nan")) == "\u2014"
    assert fmt_usd(1240.4) == "$1,240"
    assert fmt_usd(392) == "$392.00"
    assert fmt_usd(-300, whole=True) == "\u2212$300"
    assert fmt_pts(0.041) == "+4.1 pts"
    assert fmt_pts(-0.0004) == "+0.0 pts"  # never "-0.0"
    assert fmt_pts(-0.021, unit=False) == "\u22122.1"
    assert fmt_ratio(15400.5 / 392) == "39.3\u00d7"
    assert fmt_ratio(872.09 / 0.2809) == "3,105\u00d7"  # no decimals from a hundred up
    assert nice_ticks(-5.3, 8.1) == [-5.0, 0.0, 5.0]
    assert nice_ticks(0, 1) == [0.0, 0.5, 1.0]
    assert nice_ticks(-0.6, 0.6) == [-0.5, 0.0, 0.5]


def test_render_imports_neither_dagster_nor_duckdb():
    """The renderer's files load as a bare package (no ``dagster_project``, whose package
    imports Dagster) and render a page without pulling in Dagster or DuckDB."""
    folder = str(Path(render.__file__).parent)
    code = (
        "import sys, types, datetime as dt\n"
        "import pandas as pd\n"
        "package = types.ModuleType('bare')\n"
        f"package.__path__ = [{folder!r}]\n"
        "sys.modules['bare'] = package\n"
        "from bare.render import COLUMNS, render_report\n"
        "html = render_report(pd.DataFrame(columns=list(COLUMNS)))\n"
        "assert 'No campaign results yet' in html\n"
        "print(sorted(m for m in ('dagster', 'duckdb', 'dagster_project') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_one_plan_day_and_missing_plan_days():
    one_day = performance_row("a", last_plan_day=dt.date(2026, 1, 5))
    no_days = performance_row("b", first_plan_day=None, last_plan_day=None)
    page_html = render_report(frame(one_day, no_days), generated_at=AT)
    assert "plan days 2026-01-05</p>" in page_html and " to 2026-01-05" not in page_html
