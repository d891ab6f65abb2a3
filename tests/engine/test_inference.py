"""The one inference loop gives what evaluation, predict, viz and the bench computed by hand before."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import box_convert

from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.engine.evaluate_model import predict
from asffbench.engine.inference import forward_batches, infer, single_images
from asffbench.engine.postprocess import boxes_to_original, nms_candidate_counts, postprocess
from asffbench.settings import PostprocessSettings

SETTINGS = PostprocessSettings(score_thresh=0.001, nms_iou=0.5, max_det=30, multi_label=True)
CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny convolutions: one thread is fastest, and spares a busy machine's other jobs.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = compose_config(["model=tiny", "model.num_classes=3", "img_size=64", "device=cpu", "fusion=asff"])
    return build_model(cfg).eval()


@pytest.fixture(scope="module")
def batches():
    generator = torch.Generator().manual_seed(1)
    metas = [
        [{"image_id": 1, "orig_size": (48, 64), "scale": 1.0, "pad": (0, 8)},
         {"image_id": 2, "orig_size": (128, 96), "scale": 0.5, "pad": (8, 0)}],
        [{"image_id": 3, "orig_size": (64, 32), "scale": (2.0, 1.0), "pad": (0, 0)}],
    ]
    return [(torch.randn(len(m), 3, 64, 64, generator=generator), None, m) for m in metas]


def by_hand(model, images, metas):
    """What evaluate.predict and predict.detect computed before the loop existed."""
    with torch.no_grad():
        found = postprocess(model(images).levels, **SETTINGS.kwargs())
    return [(boxes_to_original(d["boxes"].float().cpu(), meta), d["scores"].float().cpu(), d["labels"].cpu())
            for d, meta in zip(found, metas)]


def test_the_loop_gives_the_hand_written_detections(model, batches):
    steps = list(infer(model, batches, CPU, SETTINGS))
    assert [step.metas for step in steps] == [metas for _, _, metas in batches]
    total = 0
    for step, (images, _targets, metas) in zip(steps, batches):
        for det, (boxes, scores, labels) in zip(step.detections, by_hand(model, images, metas), strict=True):
            assert torch.equal(det["boxes"], boxes) and torch.equal(det["scores"], scores)
            assert torch.equal(det["labels"], labels)
            total += len(scores)
    assert total > 0  # an untrained model at this threshold still finds boxes to compare


def test_evaluation_results_are_the_loops_detections_in_coco_form(model, batches):
    results, image_ids = predict(model, batches, [10, 20, 30], CPU, SETTINGS)
    assert image_ids == [1, 2, 3]
    expected = []
    for images, _targets, metas in batches:
        for meta, (boxes, scores, labels) in zip(metas, by_hand(model, images, metas)):
            for box, score, label in zip(box_convert(boxes, "xyxy", "xywh").tolist(), scores.tolist(), labels.tolist()):
                expected.append({"image_id": meta["image_id"], "category_id": [10, 20, 30][label],
                                 "bbox": [round(v, 3) for v in box], "score": round(score, 5)})
    assert results == expected and results


def test_single_images_and_per_level_detections(model, batches):
    images, _targets, metas = batches[0]
    items = [(images[i], None, metas[i]) for i in range(len(metas))]
    steps = list(infer(model, single_images(items), CPU, SETTINGS, fusion_weights=True, per_level=True))
    assert len(steps) == 2 and all(step.output.fusion_weights is not None for step in steps)
    with torch.no_grad():
        levels = model(images[1:2]).levels
    for k, level in enumerate(levels):
        alone = postprocess([level], **SETTINGS.kwargs())[0]  # viz's panels: one level, input px
        assert torch.equal(steps[1].level_detections[k][0]["boxes"], alone["boxes"].float())
    for i, step in enumerate(steps):  # predict's batches of one, as it ran them before
        [(boxes, scores, _labels)] = by_hand(model, images[i:i + 1], [metas[i]])
        assert torch.equal(step.detections[0]["boxes"], boxes) and torch.equal(step.detections[0]["scores"], scores)


def test_forward_in_channels_last_gives_the_same_candidate_counts(model, batches):
    images = batches[0][0]
    with torch.no_grad():
        expected = nms_candidate_counts(model(images).levels, score_thresh=0.001).tolist()
        [step] = list(forward_batches(model, [(images, None, [])], CPU, channels_last=True))
        assert nms_candidate_counts(step.output.levels, score_thresh=0.001).tolist() == expected
