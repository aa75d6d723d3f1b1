"""Data Docs: a gate's page and the index, rendered once per publish from compiled templates."""

import json

from dagster_project.quality import data_docs
from tests.unit.quality.test_quality_suites import pos_batch, run


def test_a_publish_writes_the_page_and_the_index_without_beacons_or_phones(tmp_path):
    outcome = run(pos_batch(invalid_share=0.4))
    docs = data_docs.DataDocs(tmp_path)
    page = docs.publish(outcome, run_name="run-1", batch_id="raw.pos_transactions-2026-11-21")
    html = page.read_text()
    assert page.is_relative_to(docs.site_dir / "validations" / "raw_pos_transactions")
    assert "customer_phone_is_valid" in html and "+1312555" not in html
    assert "dataContextId" not in html  # GX's tracking beacon stripped
    index = (docs.site_dir / "index.html").read_text()
    assert "raw_pos_transactions" in index and "dataContextId" not in index
    # Only the validations section is built: the suites live in expectations/.
    assert sorted(p.name for p in docs.site_dir.iterdir()) == [
        "index.html",
        "static",
        "validations",
    ]


def test_templates_compile_once_per_process_and_a_new_context_keeps_its_site(tmp_path):
    data_docs.COMPILED.clear()
    outcome = run(pos_batch())
    data_docs.DataDocs(tmp_path).publish(outcome, run_name="run-1", batch_id="b1")
    compiled = dict(data_docs.COMPILED.code)
    assert compiled  # the page's and the index's templates
    # Another gate in the same run opens its own context: nothing is compiled again.
    again = data_docs.DataDocs(tmp_path)
    second = again.publish(outcome, run_name="run-1", batch_id="b2")
    assert data_docs.COMPILED.code == compiled
    assert second.exists() and second.name == "b2.html"
    config = json.loads(json.dumps(again.context.get_config().data_docs_sites, default=str))
    assert config == {data_docs.SITE: data_docs.site_config()}


def test_the_newest_results_per_suite_are_kept(tmp_path):
    docs = data_docs.DataDocs(tmp_path, keep=2)
    outcome = run(pos_batch())
    pages = [docs.publish(outcome, run_name=f"run-{i}", batch_id=f"b{i}") for i in range(4)]
    assert [p.exists() for p in pages] == [False, False, True, True]
    stored = list(
        (docs.gx_dir / "uncommitted" / "validations" / "raw_pos_transactions").rglob("*.json")
    )
    assert len(stored) == 2
