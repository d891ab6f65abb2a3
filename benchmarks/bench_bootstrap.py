"""Paired bootstrap speed on a val2017-sized synthetic input, against pycocotools per replicate.

Synthetic COCO: 5,000 images of 640 x 480, 80 classes, about 7 boxes per image (val2017 has 7.3)
with COCO-like sizes, and 100 detections per image (jittered copies of the boxes, some with the
wrong class, and random boxes). Timed: COCOeval's matching once, then `--replicates`
re-accumulations (`asffbench.results.bootstrap.replicate_metrics`). The pycocotools figure is
its `evaluate()` (the matching, timed once) + `accumulate()` (timed `--reference-runs` times) on
the full input, multiplied by the number of replicates: a replicate of the same size costs
pycocotools a full evaluation. Wall and CPU (process) times are both given; on a shared machine
the CPU times are the steadier ones.

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

from asffbench.results.intervals.bootstrap import bootstrap_weights, matched_from, replicate_metrics


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


class Clock:
    """Wall and process (CPU) seconds of a block."""

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def evaluated(gt: COCO, detections: list[dict]) -> tuple[COCOeval, Clock]:
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(copy.deepcopy(detections))
    evaluator = COCOeval(gt, dt, "bbox")
    with Clock() as clock, contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
    return evaluator, clock


def accumulate_clock(evaluator: COCOeval, runs: int) -> Clock:
    clocks = []
    for _ in range(runs):
        with Clock() as clock, contextlib.redirect_stdout(io.StringIO()):
            evaluator.accumulate()
        clocks.append(clock)
    return min(clocks, key=lambda c: c.cpu)


def add_size_arguments(parser: argparse.ArgumentParser) -> None:
    """The input's size (val2017's by default) and the replicates: shared with bench_compare.py."""
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--detections", type=int, default=100, help="per image")
    parser.add_argument("--replicates", type=int, default=1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(parser)
    parser.add_argument("--reference-runs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    gt, detections = synthetic_coco(args.images, args.classes, args.detections)
    evaluator, match = evaluated(gt, detections)
    accumulate = accumulate_clock(evaluator, args.reference_runs)
    matched = matched_from(evaluator)
    weights = bootstrap_weights(matched.num_images, args.replicates, np.random.default_rng(0))
    with Clock() as replicates:
        values = replicate_metrics(matched, weights)
    reference = {kind: getattr(match, kind) + getattr(accumulate, kind) for kind in ("wall", "cpu")}
    result = {
        "images": args.images, "classes": args.classes, "detections": len(detections),
        "replicates": args.replicates,
        "match_seconds": {"wall": round(match.wall, 1), "cpu": round(match.cpu, 1)},
        "replicates_seconds": {"wall": round(replicates.wall, 1), "cpu": round(replicates.cpu, 1)},
        "pycocotools_per_replicate_seconds": {k: round(v, 2) for k, v in reference.items()},
        "ratio": {k: round(reference[k] * args.replicates / getattr(replicates, k), 1) for k in reference},
        "AP_mean": float(np.nanmean(values["AP"])), "AP_std": float(np.nanstd(values["AP"])),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{len(detections):,} detections on {args.images:,} images, {args.classes} classes")
    print(f"matching once (COCOeval.evaluate): {match.wall:.1f} s wall, {match.cpu:.1f} s CPU")
    print(f"{args.replicates} replicates: {replicates.wall:.1f} s wall, {replicates.cpu:.1f} s CPU")
    print(f"pycocotools evaluate+accumulate per replicate: {reference['wall']:.1f} s wall, "
          f"{reference['cpu']:.1f} s CPU (x {args.replicates}, extrapolated)")
    print(f"ratio: {result['ratio']['wall']}x wall, {result['ratio']['cpu']}x CPU; "
          f"AP over replicates {result['AP_mean']:.4f} ± {result['AP_std']:.4f}")


if __name__ == "__main__":
    main()
