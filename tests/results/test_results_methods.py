"""The report's methods block states what the runs did, and only that."""

from __future__ import annotations

from pathlib import Path

from asffbench.record.run_record import RunRecord
from asffbench.results.reading.records import LoadedRecord
from asffbench.results.report.methods import methods_lines


def recipe_line(*multiscale_flags: bool) -> str:
    records = [
        LoadedRecord(Path(f"run{i}/record.json"), Path("."), RunRecord.from_dict({"config": {
            "tricks": {"multiscale": on},
            "train": {"epochs": 7, "multiscale_min": 320, "multiscale_max": 608},
        }}))
        for i, on in enumerate(multiscale_flags)
    ]
    return dict(methods_lines(records))["Training recipe"]


def test_multiscale_range_is_listed_only_when_multiscale_is_on():
    assert recipe_line(True) == "epochs=7, multiscale=320-608 px; SGD, LR schedule: missing"
    assert recipe_line(False) == "epochs=7; SGD, LR schedule: missing"
    assert "320" not in recipe_line(False, False)
    assert recipe_line(True, False).startswith("varies: epochs=7, multiscale=320-608 px; epochs=7;")
