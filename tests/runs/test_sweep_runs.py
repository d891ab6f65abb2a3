"""Real sweeps through Hydra's multirun: failure isolation, skipping, launchers."""

from __future__ import annotations

import json

import pytest

from asffbench.record.storage import read_record
from tests.runs.conftest import TINY, TINY_TRAIN, as_overrides


@pytest.mark.slow
def test_a_broken_run_fails_alone_and_reruns_skip_across_launchers(cli, write_sweep, tmp_path):
    # data=coco on a COCO folder whose annotation files are corrupt: the folder passes the
    # sweep's up-front checks (it exists), so that run fails at run time; the synth one completes.
    coco_root = tmp_path / "no-coco"
    for folder in ("annotations", "train2017", "val2017"):
        (coco_root / folder).mkdir(parents=True)
    for split in ("train", "val"):
        (coco_root / "annotations" / f"instances_{split}2017.json").write_text('{"images": [')
    fixed = {k: v for k, v in TINY.items() if k != "data"}
    sweep = write_sweep("isolation", {"data": ["synth", "coco"]}, {**fixed, "data.root": str(coco_root)})
    out_dir = tmp_path / "sweep"
    code, out, err = cli("sweep", str(sweep), f"hydra.sweep.dir={out_dir}", "--no-live")
    assert code == 1, err
    assert "2 runs: completed 1, skipped 0, failed 1" in out
    done, broken = read_record(out_dir / "data=synth" / "record.json").to_dict(), read_record(out_dir / "data=coco" / "record.json").to_dict()
    assert done["status"] == "completed" and done["error"] is None
    assert done["sweep"] == "isolation" and done["axes"] == {"data": "synth"}
    assert done["config"]["sweep"] == {"name": "isolation", "axes": ["data"], "force": False, "isolate": False}
    assert done["config"]["run_dir"] == str(out_dir / "data=synth")
    assert set(done["metrics"]) >= {"AP", "AP50", "APs", "AR100"} and done["bench"]["params"] > 0
    assert done["versions"]["torch"] and done["hardware"]["cpu_count"] >= 1
    assert broken["status"] == "failed" and broken["metrics"] is None and broken["finished"]
    assert broken["error"]["type"] == "UserError" and broken["error"]["where"] == "eval"
    assert "no-coco" in broken["error"]["message"]
    assert f"failed: {out_dir / 'data=coco' / 'record.json'}" in err
    finished = done["finished"]

    # Same sweep, another launcher (joblib worker processes): the completed run is recognised by
    # its experiment hash and skipped, the failed one is retried (and fails again).
    code, out, err = cli("sweep", str(sweep), f"hydra.sweep.dir={out_dir}", "--launcher", "joblib", "--no-live")
    assert code == 1, err
    assert "2 runs: completed 0, skipped 1, failed 1" in out
    again = read_record(out_dir / "data=synth" / "record.json").to_dict()
    assert again["finished"] == finished and again["experiment_hash"] == done["experiment_hash"]
    assert sorted(p.parent.name for p in out_dir.glob("*/record.json")) == ["data=coco", "data=synth"]

    # --force reruns the completed one.
    code, out, err = cli("sweep", str(sweep), f"hydra.sweep.dir={out_dir}", "--force", "--no-live")
    assert "completed 1, skipped 0, failed 1" in out
    forced = read_record(out_dir / "data=synth" / "record.json").to_dict()
    assert forced["experiment_hash"] == done["experiment_hash"] and forced["attempt"]["action"] == "fresh"


@pytest.mark.slow
def test_run_command_writes_a_failed_record_and_exits_nonzero(cli, tmp_path):
    run_dir = tmp_path / "run"
    code, out, err = cli("run", *as_overrides(TINY), "data=coco", f"data.root={tmp_path / 'missing'}", f"run_dir={run_dir}")
    assert code == 1
    assert "run failed in eval: UserError" in err and "missing" in err
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "failed" and record["sweep"] is None and record["axes"] == {}
    assert (run_dir / "config.yaml").is_file()


@pytest.mark.slow
def test_non_finite_loss_ends_as_a_failed_record(tmp_path):
    from asffbench.config.compose import compose_config
    from asffbench.runs.run import run_experiment

    run_dir = tmp_path / "nan"
    cfg = compose_config([*as_overrides(TINY_TRAIN), "train.lr=1e30", "train.warmup_epochs=0", f"run_dir={run_dir}"])
    record = run_experiment(cfg)
    assert record.status == "failed" and record.error.where == "train"
    assert record.error.type == "NonFiniteLossError" and "non-finite loss" in record.error.message
    assert read_record(run_dir / "record.json").to_dict()["status"] == "failed"


@pytest.mark.slow
def test_run_command_completes_a_run_with_the_same_hash_as_composed(cli, tmp_path):
    from asffbench.config.compose import compose_config
    from asffbench.runs.experiment import experiment_hash

    run_dir = tmp_path / "run"
    code, out, err = cli("run", *as_overrides(TINY), f"run_dir={run_dir}")
    assert code == 0, err
    record = read_record(run_dir / "record.json").to_dict()
    assert out.startswith(f"completed: {run_dir}/record.json")
    assert record["status"] == "completed" and record["train_seconds"] is None  # epochs=0: no training
    assert record["experiment_hash"] == experiment_hash(compose_config(as_overrides(TINY)))
    assert {"detections.json", "metrics.json", "config.yaml", "record.json"} <= {p.name for p in run_dir.iterdir()}


def test_evaluating_given_weights_keeps_the_hash_a_sweep_plans_with(tmp_path):
    # train.epochs=0 train.checkpoint=PATH (the input_size sweep's advice) fills in eval.checkpoint;
    # the record must still carry the composed config's hash, or a rerun never skips it.
    from asffbench.config.compose import compose_config
    from asffbench.runs.experiment import experiment_hash
    from asffbench.runs.run import run_experiment

    weights = tmp_path / "no-such-weights.pt"
    cfg = compose_config([*as_overrides(TINY), f"train.checkpoint={weights}", f"run_dir={tmp_path / 'run'}"])
    record = run_experiment(cfg)
    assert record.config["eval"]["checkpoint"] == str(weights)
    assert record.experiment_hash == experiment_hash(cfg)
    assert read_record(tmp_path / "run" / "record.json").to_dict()["experiment_hash"] == experiment_hash(cfg)
    assert record.devices == 1 and record.device_seconds > 0  # a failed run's time counts too
