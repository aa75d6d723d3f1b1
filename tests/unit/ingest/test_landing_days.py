"""Which landing folders count as delivery days, without a warehouse."""

from datetime import date
from pathlib import Path

from dagster_project.ingest import landing
from dagster_project.ingest.specs import CRM_TICKETS

D = date.fromisoformat
TODAY = D("2026-12-02")
TICKETS_HEADER = "Ticket ID,Contact ID,Created At,Status,Priority,Subject,Closed At"


def test_a_day_before_the_first_partition_is_reported(tmp_path: Path):
    root = tmp_path / "landing"
    folder = root / "crm/tickets/2023-12-31"
    folder.mkdir(parents=True)
    row = 'T0,C1,2026-11-30 10:00:00,open,high,"Rückfrage",'
    (folder / "t.csv").write_text(TICKETS_HEADER + "\n" + row + "\n", encoding="utf-8")
    [s] = landing.skipped_entries(root, CRM_TICKETS, TODAY, first_day=D("2024-01-01"))
    assert s.kind == "before_first_day" and "SMS_PARTITION_START" in s.reason
