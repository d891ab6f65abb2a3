"""A test split's evaluation: no AP here, the detections file for the COCO evaluation server.

A split file without annotations (image info only, as COCO's `image_info_test-dev2017.json`)
cannot be scored locally. Its detections are written as the server names a results file,
`detections_[testset]_[alg]_results.json` (`coco_format.server_results_name`), with the `.zip`
the server takes as upload beside it; the metrics say that no AP was computed and why, in
`metrics_<testset>.json` (`record.layout.TEST_METRICS_NAME`): the run's metrics.json and
detections.json, an evaluation of its val split, stay as they were. Torch-free.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Sequence

from asffbench.atomic import write_atomic, write_json_atomic
from asffbench.coco_format import server_results_name, testset_name
from asffbench.record.layout import TEST_METRICS_NAME


def write_test_split_outputs(run_dir: Path, metrics: dict, detections: Sequence[dict], ann_file: Path,
                             alg: str) -> None:
    """The server's results file and zip (named in `metrics`), then `metrics_<testset>.json`."""
    testset = testset_name(ann_file)
    metrics.update(write_server_results(run_dir, detections, testset, alg))
    write_json_atomic(Path(run_dir) / TEST_METRICS_NAME.format(testset=testset), metrics)


def unscored_metrics(metric_names: Sequence[str], ann_file: Path) -> dict[str, Any]:
    """The metrics fields of an evaluation that computed no AP: every metric None, `annotated`
    False and the reason."""
    metrics: dict[str, Any] = {name: None for name in metric_names}
    metrics["annotated"] = False
    metrics["no_ap_reason"] = (f"{ann_file} has no annotations (image info only: a test split); "
                               "its AP comes from the evaluation server")
    return metrics


def write_server_results(run_dir: Path, detections: Sequence[dict], testset: str, alg: str) -> dict[str, str]:
    """The COCO results file under the server's name and its zip (the file at the archive's root),
    in `run_dir`: `{"server_results": json path, "server_zip": zip path}`."""
    name = server_results_name(testset, alg)
    results = write_json_atomic(Path(run_dir) / name, list(detections), indent=None)

    def zip_results(handle: Any) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(results, arcname=results.name)

    archive = write_atomic(results.with_suffix(".zip"), zip_results)
    return {"server_results": str(results), "server_zip": str(archive)}
