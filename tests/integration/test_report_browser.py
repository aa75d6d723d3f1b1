"""The report opened in a real headless Chromium, with nothing reachable over the network.

Chromium comes from Debian (``make chromium``; ``make test`` runs it first). A
missing Chromium fails these tests with the install hint: they are never skipped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import struct
import subprocess
from html import unescape
from pathlib import Path

import pytest
from support.report_frames import frame, performance_row, three_campaigns

from dagster_project.reporting.render import render_report
from dagster_project.reporting.report import write_report

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.fail(
        "chromium is not installed: run `make chromium` (Debian's package; `make test` does it)",
        pytrace=False,
    )

EVIL = "<script>alert(1)</script>"
LONG = "autumn-" + "long-campaign-identifier-" * 5 + "end"
WINDOW = (1200, 1800)


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    """One headless Chromium run: no sandbox (root in CI), no GPU, no network, bounded in time."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        # Any host name resolves to nothing: a request could not leave even if one were made.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        # Console messages (CSP violations, script errors) on stderr.
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def console(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def dump_dom(path: Path, profile: Path) -> str:
    result = chromium(profile, "--dump-dom", path.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert not console(result), console(result)
    return result.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    data = three_campaigns()
    data = frame(
        *data.to_dict("records"),
        performance_row(EVIL, variant="B", lift_abs_ci_low=None, lift_abs_ci_high=None),
        performance_row(LONG),
    )
    return write_report(data, tmp_path_factory.mktemp("reports"))


def test_the_report_loads_runs_its_script_and_shows_every_campaign(report, tmp_path):
    dom = dump_dom(report, tmp_path / "profile")
    html_tag = dom[dom.index("<html") : dom.index(">", dom.index("<html"))]
    assert 'data-ready="1"' in html_tag
    assert "data-errors" not in dom
    for campaign in ("winback-lapsed", "vip-thank-you", "newcomer-offer", LONG):
        assert campaign in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # the id as text, not as a script
    assert dom.count("<script") == 2
    assert "the 95% interval of the conversion lift includes zero" in dom
    assert dom.count(">no effect</text>") == 1 + 5  # the zero line: overview, each campaign


def test_the_report_paints_a_page(report, tmp_path):
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><title>blank</title>")
    sizes = {}
    for name, page in (("report", report), ("blank", blank)):
        png = tmp_path / f"{name}.png"
        result = chromium(
            tmp_path / "profile",
            "--hide-scrollbars",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            f"--screenshot={png}",
            page.as_uri(),
        )
        assert result.returncode == 0, result.stderr[-2000:]
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == WINDOW  # IHDR: width, height
        sizes[name] = len(data)
    # Text, tables and charts compress far worse than an empty white page of the same size.
    assert sizes["report"] > 5 * sizes["blank"], sizes


# Measures the headline table where it is laid out, into an attribute --dump-dom shows.
MEASURE = (
    "var w=document.querySelector('.table-wrap'),r=w.getBoundingClientRect(),c={},"
    "inner=r.left+w.clientLeft+w.clientWidth;"
    "[].forEach.call(w.querySelectorAll('thead th'),function(h){"
    "c[h.firstChild.textContent.trim()]=h.getBoundingClientRect().right-inner;});"
    "document.documentElement.dataset.measured=JSON.stringify({viewport:window.innerWidth,"
    "scroll:w.scrollWidth,client:w.clientWidth,page:document.documentElement.scrollWidth,"
    "columns:c});"
)


def measured(page: Path, profile: Path, width: int) -> dict:
    """The headline table's widths at a window ``width`` px wide, in a real Chromium.

    The page is the report itself with one script added, allowed by its hash in the
    report's own policy: the layout measured is the one a reader gets.
    """
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(MEASURE.encode()).digest()).decode() + "'"
    html = page.read_text().replace("script-src ", f"script-src {digest} ", 1)
    probe = page.with_name(f"probe-{width}.html")
    probe.write_text(html.replace("</body>", f"<script>{MEASURE}</script></body>"))
    result = chromium(profile, f"--window-size={width},1000", "--dump-dom", probe.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert not console(result), console(result)
    tag = result.stdout[
        result.stdout.index("<html") : result.stdout.index(">", result.stdout.index("<html"))
    ]
    (value,) = re.findall(r'data-measured="([^"]*)"', tag)
    return json.loads(unescape(value))


@pytest.mark.parametrize("width", [1280, 1600])
def test_the_headline_table_fits_without_scrolling_sideways(report, tmp_path, width):
    m = measured(report, tmp_path / "profile", width)
    assert m["viewport"] == width  # the window really was that wide
    assert m["scroll"] <= m["client"], m  # nothing hidden to the right of the table
    assert m["page"] <= width, m  # nor of the page
    # Revenue is in view: every column ends inside the table's box (its right edge at most
    # half a pixel past the box's inner right edge, for sub-pixel layout).
    revenue = [name for name in m["columns"] if "revenue" in name]
    assert len(revenue) >= 2, m["columns"]  # incremental and attributed
    assert max(m["columns"].values()) <= 0.5, m["columns"]


def test_the_page_policy_blocks_anything_that_slipped_in(tmp_path):
    """Control: the policy really refuses a network image and a foreign script."""
    html = render_report(three_campaigns()).replace(
        "</main>",
        '<img src="https://example.invalid/pixel.png" alt="">'
        "<script>document.documentElement.dataset.injected = '1'</script></main>",
    )
    page = tmp_path / "injected.html"
    page.write_text(html)
    result = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'data-ready="1"' in result.stdout  # the page's own scripts still ran
    assert "data-injected" not in result.stdout
    blocked = "\n".join(console(result))
    assert "img-src 'none'" in blocked and "Executing inline script violates" in blocked


def test_a_script_error_is_reported_in_data_errors(tmp_path):
    """Control: the error channel the first test relies on does catch an error."""
    html = render_report(three_campaigns())
    start = html.index('<meta http-equiv="Content-Security-Policy"')
    html = html[:start] + html[html.index(">", start) + 1 :]  # without the policy ...
    html = html.replace("</main>", "<script>undefinedFunction()</script></main>")  # ... a bug
    page = tmp_path / "broken.html"
    page.write_text(html)
    result = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'data-errors="' in result.stdout and "undefinedFunction" in result.stdout
