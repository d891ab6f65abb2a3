"""`asffbench predict`: detections on image files, boxes in original-image pixels, drawn as PNGs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image, ImageDraw
from torchvision.ops import box_iou
from torchvision.transforms.v2 import functional as F

from asffbench.build import build_model
from asffbench.config.compose import compose_config, to_plain
from asffbench.data.synth_draw import CLASS_NAMES
from asffbench.data.transforms import PAD_VALUE, normalize
from asffbench.engine.checkpoint import save_checkpoint
from asffbench.engine.train_builders import build_criterion
from asffbench.predict import coco_class_names, png_names, split_items
from asffbench.settings import loss_settings

TINY = ["model=tiny", "model.num_classes=2", "img_size=64", "device=cpu", "fusion=asff"]
WIDTH, HEIGHT = 128, 80  # not square: the letterbox pads top and bottom
# (box xyxy in original pixels, class, colour) of the two objects drawn.
DRAWN = [((10, 14, 50, 54), 0, (240, 200, 40)), ((76, 20, 116, 72), 1, (40, 120, 240))]


def scene(path):
    rng = np.random.default_rng(0)
    image = Image.fromarray((rng.random((HEIGHT, WIDTH, 3)) * 50).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for (x1, y1, x2, y2), _label, colour in DRAWN:
        draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=colour)
    image.save(path)
    return image


def letterboxed(image, size):
    """The model input and target rows for `image`, letterboxed by hand (longer side to `size`)."""
    scale = size / WIDTH
    new_h = round(HEIGHT * scale)
    top = (size - new_h) // 2
    pixels = F.pad(F.resize(F.pil_to_tensor(image), [new_h, size], antialias=True),
                   [0, top, 0, size - new_h - top], fill=PAD_VALUE)
    inputs = normalize(F.to_dtype(pixels, torch.float32, scale=True))[None]
    targets = torch.tensor([[0, label, x1 * scale, y1 * scale + top, x2 * scale, y2 * scale + top, 1.0]
                            for (x1, y1, x2, y2), label, _ in DRAWN])
    return inputs, targets


def overfit(cfg, inputs, targets, steps=60):
    """Train the tiny model on the one scene (Adam, the configured loss) until it finds both objects."""
    torch.manual_seed(0)
    model, criterion = build_model(cfg), build_criterion(loss_settings(cfg))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(steps):
        loss, _parts = criterion(model(inputs).levels, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.mark.slow
def test_predict_finds_the_drawn_objects_in_original_pixels(tmp_path, cli):
    torch.set_num_threads(1)  # a tiny model on a shared CPU: one thread is the fastest
    image = scene(tmp_path / "scene.png")
    cfg = compose_config(TINY)
    model = overfit(cfg, *letterboxed(image, int(cfg.img_size)))
    weights = save_checkpoint({"model": model.state_dict()}, tmp_path / "weights.pt")

    code, out, err = cli("predict", str(tmp_path / "scene.png"), *TINY, f"model.weights={weights}",
                         "--json", "--out", str(tmp_path / "drawn"), "--score-thresh", "0.3")
    assert code == 0, err
    [record] = json.loads(out)["images"]
    assert (record["file"], record["width"], record["height"]) == (str(tmp_path / "scene.png"), WIDTH, HEIGHT)
    detections = record["detections"]
    scores = [d["score"] for d in detections]
    assert scores == sorted(scores, reverse=True) and len(detections) >= 2
    for box, label, _ in DRAWN:
        same_class = [d for d in detections if d["class"] == label]
        assert same_class and same_class[0]["name"] == str(label)  # 2 classes, no dataset: indices
        ious = box_iou(torch.tensor([box], dtype=torch.float32), torch.tensor([d["box_xyxy"] for d in same_class]))
        assert ious.max() > 0.6, (box, same_class)
    with Image.open(tmp_path / "drawn" / "scene.png") as drawn:
        assert drawn.size == (WIDTH, HEIGHT)


def make_run(root, *overrides):
    cfg = compose_config([*TINY, "model.num_classes=6", "data.synth.images=8", *overrides])
    torch.manual_seed(0)
    save_checkpoint({"model": build_model(cfg).state_dict(), "epoch": 0}, root / "checkpoints" / "last.pt")
    (root / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(to_plain(cfg))))
    return root


def test_predict_of_a_run_uses_its_checkpoint_not_its_starting_weights(tmp_path, cli):
    """A run trained from `model.weights=START` keeps that key in its config.yaml: predicting with
    the run must use what the run learned (its last.pt), unless model.weights is given again."""
    start_cfg = compose_config([*TINY, "model.num_classes=6"])
    torch.manual_seed(1)
    start = tmp_path / "start.pt"
    save_checkpoint({"model": build_model(start_cfg).state_dict(), "epoch": 0}, start)
    run = make_run(tmp_path / "run", f"model.weights={start}")
    scene(tmp_path / "a.png")

    def detections(*options):
        code, out, err = cli("predict", str(tmp_path / "a.png"), *options, "--json", "--score-thresh", "0.0")
        assert code == 0, err
        found = json.loads(out)["images"][0]["detections"]
        return [(d["box_xyxy"], d["score"], d["class"]) for d in found]  # a run also knows class names

    learned = detections(*TINY, "model.num_classes=6", f"model.weights={run / 'checkpoints' / 'last.pt'}")
    started = detections(*TINY, "model.num_classes=6", f"model.weights={start}")
    assert learned != started
    assert detections(f"run_dir={run}") == learned
    assert detections(f"run_dir={run}", f"model.weights={start}") == started


def test_predict_of_a_run_uses_its_config_and_class_names(tmp_path, cli):
    run = make_run(tmp_path / "run")
    scene(tmp_path / "a.png")
    scene(tmp_path / "b.jpg")
    code, out, err = cli("predict", str(tmp_path), f"run_dir={run}", "--json", "--score-thresh", "0.0")
    assert code == 0, err
    records = json.loads(out)["images"]
    assert [r["file"] for r in records] == [str(tmp_path / "a.png"), str(tmp_path / "b.jpg")]
    names = {d["name"] for r in records for d in r["detections"]}
    assert names and names <= set(CLASS_NAMES)  # the run's dataset names, not indices
    for record in records:
        for det in record["detections"]:
            x1, y1, x2, y2 = det["box_xyxy"]
            assert 0 <= x1 <= x2 <= WIDTH and 0 <= y1 <= y2 <= HEIGHT


def test_predict_errors_are_one_line(tmp_path, cli, one_line_error):
    scene(tmp_path / "x.png")
    image = str(tmp_path / "x.png")
    one_line_error(*cli("predict", image, *TINY)[::2], "set model.weights=FILE, run_dir=DIR")
    one_line_error(*cli("predict", str(tmp_path / "nope.png"), *TINY, "model.weights=w.pt")[::2],
                   "nope.png: no such file or directory")
    one_line_error(*cli("predict", image, *TINY, f"model.weights={tmp_path / 'w.pt'}")[::2],
                   "model.weights=", "no such file")
    one_line_error(*cli("predict", image, *TINY, f"run_dir={tmp_path}")[::2], "no config.yaml")
    one_line_error(*cli("predict", image, *TINY, "model.weights=w.pt", "--score-thresh", "2")[::2],
                   "--score-thresh 2.0")
    (tmp_path / "bad.png").write_text("not an image")
    run = make_run(tmp_path / "run")
    one_line_error(*cli("predict", str(tmp_path / "bad.png"), f"run_dir={run}")[::2], "bad.png: cannot read image")
    for group in ("model=darknet53", "recipe=reference"):  # a run's config groups are fixed, the recipe's too
        one_line_error(*cli("predict", image, f"run_dir={run}", group)[::2], f"override '{group}'", "is fixed")


def test_items_split_into_images_and_overrides(tmp_path):
    odd = tmp_path / "a=b.png"
    odd.write_bytes(b"")
    assert split_items([str(odd), "fusion=asff", "img.jpg"]) == ([odd, Path("img.jpg")], ["fusion=asff"])
    assert png_names([tmp_path / "a" / "x.png", tmp_path / "b" / "x.jpg", tmp_path / "y.png"]) == [
        "x_0.png", "x_1.png", "y.png"]


def test_coco_names_are_the_80_categories_in_id_order():
    names = coco_class_names()
    assert len(names) == 80 and names[0] == "person" and names[22] == "zebra" and names[-1] == "toothbrush"
