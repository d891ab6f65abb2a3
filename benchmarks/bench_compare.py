"""`asffbench compare a.json b.json --gt gt.json --bootstrap 1000` at val2017 size, phase by phase.

Two synthetic detection files on the synthetic val2017-sized ground truth of
`bench_bootstrap.py` (5,000 images, 80 classes, 100 detections per image), written as JSON.
Timed: the whole command as `compare_inputs` runs it (no stored match table: files have none),
then its phases apart: load (read the annotation and results files), match (the vectorised
matcher, both files), replicates (the paired bootstrap). `--check` also runs pycocotools'
`evaluate()` on file A, the matching `compare` used before: its time, and that its match table
and point AP equal ours (table exactly, AP to 1e-9). A second `compare` of run directories reads
their stored tables (the run directories are set up untimed, as `eval` leaves them).

    python benchmarks/bench_compare.py [--images 5000] [--replicates 1000] [--check] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from bench_bootstrap import Clock, add_size_arguments, synthetic_coco
from pycocotools.cocoeval import COCOeval

from asffbench.coco_format import read_ground_truth, read_results
from asffbench.engine.coco_match import match_coco, matches_from_evaluator
from asffbench.engine.run_matches import run_matches
from asffbench.record.layout import DETECTIONS_NAME, MATCHES_NAME
from asffbench.results.compare import compare_inputs
from asffbench.results.intervals.bootstrap import matched_from_table, point_metrics
from asffbench.results.intervals.significance import bootstrap_compare


def text(clock: Clock) -> str:
    return f"{clock.wall:.1f} s wall, {clock.cpu:.1f} s CPU"


def say(quiet: bool, line: str) -> None:
    """Each phase as soon as it is timed: a run cut short still leaves its figures."""
    if not quiet:
        print(line, flush=True)


def write_inputs(folder: Path, images: int, classes: int, detections: int) -> tuple[Path, Path, Path]:
    gt, dets_a = synthetic_coco(images, classes, detections, seed=0)
    _, dets_b = synthetic_coco(images, classes, detections, seed=1)  # same images, other detections
    paths = folder / "gt.json", folder / "a.json", folder / "b.json"
    for path, data in zip(paths, (gt.dataset, dets_a, dets_b)):
        path.write_text(json.dumps(data))
    return paths


def pycocotools_check(gt_path: Path, a_path: Path, ours: dict) -> dict:
    """pycocotools' evaluate() on A: its time, and whether its table and AP equal ours."""
    from pycocotools.coco import COCO

    gt = COCO()
    gt.dataset = read_ground_truth(gt_path)
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(copy.deepcopy(read_results(a_path, gt.dataset, gt_path))), "bbox")
        evaluator.params.imgIds = sorted(gt.getImgIds())
        with Clock() as clock:
            evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    reference = matches_from_evaluator(evaluator)
    same = all(np.array_equal(getattr(reference, name), getattr(ours["table"], name))
               for name in ("image", "category", "score", "matched", "ignored", "positives"))
    return {"pycocotools_match_seconds": round(clock.wall, 1), "same_table": same,
            "AP_difference": abs(float(evaluator.stats[0]) - ours["AP"])}


def second_compare(folder: Path, a_path: Path, b_path: Path, gt_path: Path, replicates: int) -> Clock:
    """Run directories whose evaluation stored their match tables: compare reads them."""
    runs = []
    for name, path in (("run_a", a_path), ("run_b", b_path)):
        run = folder / name
        run.mkdir()
        shutil.copy(path, run / DETECTIONS_NAME)
        (run / "metrics.json").write_text(json.dumps({"ground_truth": str(gt_path)}))
        run_matches(run / DETECTIONS_NAME, gt_path, table=run / MATCHES_NAME)  # what evaluate leaves
        runs.append(run)
    with Clock() as clock:
        compare_inputs(str(runs[0]), str(runs[1]), replicates=replicates)
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(parser)
    parser.add_argument("--check", action="store_true", help="also time and check pycocotools' matching of A")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    quiet = args.json
    folder = Path(tempfile.mkdtemp(prefix="bench_compare."))
    try:
        gt_path, a_path, b_path = write_inputs(folder, args.images, args.classes, args.detections)
        say(quiet, f"two files of {args.images * args.detections:,} detections on {args.images:,} images, "
                   f"{args.classes} classes; {args.replicates} replicates; 1-min load average {os.getloadavg()[0]:.1f}")
        with Clock() as whole:
            compare_inputs(str(a_path), str(b_path), gt_path, replicates=args.replicates)
        say(quiet, f"compare (whole command, files): {text(whole)}")
        with Clock() as load:
            gt = read_ground_truth(gt_path)
            dets = [read_results(path, gt, gt_path) for path in (a_path, b_path)]
        say(quiet, f"  load: {text(load)}")
        with Clock() as match:
            tables = [match_coco(gt, d) for d in dets]
            matched = [matched_from_table(t) for t in tables]
        say(quiet, f"  match (both files): {text(match)}")
        with Clock() as replicates:
            bootstrap_compare([matched[0]], [matched[1]], args.replicates)
        say(quiet, f"  replicates: {text(replicates)}")
        result = {"images": args.images, "classes": args.classes, "detections_per_file": len(dets[0]),
                  "replicates": args.replicates, "load_average_1min": round(os.getloadavg()[0], 1),
                  **{f"{name}_seconds": {"wall": round(clock.wall, 1), "cpu": round(clock.cpu, 1)}
                     for name, clock in (("compare", whole), ("load", load), ("match", match),
                                         ("replicates", replicates))}}
        again = second_compare(folder, a_path, b_path, gt_path, args.replicates)
        result["second_compare_seconds"] = {"wall": round(again.wall, 1), "cpu": round(again.cpu, 1)}
        say(quiet, f"second compare of run directories with stored tables: {text(again)}")
        if args.check:
            ours = {"table": tables[0], "AP": point_metrics(matched[0])["AP"]}
            result.update(pycocotools_check(gt_path, a_path, ours))
            say(quiet, f"pycocotools evaluate() on one file: {result['pycocotools_match_seconds']} s wall; same "
                       f"table: {result['same_table']}; |AP - pycocotools AP| = {result['AP_difference']:.1e}")
        say(quiet, f"1-min load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
