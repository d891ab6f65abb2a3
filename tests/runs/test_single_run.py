"""`asffbench run run_dir=R` never overwrites what R holds without a word: a completed run of the
same experiment is skipped (--force redoes it, keeping the old files aside), another
experiment's record or weights are refused naming both hashes, a checkpoint without a record is
resumed when it is this experiment's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asffbench.config.compose import compose_config, to_plain
from asffbench.engine.checkpoint import save_checkpoint
from asffbench.errors import UserError
from asffbench.record_schema import RECORD_NAME
from asffbench.runs.record import experiment_hash, new_record, write_record
from asffbench.runs.resume import FRESH, RESUME, SKIP
from asffbench.runs.single_run import REPLACED_RECORD, plan_single_run, set_aside
from tests.conftest import assert_one_line_error
from tests.runs.conftest import TINY_TRAIN, as_overrides

ONE_EPOCH = as_overrides({**TINY_TRAIN, "train.epochs": 1})
CHECKPOINT = Path("checkpoints") / "last.pt"


def config(*extra: str):
    return compose_config([*ONE_EPOCH, *extra])


def leave_record(run_dir: Path, cfg, status: str) -> str:
    exp_hash = experiment_hash(cfg)
    record = new_record(cfg, exp_hash, {})
    record.status = status
    run_dir.mkdir(parents=True, exist_ok=True)
    write_record(run_dir / RECORD_NAME, record)
    return exp_hash


def leave_checkpoint(run_dir: Path, cfg=None) -> Path:
    state = {"model": {}, "epoch": 1}
    if cfg is not None:
        state["config"] = to_plain(cfg)
    return save_checkpoint(state, run_dir / CHECKPOINT)


def test_plans_from_what_the_run_dir_holds(tmp_path):
    cfg, other = config(), config("fusion=sum")
    mine, theirs = experiment_hash(cfg), experiment_hash(other)
    assert mine != theirs
    assert plan_single_run(mine, tmp_path / "new", force=False).action == FRESH

    done = tmp_path / "done"
    leave_record(done, cfg, "completed")
    assert plan_single_run(mine, done, force=False).action == SKIP
    forced = plan_single_run(mine, done, force=True)
    assert (forced.action, forced.replaces) == (FRESH, True)

    for status in ("running", "failed"):
        cut = tmp_path / status
        leave_record(cut, cfg, status)
        leave_checkpoint(cut, cfg)
        assert plan_single_run(mine, cut, force=False).action == RESUME

    weights_only = tmp_path / "weights_only"
    leave_checkpoint(weights_only, cfg)
    assert plan_single_run(mine, weights_only, force=False).action == RESUME


@pytest.mark.parametrize("force", [False, True])
def test_another_experiments_record_or_weights_are_refused_naming_both_hashes(tmp_path, force):
    cfg, other = config(), config("fusion=sum")
    mine, theirs = experiment_hash(cfg), experiment_hash(other)
    recorded = tmp_path / "recorded"
    leave_record(recorded, other, "completed")
    with pytest.raises(UserError, match=f"holds experiment {theirs}.*this config is experiment {mine}"):
        plan_single_run(mine, recorded, force)
    weights = tmp_path / "weights"
    leave_checkpoint(weights, other)
    with pytest.raises(UserError, match=f"of experiment {theirs} .*this config is experiment {mine}"):
        plan_single_run(mine, weights, force)
    unknown = tmp_path / "unknown"
    leave_checkpoint(unknown)  # no config stored: whose it is cannot be told
    with pytest.raises(UserError, match="without a config"):
        plan_single_run(mine, unknown, force)
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    (unreadable / RECORD_NAME).write_text("{not json")
    with pytest.raises(UserError, match="cannot be read"):
        plan_single_run(mine, unreadable, force)


def test_set_aside_keeps_every_file_but_the_lock(tmp_path):
    run = tmp_path / "run"
    leave_checkpoint(run, config())
    (run / RECORD_NAME).write_text("{}")
    (run / ".lock").write_text("")
    aside = set_aside(run)
    assert aside.parent == run and aside.name.startswith(".replaced-")
    assert sorted(p.name for p in run.iterdir()) == sorted([".lock", aside.name])
    assert (aside / CHECKPOINT).is_file() and (aside / REPLACED_RECORD).read_text() == "{}"
    assert not list(run.rglob(RECORD_NAME))  # reports collect record.json files: none left to count twice
    assert set_aside(run) is None  # nothing left to keep


@pytest.mark.slow
def test_run_twice_skips_refuses_forces_and_resumes(cli, tmp_path, one_thread):
    run = tmp_path / "run"
    code, out, err = cli("run", *ONE_EPOCH, f"run_dir={run}", "--json")
    assert code == 0, err
    first = json.loads(out)
    weights = (run / CHECKPOINT).read_bytes()

    # The same experiment again: reported and skipped, nothing rewritten.
    code, out, err = cli("run", *ONE_EPOCH, f"run_dir={run}", "--json")
    assert code == 0, err
    assert "skipped" in err and "--force" in err
    assert json.loads(out)["started"] == first["started"] and (run / CHECKPOINT).read_bytes() == weights

    # Another experiment in the same run dir: refused, naming both hashes; nothing touched.
    other = experiment_hash(config("fusion=sum"))
    code, _out, err = cli("run", *ONE_EPOCH, "fusion=sum", f"run_dir={run}")
    assert_one_line_error(code, err, first["experiment_hash"], other)
    assert json.loads((run / RECORD_NAME).read_text())["started"] == first["started"]

    # --force redoes it; the earlier record and weights are kept aside.
    code, out, err = cli("run", *ONE_EPOCH, f"run_dir={run}", "--force", "--json")
    assert code == 0, err
    [aside] = list(run.glob(".replaced-*"))
    assert json.loads((aside / REPLACED_RECORD).read_text())["started"] == first["started"]
    assert (aside / CHECKPOINT).read_bytes() == weights
    assert json.loads(out)["started"] != first["started"]

    # Weights without a record: resumed from them (their epoch is done), not trained anew.
    (run / RECORD_NAME).unlink()
    trained = (run / CHECKPOINT).read_bytes()
    code, out, err = cli("run", *ONE_EPOCH, f"run_dir={run}", "--json")
    assert code == 0, err
    assert "resuming" in err
    assert json.loads(out)["status"] == "completed" and (run / CHECKPOINT).read_bytes() == trained
