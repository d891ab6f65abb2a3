"""A test split (image info without annotations, as COCO's test-dev): evaluation writes the
evaluation server's results file instead of scoring, training leaves it alone, and an empty
annotations list is still an ordinary val split."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import pytest
import torch

from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.data.sources import synth_files
from asffbench.record.run_record import Metrics
from asffbench.record.sections import unknown_keys
from asffbench.runs.evaluate import evaluate
from asffbench.settings import data_source
from tests.conftest import assert_one_line_error
from tests.engine.test_eval_pipeline import oracle_for, overrides

SERVER_NAME = "detections_test-dev2017_tiny-asff-96_results.json"  # model.name-fusion.name-img_size


@pytest.fixture
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "asffbench-cache"


def split_file(tmp_path: Path, cache: Path, name: str, annotations: bool | None) -> list[str]:
    """The synthetic val split rewritten as `name`: without its annotations key (None), with an
    empty list (False) or as it is (True); the overrides that make it the val split."""
    ann, images = synth_files(data_source(compose_config(overrides(tmp_path, cache))), "val")
    data = json.loads(ann.read_text())
    if annotations is None:
        del data["annotations"]
    elif not annotations:
        data["annotations"] = []
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return [f"data.val.ann={path}", f"data.val.images={images}"]


def test_a_test_split_gets_the_servers_results_file_and_no_ap(tmp_path, cache, one_thread) -> None:
    run_dir = tmp_path / "run"
    oracle = oracle_for(compose_config(overrides(run_dir, cache)))  # the val boxes, image by image
    test_split = split_file(tmp_path, cache, "image_info_test-dev2017.json", annotations=None)
    (run_dir / "metrics.json").parent.mkdir(parents=True)
    (run_dir / "metrics.json").write_text('{"AP": 0.5}')  # an earlier evaluation of the val split

    metrics = evaluate(compose_config(overrides(run_dir, cache, "fusion=asff", *test_split)), run_dir, model=oracle)

    assert metrics["annotated"] is False and metrics["backend"] is None
    assert all(metrics[name] is None for name in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"))
    assert "image_info_test-dev2017.json has no annotations" in metrics["no_ap_reason"]
    assert "per_class" not in metrics and "fusion_weights" not in metrics
    assert metrics["server_results"] == str(run_dir / SERVER_NAME)
    written = json.loads((run_dir / SERVER_NAME).read_text())
    with zipfile.ZipFile(run_dir / SERVER_NAME.replace(".json", ".zip")) as archive:
        assert archive.namelist() == [SERVER_NAME]  # the file at the archive's root, as the server takes it
        assert json.loads(archive.read(SERVER_NAME)) == written
    # COCO results of every val box: the split's image and category ids, xywh in original pixels.
    gt = json.loads(synth_files(data_source(compose_config(overrides(run_dir, cache))), "val")[0].read_text())
    expected = sorted((a["image_id"], a["category_id"], *[round(v) for v in a["bbox"]]) for a in gt["annotations"])
    assert set(written[0]) == {"image_id", "category_id", "bbox", "score"}
    assert sorted((d["image_id"], d["category_id"], *[round(v) for v in d["bbox"]]) for d in written) == expected
    assert len(written) == metrics["num_detections"] and metrics["num_images"] == len(gt["images"])
    # Its metrics go beside the server's file; the val evaluation's files are left as they were.
    assert json.loads((run_dir / "metrics_test-dev2017.json").read_text()) == json.loads(json.dumps(metrics))
    assert json.loads((run_dir / "metrics.json").read_text()) == {"AP": 0.5}
    assert not (run_dir / "detections.json").exists()
    typed = Metrics.from_dict(metrics)
    assert not typed.scored and unknown_keys(typed) == []
    assert Metrics.from_dict({"AP": 0.3}).scored  # records before the field: scored


def test_an_empty_annotations_list_is_still_a_val_split(tmp_path, cache) -> None:
    run_dir = tmp_path / "run"
    oracle = oracle_for(compose_config(overrides(run_dir, cache)))
    empty = split_file(tmp_path, cache, "image_info_test-dev2017.json", annotations=False)
    metrics = evaluate(compose_config(overrides(run_dir, cache, *empty)), run_dir, model=oracle)
    assert "annotated" not in metrics and metrics["backend"] == "pycocotools"
    assert metrics["AP"] is None  # no ground truth anywhere: COCOeval leaves every AP undefined
    assert json.loads((run_dir / "detections.json").read_text()) and (run_dir / "metrics.json").is_file()
    assert not list(run_dir.glob("detections_*"))


def test_eval_command_names_the_file_for_the_server(cli, tmp_path, cache, one_thread) -> None:
    test_split = split_file(tmp_path, cache, "image_info_test-dev2017.json", annotations=None)
    cfg = compose_config(overrides(tmp_path / "run", cache, "fusion=asff"))
    torch.save(build_model(cfg).state_dict(), tmp_path / "weights.pt")
    code, out, err = cli("eval", *overrides(tmp_path / "run", cache, "fusion=asff", *test_split),
                         f"model.weights={tmp_path / 'weights.pt'}")
    assert code == 0, err
    assert "no AP computed" in out and "evaluation server" in out
    assert str(tmp_path / "run" / SERVER_NAME) in out and SERVER_NAME.replace(".json", ".zip") in out


def test_training_skips_its_evaluations_on_a_test_split_and_refuses_one_to_train_on(cli, tmp_path, cache, one_thread,
                                                                                   caplog) -> None:
    from asffbench.runs.training import train

    test_split = split_file(tmp_path, cache, "image_info_test-dev2017.json", annotations=None)
    run_dir = tmp_path / "run"
    cfg = compose_config(overrides(run_dir, cache, *test_split, "train.epochs=3", "train.max_iters_per_epoch=1",
                                   "train.batch_size=2", "train.eval_every=1", "tricks.multiscale=false"))
    with caplog.at_level(logging.WARNING):
        result = train(cfg, run_dir)
    assert result.epochs_done == 3
    skipped = [r.getMessage() for r in caplog.records if "train.eval_every=1" in r.getMessage()]
    assert len(skipped) == 1 and "no annotations" in skipped[0]  # said once, not every epoch
    lines = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert not [line for line in lines if line.get("event") == "eval"]

    as_train = [o.replace("data.val.", "data.train.") for o in test_split]
    code, _out, err = cli("train", *overrides(tmp_path / "t", cache, *as_train, "train.epochs=1"))
    assert_one_line_error(code, err, "image_info_test-dev2017.json", "no annotations", "data.train.ann")
