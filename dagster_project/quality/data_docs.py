"""Data Docs: the latest validation results as Great Expectations' static HTML site.

Every gate publishes its result and the site's index. GX builds a new Jinja environment
for every page it renders, so each publish compiled the same templates again: about
60% of a publish (0.65 s), paid by every gate of every run. The site here renders with
views that share one process-wide cache of the compiled templates (Jinja's bytecode
cache, keyed by each template's name and source checksum, so a changed template is
compiled anew), and builds the validations section only: the suites live in
``expectations/`` and profiling is not used, so those sections never had a page.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
from great_expectations.core.run_identifier import RunIdentifier  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.data_context.types.resource_identifiers import (  # noqa: E402
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.render.view import (  # noqa: E402
    DefaultJinjaIndexPageView,
    DefaultJinjaPageView,
)
from jinja2 import BytecodeCache  # noqa: E402
from jinja2.bccache import Bucket  # noqa: E402

from dagster_project.quality.validation import SuiteOutcome  # noqa: E402

SITE = "local_site"


class CompiledTemplates(BytecodeCache):
    """Compiled Jinja templates kept in memory for the life of the process."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        self.code.clear()


COMPILED = CompiledTemplates()


class PageView(DefaultJinjaPageView):
    """GX's page view over the shared compiled templates."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = COMPILED


class IndexPageView(DefaultJinjaIndexPageView):
    """GX's index view over the shared compiled templates."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = COMPILED


def site_config() -> dict:
    """The local site: validation pages and the index, rendered by the cached views."""
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": f"uncommitted/data_docs/{SITE}/",
        },
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "view": {"module_name": __name__, "class_name": IndexPageView.__name__},
        },
        "site_section_builders": {
            "expectations": "0",
            "profiling": "0",
            "validations": {
                "view": {"module_name": __name__, "class_name": PageView.__name__},
            },
        },
    }


class DataDocs:
    """A GX file context under ``root`` that keeps results and renders Data Docs.

    Only the validation results store and the docs site are used; suites stay in
    ``expectations/``. The newest ``keep`` results per suite are kept.
    """

    def __init__(self, root: Path, keep: int = 30):
        self.root = root
        self.keep = keep
        root.mkdir(parents=True, exist_ok=True)
        self.context = gx.get_context(mode="file", project_root_dir=str(root))
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.gx_dir = Path(self.context.root_directory)
        wanted = site_config()
        if (self.context.get_config().data_docs_sites or {}).get(SITE) != wanted:
            self.context.update_data_docs_site(SITE, wanted)

    @property
    def site_dir(self) -> Path:
        return self.gx_dir / "uncommitted" / "data_docs" / SITE

    def publish(self, outcome: SuiteOutcome, run_name: str, batch_id: str) -> Path:
        """Store ``outcome`` and render its page and the index; returns the page's path."""
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=outcome.suite),
            run_id=RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC)),
            batch_identifier=_safe(batch_id),
        )
        self.context.validation_results_store.set(key, outcome.result)
        self._prune(outcome.suite)
        self.context.build_data_docs(site_names=[SITE], resource_identifiers=[key])
        [site] = self.context.get_docs_sites_urls(resource_identifier=key, site_name=SITE)
        page = Path(site["site_url"].removeprefix("file://"))
        for html in (page, self.site_dir / "index.html"):
            if html.exists():
                _strip_beacons(html)
        return page

    def _prune(self, suite: str) -> None:
        for base, suffix in (
            (self.gx_dir / "uncommitted" / "validations", ".json"),
            (self.site_dir / "validations", ".html"),
        ):
            folder = base / suite
            if not folder.exists():
                continue
            files = sorted(folder.rglob(f"*{suffix}"), key=lambda p: p.stat().st_mtime)
            for old in files[: max(0, len(files) - self.keep)]:
                old.unlink()
            for d in sorted(folder.rglob("*"), reverse=True):
                if d.is_dir() and not any(d.iterdir()):
                    shutil.rmtree(d)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


# The GX site template loads its logo from GX's bucket with the data context id and
# a timestamp in the query string: a tracking beacon on every page view. Local pages
# get no beacon (the CDN stylesheets stay: without them the pages are unreadable).
_BEACON = re.compile(r"<img[^>]*great-expectations-web-assets[^>]*>", re.IGNORECASE)


def _strip_beacons(html: Path) -> None:
    text = html.read_text()
    cleaned = _BEACON.sub("", text)
    if cleaned != text:
        html.write_text(cleaned)
