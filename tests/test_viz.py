"""`asffbench viz`: Figure 3 style pictures of the fusion weights from a run or a checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from asffbench.build import build_model
from asffbench.config.compose import compose_config, to_plain, write_run_config
from asffbench.engine.checkpoint import save_checkpoint

TINY = ["model=tiny", "img_size=64", "device=cpu", "model.num_classes=3"]


def make_run(root, fusion="asff"):
    """A run directory as the trainer leaves it: config.yaml and checkpoints/last.pt."""
    cfg = compose_config(TINY + [f"fusion={fusion}"])
    torch.manual_seed(0)
    model = build_model(cfg)
    save_checkpoint({"model": model.state_dict(), "epoch": 0}, root / "checkpoints" / "last.pt")
    write_run_config(root, cfg)
    return root


def make_image(path, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.slow
def test_viz_of_a_run_writes_a_figure_per_image(cli, tmp_path):
    run = make_run(tmp_path / "run")
    images = tmp_path / "images"
    images.mkdir()
    make_image(images / "a.png", 0)
    make_image(images / "b.jpg", 1)
    code, out, err = cli("viz", str(run), "--images", str(images), "--score-thresh", "0.01")
    assert code == 0, err
    written = [run / "viz" / "fusion_weights_a.png", run / "viz" / "fusion_weights_b.png"]
    assert out.split() == [str(p) for p in written]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(path) as picture:
            assert picture.size == (1200, 900)
            assert np.asarray(picture.convert("L"), dtype=float).std() > 5.0


def test_a_checkpoint_in_a_run_takes_the_runs_config_and_output_folder(tmp_path):
    from asffbench.model_source import resolve_source
    from asffbench.viz import default_out

    run = make_run(tmp_path / "run", fusion="asff_star")
    source = resolve_source(["eval.nms_iou=0.3"], target=run / "checkpoints" / "last.pt")
    expected = to_plain(compose_config(TINY + ["fusion=asff_star", "eval.nms_iou=0.3"]))
    assert to_plain(source.cfg) == expected  # the run's config (not the defaults), plus the override
    assert source.weights.path == run / "checkpoints" / "last.pt" and default_out(source) == run / "viz"
    assert source.weights.option == "eval.checkpoint"
    assert resolve_source([], target=run).weights.option == "run_dir"
    loose = tmp_path / "loose.pt"
    (run / "checkpoints" / "last.pt").rename(loose)
    source = resolve_source(TINY, target=loose)  # outside a run: composed from the overrides
    assert to_plain(source.cfg) == to_plain(compose_config(TINY))


@pytest.mark.slow
def test_viz_of_a_checkpoint_file_uses_its_run_config(tmp_path):
    from asffbench.viz import visualize

    run = make_run(tmp_path / "run", fusion="asff_star")
    image = make_image(tmp_path / "x.png")
    # The defaults (darknet53, 80 classes) would not load these weights: the run's config must.
    written = visualize(run / "checkpoints" / "last.pt", [image])
    assert written == [run / "viz" / "fusion_weights_x.png"]
    with Image.open(written[0]) as picture:
        assert picture.size == (1200, 900)


def test_viz_errors_are_one_line(cli, one_line_error, tmp_path):
    one_line_error(*cli("viz", str(tmp_path / "nope"))[::2], "nope: no such run directory")
    (tmp_path / "empty").mkdir()
    one_line_error(*cli("viz", str(tmp_path / "empty"))[::2], "no config.yaml")
    run = make_run(tmp_path / "run", fusion="none")
    one_line_error(*cli("viz", str(run), "--images", str(tmp_path))[::2],
                   "fusion.name=none: has no adaptive fusion weights")
    run = make_run(tmp_path / "run2")
    one_line_error(*cli("viz", str(run), "fusion=sum")[::2], "override 'fusion=sum'")
    one_line_error(*cli("viz", str(run), "--images", str(tmp_path / "missing.png"))[::2],
                   "missing.png: no such file")
