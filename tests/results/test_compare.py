"""`asffbench compare`: paired bootstrap of two runs, seeds, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.results.coco_cases import detections, ground_truth, write_run


@pytest.fixture
def gt_file(tmp_path):
    path = tmp_path / "instances_val.json"
    path.write_text(json.dumps(ground_truth(images=60, seed=7)))
    return path


def compare_json(cli, *args):
    code, out, err = cli("compare", *map(str, args), "--json", "--bootstrap", "200")
    assert code == 0, err
    return json.loads(out)


def test_a_run_compared_with_itself_has_delta_zero(cli, tmp_path, gt_file):
    run = write_run(tmp_path / "run", gt_file, detections(json.loads(gt_file.read_text()), seed=1))
    result = compare_json(cli, run, run)
    assert result["images"] == 60 and result["bootstrap"] == 200
    for name, m in result["metrics"].items():
        assert m["delta"] == 0.0 and m["ci95"] == [0.0, 0.0], name
        assert m["p"] == 1.0 and not m["significant"]


def test_scores_shuffled_across_images_are_significantly_worse(cli, tmp_path, gt_file):
    data = json.loads(gt_file.read_text())
    dets = detections(data, seed=2, quality=0.05)
    scores = [d["score"] for d in dets]
    np.random.default_rng(0).shuffle(scores)
    shuffled = [{**d, "score": s} for d, s in zip(dets, scores)]
    good = write_run(tmp_path / "good", gt_file, dets)
    bad = write_run(tmp_path / "bad", gt_file, shuffled)
    ap = compare_json(cli, good, bad)["metrics"]["AP"]
    assert ap["delta"] < 0 and ap["ci95"][1] < 0 and ap["significant"]
    assert ap["p"] < 0.05
    code, out, _ = cli("compare", str(good), str(bad), "--bootstrap", "50")
    assert code == 0 and "AP " in out and " *" in out  # the text table marks it


def test_detection_files_with_gt(cli, tmp_path, gt_file):
    data = json.loads(gt_file.read_text())
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(detections(data, seed=3)))
    b.write_text(json.dumps(detections(data, seed=4)))
    result = compare_json(cli, a, b, "--gt", gt_file)
    assert result["a"] == str(a) and result["images"] == 60
    assert result["metrics"]["AP"]["ci95"][0] <= result["metrics"]["AP"]["delta"] <= result["metrics"]["AP"]["ci95"][1]


def test_results_file_without_gt_is_refused(cli, tmp_path, one_line_error):
    a = tmp_path / "a.json"
    a.write_text("[]")
    code, _, err = cli("compare", str(a), str(a))
    one_line_error(code, err, "a.json", "--gt")


def test_different_image_sets_are_refused(cli, tmp_path, gt_file, one_line_error):
    other = ground_truth(images=60, seed=7)
    other["images"] = other["images"][:55]
    other["annotations"] = [a for a in other["annotations"] if a["image_id"] <= 55]
    other_file = tmp_path / "other.json"
    other_file.write_text(json.dumps(other))
    a = write_run(tmp_path / "a", gt_file, detections(json.loads(gt_file.read_text()), seed=1))
    b = write_run(tmp_path / "b", other_file, detections(other, seed=1))
    code, _, err = cli("compare", str(a), str(b))
    one_line_error(code, err, "different images", "5 of 60")


def test_two_level_bootstrap_over_seeds(tmp_path, gt_file):
    from asffbench.results.compare import compare_inputs

    data = json.loads(gt_file.read_text())
    for seed in range(3):  # hand-written sweep cells: three seeds each, B's boxes tighter
        record = {"status": "completed", "axes": {"fusion": "none", "seed": seed}}
        write_run(tmp_path / f"fusion=none,seed={seed}", gt_file, detections(data, seed=seed, quality=0.15), record)
        record = {"status": "completed", "axes": {"fusion": "asff", "seed": seed}}
        write_run(tmp_path / f"fusion=asff,seed={seed}", gt_file, detections(data, seed=10 + seed, quality=0.05), record)
    result = compare_inputs(str(tmp_path / "fusion=none,seed=*"), str(tmp_path / "fusion=asff,seed=*"),
                            replicates=300)
    single = compare_inputs(str(tmp_path / "fusion=none,seed=0"), str(tmp_path / "fusion=asff,seed=0"),
                            replicates=300)
    assert len(result.a) == 3 and len(result.b) == 3
    ap = result.metrics["AP"]
    per_seed_a = [compare_inputs(str(tmp_path / f"fusion=none,seed={s}"), str(tmp_path / f"fusion=none,seed={s}"),
                                 replicates=1).metrics["AP"].a for s in range(3)]
    assert ap.a == pytest.approx(np.mean(per_seed_a))
    assert ap.a_seed_std == pytest.approx(np.std(per_seed_a, ddof=1))
    assert ap.a_seed_std > 0 and np.isnan(single.metrics["AP"].a_seed_std)
    assert ap.ci95[0] <= ap.delta <= ap.ci95[1] and ap.significant
    entry = result.to_json()["metrics"]["AP"]
    assert set(entry["seed_std"]) == {"a", "b"} and "seed_std" not in single.to_json()["metrics"]["AP"]
