"""evaluate(): inference, box mapping to original pixels, category ids, files, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from asffbench.config.compose import compose_config
from asffbench.runs.evaluate import evaluate
from asffbench.engine.match_table import fingerprint, load_matches
from asffbench.models.outputs import DetectorOutput, LevelOutput
from asffbench.results.bootstrap import matched_from_table, point_metrics
from tests.conftest import assert_one_line_error

STRIDE = 8
SURE = 30.0  # a logit whose sigmoid is 1 to float precision


def overrides(run_dir: Path, cache: Path, *extra: str) -> list[str]:
    return [
        "model=tiny", "model.num_classes=6", "img_size=96", "device=cpu", "data.workers=0",
        "data.synth.images=16", f"data.cache_dir={cache}", "eval.batch_size=3", f"run_dir={run_dir}", *extra,
    ]


@pytest.fixture
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "asffbench-cache"


class OracleDetector(nn.Module):
    """A detector whose raw outputs encode the ground truth of each image it is shown.

    It follows the model contract exactly (one stride-8 level, one slot per box, anchors of
    1 px so tw = log w), so evaluating it checks everything after the model: decoding, NMS,
    letterbox undoing, label -> category id mapping and COCOeval.
    """

    def __init__(self, batches: list[list[list[tuple[int, list[float]]]]], num_classes: int, slots: int) -> None:
        super().__init__()
        self.batches = batches  # per call, per image: (label, xyxy input px)
        self.num_classes = num_classes
        self.slots = slots
        self.calls = 0

    def forward(self, images: torch.Tensor) -> DetectorOutput:
        batch, _, height, width = images.shape
        grid_h, grid_w = height // STRIDE, width // STRIDE
        pred = torch.full((batch, self.slots, grid_h, grid_w, 5 + self.num_classes), -SURE)
        for b, boxes in enumerate(self.batches[self.calls]):
            for slot, (label, (x1, y1, x2, y2)) in enumerate(boxes):
                cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
                gx, gy = min(int(cx), grid_w - 1), min(int(cy), grid_h - 1)
                pred[b, slot, gy, gx, 0] = logit(cx - gx)
                pred[b, slot, gy, gx, 1] = logit(cy - gy)
                pred[b, slot, gy, gx, 2] = math.log(x2 - x1)
                pred[b, slot, gy, gx, 3] = math.log(y2 - y1)
                pred[b, slot, gy, gx, 4] = SURE
                pred[b, slot, gy, gx, 5 + label] = SURE
        self.calls += 1
        anchors = torch.ones(batch, self.slots, grid_h, grid_w, 2)
        return DetectorOutput([LevelOutput(pred, anchors, None, STRIDE)])


def logit(p: float) -> float:
    p = min(max(p, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))


def oracle_for(cfg) -> OracleDetector:
    """Ground truth per val batch, in the input pixels the loader's metas describe."""
    from asffbench.data.loaders import build_val_loader
    from asffbench.settings import data_settings

    loader, dataset = build_val_loader(data_settings(cfg))
    cat_to_label = {cat: label for label, cat in enumerate(dataset.label_to_cat_id)}
    batches, slots = [], 1
    for _images, _targets, metas in loader:
        per_image = []
        for meta in metas:
            boxes = []
            for ann in dataset.coco.imgToAnns[meta["image_id"]]:
                x, y, w, h = ann["bbox"]
                s, (left, top) = meta["scale"], meta["pad"]
                boxes.append((cat_to_label[ann["category_id"]], [x * s + left, y * s + top, (x + w) * s + left, (y + h) * s + top]))
            per_image.append(boxes)
            slots = max(slots, len(boxes))
        batches.append(per_image)
    return OracleDetector(batches, num_classes=len(dataset.label_to_cat_id), slots=slots)


@pytest.mark.parametrize("backend", ["pycocotools", "faster_coco_eval"])
def test_ground_truth_through_the_whole_pipeline_gives_ap_one(tmp_path, cache, backend) -> None:
    cfg = compose_config(overrides(tmp_path, cache, f"eval.backend={backend}"))
    oracle = oracle_for(cfg)
    metrics = evaluate(cfg, tmp_path, model=oracle)
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AP75"] == pytest.approx(1.0)
    assert metrics["AR100"] == pytest.approx(1.0)
    assert set(metrics["per_class"]) == {"circle", "square", "triangle", "star", "cross", "ring"}
    assert metrics["num_images"] == 4 and metrics["backend"] == backend

    written = json.loads((tmp_path / "detections.json").read_text())
    assert len(written) == metrics["num_detections"] > 0
    gt = json.loads((tmp_path / "metrics.json").read_text())
    assert gt["AP"] == metrics["AP"]
    for det in written:  # COCO results: category ids of the dataset, xywh in original pixels
        assert 1 <= det["category_id"] <= 6 and 0 <= det["score"] <= 1
        x, y, w, h = det["bbox"]
        assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= 320 + 1e-3 and y + h <= 320 + 1e-3
    # The match table compare reads is stored, fresh, and scores what pycocotools scored.
    stamp = fingerprint(tmp_path / "detections.json", Path(gt["ground_truth"]), 100)
    table, _voc = load_matches(tmp_path / "coco_matches.npz", stamp)
    assert point_metrics(matched_from_table(table))["AP"] == pytest.approx(metrics["AP"], abs=1e-9)


def test_eval_of_a_run_dir_without_checkpoint_names_it(cli, tmp_path, cache) -> None:
    code, _out, err = cli("eval", *overrides(tmp_path / "empty", cache))
    assert_one_line_error(code, err, str(tmp_path / "empty" / "checkpoints" / "last.pt"), "checkpoint not found")
    code, _out, err = cli("eval", *overrides(tmp_path / "x", cache, f"eval.checkpoint={tmp_path}/nope.pt"))
    assert_one_line_error(code, err, "eval.checkpoint=", "nope.pt")


def test_eval_json_of_a_checkpoint_from_train(cli, tmp_path, cache) -> None:
    run_dir = tmp_path / "run"
    code, out, err = cli("train", *overrides(run_dir, cache, "train.epochs=0"), "--json")
    assert code == 0, err
    assert json.loads(out)["checkpoint"] == str(run_dir / "checkpoints" / "last.pt")
    code, out, err = cli("eval", *overrides(run_dir, cache), "--json")
    assert code == 0, err
    metrics = json.loads(out)
    for name in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100"):
        assert metrics[name] is None or 0.0 <= metrics[name] <= 1.0
    assert metrics["checkpoint"] == str(run_dir / "checkpoints" / "last.pt")
    assert (run_dir / "detections.json").is_file() and (run_dir / "metrics.json").is_file()


def test_eval_of_a_run_dir_alone_uses_the_runs_config_and_checkpoint(cli, tmp_path, cache) -> None:
    """`eval run_dir=R` with no group override evaluates R as it was configured (its model,
    data, img_size), from its last.pt even where its config names starting weights."""
    run_dir = tmp_path / "run"
    code, _out, err = cli("train", *overrides(run_dir, cache, "fusion=asff", "train.epochs=0"), "--json")
    assert code == 0, err
    code, out, err = cli("eval", *overrides(run_dir, cache, "fusion=asff"), "--json")
    assert code == 0, err
    explicit = json.loads(out)
    # Where the run started from: a file that is not its result.
    config = OmegaConf.load(run_dir / "config.yaml")
    assert config.model.weights is None
    config.model.weights = str(tmp_path / "start.pt")
    OmegaConf.save(config, run_dir / "config.yaml")
    code, out, err = cli("eval", f"run_dir={run_dir}", "--json")
    assert code == 0, err
    by_run = json.loads(out)
    assert by_run["checkpoint"] == str(run_dir / "checkpoints" / "last.pt")
    for key in ("AP", "AP50", "num_detections", "num_images", "fusion_weights"):
        assert by_run.get(key) == explicit.get(key), key
    # A key.path override applies to the run's config; a group override that changes the model is refused.
    code, out, err = cli("eval", f"run_dir={run_dir}", "eval.score_thresh=0.5", "--json")
    assert code == 0, err
    assert json.loads(out)["num_detections"] <= explicit["num_detections"]
    code, _out, err = cli("eval", f"run_dir={run_dir}", "model=darknet53", "--json")
    assert_one_line_error(code, err, "override 'model=darknet53'", "a run's model is fixed")


def test_eval_writes_into_run_dir_else_the_checkpoints_run(tmp_path) -> None:
    from asffbench.runs.evaluate import eval_run_dir
    from asffbench.errors import UserError

    def where(*extra: str) -> Path:
        return eval_run_dir(compose_config(["run_dir=null", *extra]))

    assert where(f"run_dir={tmp_path / 'a'}", f"eval.checkpoint={tmp_path / 'b' / 'w.pt'}") == tmp_path / "a"
    assert where(f"eval.checkpoint={tmp_path / 'run' / 'checkpoints' / 'last.pt'}") == tmp_path / "run"
    assert where(f"eval.checkpoint={tmp_path / 'weights' / 'w.pt'}") == tmp_path / "weights"
    with pytest.raises(UserError, match="nothing to evaluate"):
        where()
