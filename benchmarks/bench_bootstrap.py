"""Paired bootstrap speed on a val2017-sized synthetic input, against pycocotools per replicate.

Synthetic COCO: 5,000 images of 640 x 480, 80 classes, about 7 boxes per image (val2017 has 7.3)
with COCO-like sizes, and 100 detections per image (jittered copies of the boxes, some with the
wrong class, and random boxes). Timed: COCOeval's matching once, then `--replicates`
re-accumulations (`asffbench.results.bootstrap.replicate_metrics`). The pycocotools figure is
`evaluate()` + `accumulate()` on an input of the same size, timed `--reference-runs` times and
multiplied by the number of replicates (a replicate costs pycocotools a full evaluation).

    python benchmarks/bench_bootstrap.py [--images 5000] [--replicates 1000] [--reference-runs 2] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import time

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from asffbench.results.bootstrap import bootstrap_weights, match_detections, replicate_metrics


def synthetic_coco(images: int, classes: int, detections: int, seed: int = 0) -> tuple[COCO, list[dict]]:
    rng = np.random.default_rng(seed)
    boxes_per_image = rng.poisson(7.3, images)
    owner = np.repeat(np.arange(1, images + 1), boxes_per_image)
    n = owner.size
    size = np.exp(rng.uniform(np.log(6), np.log(400), (n, 2)))  # log-uniform: COCO-like mix of sizes
    corner = rng.uniform(0, 1, (n, 2)) * (np.array([640, 480]) - size).clip(min=1)
    labels = rng.integers(1, classes + 1, n)
    annotations = [{"id": i + 1, "image_id": int(owner[i]), "category_id": int(labels[i]),
                    "bbox": [*map(float, corner[i]), *map(float, size[i])],
                    "area": float(size[i].prod()), "iscrowd": 0} for i in range(n)]
    gt = COCO()
    gt.dataset = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480}
                             for i in range(1, images + 1)],
                  "categories": [{"id": c, "name": f"class{c}"} for c in range(1, classes + 1)],
                  "annotations": annotations}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    results = []
    start = np.concatenate([[0], np.cumsum(boxes_per_image)])
    for image in range(images):
        own = np.arange(start[image], start[image + 1])
        copies = rng.choice(own, size=min(detections // 2, 3 * own.size), replace=True) if own.size else own
        jitter = rng.normal(0, 0.1, (copies.size, 4)) * np.tile(size[copies], 2)
        near = np.concatenate([corner[copies], size[copies]], axis=1) + jitter
        wrong = rng.random(copies.size) < 0.2
        near_labels = np.where(wrong, rng.integers(1, classes + 1, copies.size), labels[copies])
        rest = detections - copies.size
        random_size = np.exp(rng.uniform(np.log(6), np.log(400), (rest, 2)))
        random_boxes = np.concatenate([rng.uniform(0, 400, (rest, 2)), random_size], axis=1)
        boxes = np.concatenate([near, random_boxes]).clip(min=0.5)
        cats = np.concatenate([near_labels, rng.integers(1, classes + 1, rest)])
        scores = np.concatenate([rng.uniform(0.2, 1.0, copies.size), rng.uniform(0.0, 0.6, rest)])
        results += [{"image_id": image + 1, "category_id": int(c), "bbox": [float(v) for v in b],
                     "score": float(s)} for b, c, s in zip(boxes, cats, scores)]
    return gt, results


def pycocotools_seconds(gt: COCO, detections: list[dict], runs: int) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(copy.deepcopy(detections))
    times = []
    for _ in range(runs):
        evaluator = COCOeval(gt, dt, "bbox")
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator.evaluate()
            evaluator.accumulate()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--detections", type=int, default=100, help="per image")
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--reference-runs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    gt, detections = synthetic_coco(args.images, args.classes, args.detections)
    started = time.perf_counter()
    matched = match_detections(gt, detections)
    match_s = time.perf_counter() - started
    weights = bootstrap_weights(matched.num_images, args.replicates, np.random.default_rng(0))
    started = time.perf_counter()
    values = replicate_metrics(matched, weights)
    replicates_s = time.perf_counter() - started
    reference_s = pycocotools_seconds(gt, detections, args.reference_runs)
    result = {
        "images": args.images, "classes": args.classes, "detections": len(detections),
        "replicates": args.replicates, "match_seconds": round(match_s, 2),
        "replicates_seconds": round(replicates_s, 2),
        "pycocotools_per_replicate_seconds": round(reference_s, 2),
        "pycocotools_extrapolated_seconds": round(reference_s * args.replicates, 1),
        "speedup": round(reference_s * args.replicates / replicates_s, 1),
        "AP_mean": float(np.nanmean(values["AP"])), "AP_std": float(np.nanstd(values["AP"])),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{len(detections):,} detections on {args.images:,} images, {args.classes} classes")
    print(f"matching once (COCOeval.evaluate): {match_s:.1f} s")
    print(f"{args.replicates} replicates: {replicates_s:.1f} s")
    print(f"pycocotools evaluate+accumulate: {reference_s:.1f} s per replicate "
          f"(median of {args.reference_runs}), {reference_s * args.replicates:.0f} s extrapolated")
    print(f"ratio: {result['speedup']}x;  AP over replicates {result['AP_mean']:.4f} ± {result['AP_std']:.4f}")


if __name__ == "__main__":
    main()
