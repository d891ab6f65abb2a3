"""A run of a sweep named as a user types it (`runs/smoke/fusion=asff`), and a run's own config as
the base of every override given with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from asffbench.build import build_model
from asffbench.cli.common import run_and_overrides
from asffbench.config.compose import compose_config, load_run_config, quoted_for_hydra, write_run_config
from asffbench.engine.checkpoint import save_checkpoint
from asffbench.errors import UserError

# A run small enough to evaluate in a second: the synthetic 6 classes, 64 px, 8 synthetic images.
TINY = ["model=tiny", "fusion=asff", "img_size=64", "device=cpu", "model.num_classes=6",
        "data.synth.images=8", "data.workers=0", "eval.batch_size=2", "model.deform_conv=sampled"]


@pytest.fixture
def sweep_run(tmp_path_factory, one_thread) -> Path:
    """`<sweep>/fusion=asff` as a sweep leaves it: config.yaml and checkpoints/last.pt."""
    root = tmp_path_factory.mktemp("sweep") / "smoke" / "fusion=asff"
    cache = tmp_path_factory.getbasetemp() / "asffbench-cache"
    cfg = compose_config([*TINY, f"data.cache_dir={cache}", f"run_dir={root}"])
    torch.manual_seed(0)
    save_checkpoint({"model": build_model(cfg).state_dict(), "epoch": 0}, root / "checkpoints" / "last.pt")
    write_run_config(root, cfg)
    return root


def test_path_options_are_quoted_for_hydra_and_other_overrides_left_alone():
    assert quoted_for_hydra("run_dir=runs/smoke/fusion=asff") == "run_dir='runs/smoke/fusion=asff'"
    assert quoted_for_hydra("data.val.ann=a=b.json") == "data.val.ann='a=b.json'"
    assert quoted_for_hydra("+eval.checkpoint=it's.pt") == "+eval.checkpoint='it\\'s.pt'"
    for kept in ("fusion=asff", "model.weights=null", "run_dir=", "run_dir='a=b'", "img_size=64"):
        assert quoted_for_hydra(kept) == kept
    odd = ["run_dir=runs/x=1", "model.weights=w=1 2.pt", "eval.checkpoint=c,d(1).pt", "train.checkpoint=a\\",
           "model.pretrained=p=q", "data.root=r=s", "data.train.images=i=j", "data.val.ann=C:\\x\\"]
    cfg = compose_config(odd)
    for override in odd:
        key, _, value = override.partition("=")
        section, _, name = key.rpartition(".")
        node = cfg
        for part in filter(None, section.split(".")):
            node = node[part]
        assert node[name] == value, override


def test_a_run_directory_item_becomes_run_dir(tmp_path):
    run = tmp_path / "fusion=asff"
    run.mkdir()
    assert run_and_overrides([str(run), "eval.score_thresh=0.5"]) == [f"run_dir={run}", "eval.score_thresh=0.5"]
    assert run_and_overrides(["eval.score_thresh=0.5", str(run)])[0] == f"run_dir={run}"
    assert run_and_overrides(["fusion=asff", "~model.weights"]) == ["fusion=asff", "~model.weights"]
    with pytest.raises(UserError, match="nope: no such run directory"):
        run_and_overrides([str(tmp_path / "nope")])
    with pytest.raises(UserError, match="one run directory at a time"):
        run_and_overrides([str(run), str(tmp_path)])


def test_eval_of_a_sweep_run_as_typed(cli, sweep_run):
    code, out, err = cli("eval", str(sweep_run), "--json")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["checkpoint"] == str(sweep_run / "checkpoints" / "last.pt")
    assert (sweep_run / "metrics.json").is_file()
    code, out, err = cli("eval", f"run_dir={sweep_run}", "--json")  # the option, unquoted
    assert code == 0, err
    assert json.loads(out)["num_detections"] == metrics["num_detections"]


def test_predict_of_a_sweep_run_as_typed(cli, sweep_run, tmp_path):
    image = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)).save(image)
    for run in (str(sweep_run), f"run_dir={sweep_run}"):
        code, out, err = cli("predict", run, str(image), "--json", "--score-thresh", "0.0")
        assert code == 0, err
        [record] = json.loads(out)["images"]
        assert record["file"] == str(image) and record["detections"]


@pytest.mark.slow
def test_viz_of_a_sweep_run_as_typed(cli, sweep_run):
    code, out, err = cli("viz", str(sweep_run), "--max-images", "1", "--score-thresh", "0.01")
    assert code == 0, err
    [written] = out.split()
    assert Path(written).parent == sweep_run / "viz" and Path(written).is_file()


@pytest.mark.slow
def test_export_of_a_sweep_run_as_typed_uses_its_config_and_weights(cli, sweep_run, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "run.onnx"
    code, stdout, err = cli("export", str(sweep_run), "--out", str(out), "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert out.is_file() and (result["model"], result["img_size"]) == ("tiny", 64)
    assert result["difference"]["max_rel"] < 1e-4


# A run's own config is the base for every override given with it.

def test_data_override_swaps_the_data_group_and_keeps_the_runs_model(sweep_run):
    cfg = load_run_config(sweep_run / "config.yaml", ["data=coco", "data.root=/d", "data.val.images=val2017",
                                                      "model=tiny", "eval.score_thresh=0.5"])
    assert (cfg.model.name, cfg.fusion.name, cfg.model.num_classes, cfg.img_size) == ("tiny", "asff", 6, 64)
    assert (cfg.data.name, cfg.data.root, cfg.data.val.images, cfg.data.synth.images) == ("coco", "/d", "val2017", 160)
    assert cfg.eval.score_thresh == 0.5
    same = load_run_config(sweep_run / "config.yaml", ["data=synth"])  # the run's own choice: unchanged
    assert same.data.synth.images == 8


def test_eval_of_a_run_on_another_dataset_keeps_its_model(cli, sweep_run, tmp_path):
    """The test-dev command of a tiny run: data=coco swaps the data; the model stays the run's."""
    coco = tmp_path / "coco"
    (coco / "val2017").mkdir(parents=True)
    (coco / "annotations").mkdir()
    images = []
    for i in (1, 2):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (48, 80, 3), dtype=np.uint8)).save(
            coco / "val2017" / f"{i:012d}.jpg")
        images.append({"id": i, "file_name": f"{i:012d}.jpg", "width": 80, "height": 48})
    categories = [{"id": k + 1, "name": f"c{k}"} for k in range(6)]
    info = {"images": images, "categories": categories}  # image info only: a test split
    (coco / "annotations" / "image_info_test-dev2017.json").write_text(json.dumps(info))
    code, out, err = cli("eval", str(sweep_run), "data=coco", f"data.root={coco}",
                         "data.val.ann=annotations/image_info_test-dev2017.json", "data.val.images=val2017", "--json")
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["annotated"] is False and metrics["num_images"] == 2
    assert "tiny-asff-64" in metrics["server_results"]  # the run's model, fusion and size


def test_group_override_that_changes_the_model_is_refused_in_one_line(cli, sweep_run, one_line_error):
    for override in ("model=darknet53", "fusion=sum", "tricks=none", "recipe=reference"):
        group = override.split("=")[0]
        code, _out, err = cli("eval", str(sweep_run), override)
        one_line_error(code, err, f"override '{override}'", f"a run's {group} is fixed", str(sweep_run))


def test_a_sweeps_shared_path_overrides_reach_hydra_quoted(tmp_path):
    from types import SimpleNamespace

    from asffbench.runs.sweep import multirun_overrides

    spec = SimpleNamespace(name="smoke", axes=["fusion"], isolate=False)
    shared = [f"data.root={tmp_path / 'a=b'}", "img_size=64"]
    overrides = multirun_overrides(spec, {"fusion": ["none", "asff"]}, shared, [], tmp_path, "basic", False)
    assert overrides[:3] == [f"data.root='{tmp_path / 'a=b'}'", "img_size=64", "fusion=none,asff"]
