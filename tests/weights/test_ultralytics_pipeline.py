"""A released YOLOv8 checkpoint through asffbench's own image pipeline gives ultralytics' answer.

The family's input is a fact of its backbone entry (`BackboneInfo.input_norm`): RGB / 255 for
YOLOv8, the ImageNet mean/std for YOLOv3. On a real photograph (ultralytics' own `bus.jpg`,
810 x 1080, so the letterbox pads) the test-time input equals ultralytics' predictor's (LetterBox
with its grey 114, BGR -> RGB, / 255), and a checkpoint written by ultralytics predicts the same
boxes, classes and scores through `asffbench predict` as through ultralytics' predict.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from asffbench.config.compose import compose_config
from asffbench.data.images import ImageFiles
from asffbench.data.loaders import val_dataset
from asffbench.models.input_norm import IMAGENET_NORM, UNIT_RANGE
from asffbench.predict import predict
from asffbench.settings import data_settings
from asffbench.viz import load_image

ultralytics = pytest.importorskip("ultralytics")
from ultralytics import YOLO  # noqa: E402 - the oracle, after the skip
from ultralytics.data.augment import LetterBox  # noqa: E402
from ultralytics.nn.tasks import DetectionModel  # noqa: E402

from .ultralytics_files import responsive, write_release  # noqa: E402 - imports ultralytics

BUS = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
IMG = 128
# ultralytics' predictor decodes with OpenCV and resizes with INTER_LINEAR: recipe=ultralytics sets
# recipe.test_interp=opencv_linear.
V8 = ["model=yolov8", "model.scale=n", f"img_size={IMG}", "recipe=ultralytics", "device=cpu"]


def ultralytics_input(path: Path, size: int) -> torch.Tensor:
    """ultralytics' predictor's preprocessing of one file at a square size (its `rect=False`)."""
    letterboxed = LetterBox((size, size), auto=False)(image=cv2.imread(str(path)))
    return torch.from_numpy(np.ascontiguousarray(letterboxed[..., ::-1])).permute(2, 0, 1).float() / 255


def test_the_family_names_its_input_normalisation():
    assert data_settings(compose_config(V8)).input_norm == UNIT_RANGE
    assert data_settings(compose_config(["model=tiny"])).input_norm == IMAGENET_NORM


def test_test_time_input_equals_ultralytics_predictor():
    data = data_settings(compose_config(V8))
    ours, _, meta = val_dataset(data, ImageFiles([BUS]))[0]
    theirs = ultralytics_input(BUS, IMG)
    assert meta["pad"] == (16, 0)  # 810 x 1080 -> 96 x 128, grey on the left and right
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    torch.testing.assert_close(load_image(BUS, data)[1], theirs, rtol=0, atol=1e-6)  # viz's input too


@pytest.mark.slow  # ~5 s: ultralytics' predictor starts slowly
def test_released_checkpoint_predicts_as_ultralytics(tmp_path):
    model = responsive(DetectionModel("yolov8n.yaml", nc=80, verbose=False))
    _, release = write_release(model, tmp_path, {i: f"class{i}" for i in range(80)})
    conf = 0.5
    theirs = YOLO(str(release)).predict(str(BUS), imgsz=IMG, conf=conf, rect=False, verbose=False)[0].boxes
    ours = predict([BUS], [*V8, f"model.weights={release}"], score_thresh=conf)[0]["images"][0]["detections"]
    assert 10 <= len(theirs) == len(ours)
    boxes = torch.tensor([d["box_xyxy"] for d in ours])
    classes = torch.tensor([d["class"] for d in ours])
    scores = torch.tensor([d["score"] for d in ours])
    for box, cls, score in zip(theirs.xyxy, theirs.cls, theirs.conf):
        # Nearest of the same class, a score 0.001 apart counting as a pixel (equal boxes abound).
        distance = torch.maximum((boxes - box).abs().amax(dim=1), 1e3 * (scores - score).abs())
        distance[classes != int(cls)] = float("inf")
        nearest = int(distance.argmin())
        assert distance[nearest] < 1.0, (box, cls, score, boxes[nearest], scores[nearest])
