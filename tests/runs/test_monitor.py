"""The sweep monitor's reading of records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from asffbench.runs.experiment import write_record_on_rank0
from asffbench.runs.monitor import count_states, describe


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def test_counts_follow_the_records(tmp_path):
    since = datetime.now(timezone.utc).replace(microsecond=0)
    before, after = iso(since - timedelta(hours=1)), iso(since + timedelta(seconds=5))
    records = {
        "fusion=none": {"status": "completed", "started": before, "finished": before},  # skipped
        "fusion=sum": {"status": "completed", "started": before, "finished": after},  # done now
        "fusion=concat": {"status": "failed", "started": after, "finished": after},
        "fusion=asff": {"status": "running", "started": after, "finished": None},
        "fusion=asff_star": {"status": "running", "started": before, "finished": None},  # killed earlier
        "seed=1": {"status": "failed", "started": before, "finished": before},  # retried: remaining
    }
    for name, record in records.items():
        write_record_on_rank0(tmp_path / name / "record.json", record)
    names = [*records, "seed=2"]  # seed=2 has no record yet
    counts = count_states(tmp_path, names, since)
    assert counts == {"done": 1, "skipped": 1, "failed": 1, "running": 1, "remaining": 3}
    assert describe(counts, len(names)) == (
        "sweep: 7 runs | done 1 | skipped 1 | failed 1 | running 1 | remaining 3"
    )
