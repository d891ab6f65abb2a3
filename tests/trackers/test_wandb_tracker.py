"""The W&B tracker in offline mode, its run files read back with wandb's own protobuf records."""

from __future__ import annotations

import json

import pytest

from asffbench.trackers.ids import stored_id
from asffbench.trackers.options import WandbOptions
from asffbench.trackers.run_info import RunOutcome
from asffbench.trackers.wandb_tracker import start_wandb
from tests.trackers.conftest import STEP_LINES, identity
from tests.trackers.wandb_file import closed_records, offline_runs

pytest.importorskip("wandb")


def of_kind(found: list, kind: str) -> list:
    return [getattr(r, kind) for r in found if r.WhichOneof("record_type") == kind]


def items(entries) -> dict:
    """W&B's key/value items: a flat `key`, or a `nested_key` path."""
    return {item.key or ".".join(item.nested_key): json.loads(item.value_json) for item in entries}


def history_rows(found: list) -> list[dict]:
    return [items(h.item) for h in of_kind(found, "history")]


def summary(found: list) -> dict:
    values = {}
    for update in of_kind(found, "summary"):
        values.update(items(update.update))
    return values


def test_an_offline_wandb_run_and_its_resumption(tmp_path):
    run_dir = tmp_path / "ablation" / "fusion=asff"
    run_dir.mkdir(parents=True)
    (run_dir / "record.json").write_text(json.dumps({"status": "completed"}))
    tracker = start_wandb(WandbOptions(), identity(run_dir))
    for line in STEP_LINES:
        tracker.log_line(line)
    tracker.close()  # cut short, as a killed run's next attempt finds it
    stored = stored_id(run_dir, "wandb")
    assert stored["mode"] == "offline" and stored["project"] == "asffbench"

    resumed = start_wandb(WandbOptions(), identity(run_dir, resume=True))
    resumed.log_line({**STEP_LINES[2], "epoch": 1, "loss": 2.5})
    resumed.finish(RunOutcome("completed", {"AP": 0.25, "fps": 30.0}))

    first, second = offline_runs(run_dir)  # two offline segments of one W&B run: `wandb sync` joins them
    assert first.name == second.name == f"run-{stored['id']}.wandb"
    assert stored_id(run_dir, "wandb") == stored
    for path in (first, second):
        (run,) = of_kind(closed_records(path), "run")
        assert (run.run_id, run.display_name, run.run_group, run.project) == (
            stored["id"], "fusion=asff", "ablation", "asffbench")
        assert list(run.tags) == ["fusion=asff", "hash=0123456789abcdef"]
        config = items(run.config.update)
        assert config["fusion"] == {"name": "asff", "compress_c": 16}
        assert config["asffbench"]["experiment_hash"] == "0123456789abcdef"
    rows = history_rows(closed_records(first))
    assert [(r.get("iter"), r.get("train/loss")) for r in rows if "train/loss" in r] == [(0, 4.0), (1, 3.0)]
    assert [(r["epoch"], r["epoch/loss"]) for r in rows if "epoch/loss" in r] == [(0, 3.5)]
    assert [(r["epoch"], r["eval/AP"]) for r in rows if "eval/AP" in r] == [(0, 0.125)]
    later = closed_records(second)
    assert [(r["epoch"], r["epoch/loss"]) for r in history_rows(later) if "epoch/loss" in r] == [(1, 2.5)]
    assert summary(later)["AP"] == 0.25 and summary(later)["status"] == "completed"
    assert [f.path for files in of_kind(later, "files") for f in files.files if f.path == "record.json"]
    assert (second.parent / "files" / "record.json").read_text() == json.dumps({"status": "completed"})
    assert [e.exit_code for e in of_kind(closed_records(first), "exit")] == [1]  # cut short
    assert [e.exit_code for e in of_kind(later, "exit")] == [0]
