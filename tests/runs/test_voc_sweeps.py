"""The VOC sweeps: they compose, and voc_table3 without its data starts nothing."""

from __future__ import annotations

from asffbench.config.compose import compose_config
from asffbench.runs.sweep_spec import fixed_overrides, iter_run_overrides, load_sweep


def test_voc_sweeps_compose_with_voc_data_and_metric():
    for name, data in (("voc_smoke", "voc_synth"), ("voc_table3", "voc")):
        spec = load_sweep(name)
        assert spec.axes["fusion"] == ["none", "sum", "concat", "asff", "asff_star"]
        for _combo, overrides in iter_run_overrides(spec, fixed_overrides(spec)):
            cfg = compose_config(overrides)
            assert cfg.data.name == data
    spec = load_sweep("voc_table3")
    table3 = compose_config(next(iter_run_overrides(spec, fixed_overrides(spec)))[1])
    assert (table3.img_size, table3.train.epochs, table3.train.batch_size, table3.model.num_classes) == (416, 100, 16, 20)


def test_voc_table3_without_its_data_starts_nothing(cli, one_line_error, tmp_path):
    code, _, err = cli("sweep", "voc_table3", f"hydra.sweep.dir={tmp_path / 'out'}", "--no-live")
    one_line_error(code, err, "sweeps/voc_table3.yaml", "data.root: required for data=voc")
    code, _, err = cli("sweep", "voc_table3", f"data.root={tmp_path}", f"hydra.sweep.dir={tmp_path / 'out'}", "--no-live")
    one_line_error(code, err, "VOC2007/ImageSets/Main/trainval.txt: split file not found")
    assert not (tmp_path / "out").exists()
