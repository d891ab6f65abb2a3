"""Sweep files and bad sweep input: one line, exit 2, nothing started."""

from __future__ import annotations

import pytest

from asffbench.errors import UserError
from asffbench.record.layout import run_name
from asffbench.runs.sweep_spec import load_sweep, parse_sweep, shipped_sweeps


def test_shipped_sweeps_are_the_documented_ones():
    assert set(shipped_sweeps()) >= {"smoke", "table3", "compress_c", "upsample", "tricks", "input_size"}
    assert load_sweep("smoke").axes["fusion"] == ["none", "sum", "concat", "asff", "asff_star"]
    assert load_sweep("input_size").axes["img_size"] == [320, 416, 608, 800]


def test_tricks_sweep_adds_one_trick_per_step():
    from asffbench.config.compose import compose_config

    steps = load_sweep("tricks").axes["tricks"]
    enabled = []
    for step in steps:
        tricks = compose_config([f"tricks={step}"]).tricks
        enabled.append({k for k, v in tricks.items() if v is True})
    assert enabled[0] == set()
    for before, after in zip(enabled, enabled[1:]):
        assert before < after and len(after - before) == 1  # cumulative, one trick at a time
    assert enabled[-1] == {k for k, v in compose_config(["tricks=paper"]).tricks.items() if v is True}


def test_seeds_add_a_seed_axis():
    spec = load_sweep("upsample").with_seeds(3)
    assert len(spec) == 6
    assert run_name({"fusion.upsample": "nearest", "seed": 2}) in {run_name(c) for c in spec.combinations()}
    with pytest.raises(UserError, match="at least 1"):
        load_sweep("upsample").with_seeds(0)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("axes: [fusion", "not valid YAML at line"),
        ("- 1\n- 2\n", "must be a mapping"),
        ("axes: {fusion: [asff]}\nlaunch: slurm\n", "unknown key 'launch'"),
        ("overrides: {model: tiny}\n", "'axes' must map"),
        ("axes: {fusion: asff}\n", "axis 'fusion' must be a non-empty list"),
        ("axes: {fusion: []}\n", "axis 'fusion' must be a non-empty list"),
        ("axes: {data.root: [a/b]}\n", "use plain scalars"),
        ("axes: {fusion: [asff, asff]}\n", "lists a value twice"),
        ("axes: {fusion: [asff]}\noverrides: {fusion: sum}\n", "both an axis and a fixed override"),
        ("axes: {hydra.launcher.n_jobs: [1, 2]}\n", "set by `asffbench sweep`"),
        ("axes: {'bad key': [1]}\n", "is not a config key"),
        ("axes: {img_size: [64]}\ncases: {seed: {1: {train.lr: 1}}}\n", "'seed', which is not an axis"),
        ("axes: {img_size: [64]}\ncases: {img_size: {96: {train.lr: 1}}}\n", "the axis does not list"),
        ("axes: {img_size: [64]}\ncases: {img_size: {64: {}}}\n", "must be a mapping of config key"),
        ("axes: {img_size: [64]}\ncases: {img_size: {64: {img_size: 96}}}\n", "also an axis or a fixed override"),
        ("axes: {img_size: [64], seed: [0]}\ncases: {img_size: {64: {a.b: 1}}, seed: {0: {a.c: 1}}}\n",
         "ONE axis"),
    ],
)
def test_malformed_sweep_files_are_refused(text, needle):
    with pytest.raises(UserError) as info:
        parse_sweep("bad", "bad.yaml", text)
    message = str(info.value)
    assert message.startswith("bad.yaml: ") and needle in message and "\n" not in message


def test_unknown_sweep_name_lists_the_shipped_ones(cli, one_line_error, tmp_path):
    code, out, err = cli("sweep", "nosuch", f"hydra.sweep.dir={tmp_path / 'out'}")
    one_line_error(code, err, "unknown sweep 'nosuch'", "smoke", "table3", "input_size")
    assert not (tmp_path / "out").exists()


def test_axis_that_is_not_a_config_key_starts_nothing(cli, one_line_error, write_sweep, tmp_path):
    path = write_sweep("badaxis", {"fusion": ["none", "asff"], "fusoin.compress_c": [4, 8]}, {"model": "tiny"})
    code, out, err = cli("sweep", str(path), f"hydra.sweep.dir={tmp_path / 'out'}", "--no-live")
    one_line_error(code, err, str(path), "fusoin", "unknown config key")
    assert not (tmp_path / "out").exists()


def test_bad_group_option_in_one_run_starts_nothing(cli, one_line_error, write_sweep, tmp_path):
    path = write_sweep("badopt", {"fusion": ["none", "asff", "asfff"]}, {"model": "tiny"})
    code, out, err = cli("sweep", str(path), f"hydra.sweep.dir={tmp_path / 'out'}", "--no-live")
    one_line_error(code, err, "run fusion=asfff", "choose from")
    assert not (tmp_path / "out").exists()


def test_malformed_sweep_file_via_cli(cli, one_line_error, write_sweep, tmp_path):
    path = write_sweep("broken", {}, {}, text="axes:\n  fusion: [none, sum\n")
    code, out, err = cli("sweep", str(path), "--no-live")
    one_line_error(code, err, str(path), "not valid YAML")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["img_size=320,416"], "sweep axes belong in the sweep file"),
        (["fusion=sum"], "conflicts with the axis 'fusion'"),
        (["run_dir=x"], "set by `asffbench sweep`"),
        (["img_size=[oops"], "cannot parse override"),
        (["--launcher", "pbs"], "--launcher pbs"),
        (["--seeds", "0"], "--seeds 0"),
    ],
)
def test_bad_sweep_options_start_nothing(cli, one_line_error, tmp_path, args, needle):
    code, out, err = cli("sweep", "smoke", f"hydra.sweep.dir={tmp_path / 'out'}", "--no-live", *args)
    one_line_error(code, err, needle)
    assert not (tmp_path / "out").exists()


def test_list_prints_one_line_per_run(cli):
    code, out, err = cli("sweep", "upsample", "--seeds", "2", "--list")
    assert code == 0
    assert out.split() == [
        "fusion.upsample=nearest,seed=0", "fusion.upsample=nearest,seed=1",
        "fusion.upsample=bilinear,seed=0", "fusion.upsample=bilinear,seed=1",
    ]


@pytest.mark.parametrize("args, needle", [
    ([], "data.root: required for data=coco"),
    (["data.root=no/such/coco"], "no/such/coco: directory not found (data.root)"),
])
def test_coco_sweep_without_its_data_starts_nothing(cli, one_line_error, tmp_path, args, needle):
    code, out, err = cli("sweep", "table3", f"hydra.sweep.dir={tmp_path / 'out'}", "--no-live", *args)
    one_line_error(code, err, "sweeps/table3.yaml", needle)
    assert not (tmp_path / "out").exists()


def test_the_800_px_row_trains_at_480_to_800_as_the_reference():
    from asffbench.config.compose import compose_config
    from asffbench.runs.sweep_spec import fixed_overrides, iter_run_overrides

    spec = load_sweep("input_size")
    ranges = {}
    for combo, overrides in iter_run_overrides(spec, fixed_overrides(spec)):
        cfg = compose_config([*overrides, "data=synth"])
        ranges[combo["img_size"]] = (cfg.train.multiscale_min, cfg.train.multiscale_max, cfg.img_size)
    assert ranges == {320: (320, 608, 320), 416: (320, 608, 416), 608: (320, 608, 608), 800: (480, 800, 800)}
    # a command-line override still wins over a case
    (_, overrides), = [(c, o) for c, o in iter_run_overrides(spec, ["train.multiscale_max=704"]) if c["img_size"] == 800]
    assert "train.multiscale_max=704" in overrides and "train.multiscale_max=800" not in overrides


def test_cases_split_the_sweep_into_multiruns(monkeypatch, tmp_path):
    from asffbench.runs import sweep as sweep_module

    spec = parse_sweep("c", "c.yaml", "axes: {img_size: [64, 96, 128], seed: [0, 1]}\n"
                       "cases: {img_size: {96: {train.lr: 0.5}}}\n")
    assert spec.parts() == [({"img_size": [64, 128], "seed": [0, 1]}, {}),
                            ({"img_size": [96], "seed": [0, 1]}, {"train.lr": 0.5})]
    assert sum(len(list(__import__("itertools").product(*axes.values()))) for axes, _ in spec.parts()) == len(spec)
    calls = []
    monkeypatch.setattr(sweep_module, "run_multirun", lambda overrides: calls.append(overrides) or [])
    sweep_module.run_jobs(spec, ["model=tiny"], [], tmp_path, "basic", False, False)
    assert len(calls) == 2
    assert "img_size=64,128" in calls[0] and not any(o.startswith("train.lr") for o in calls[0])
    assert "img_size=96" in calls[1] and "train.lr=0.5" in calls[1] and "seed=0,1" in calls[1]
    (exclude,) = [o for o in calls[1] if o.startswith("hydra.job.config.override_dirname.exclude_keys")]
    assert "train.lr" in exclude  # run directories are named by the axes alone
    assert all("sweep.axes=[img_size,seed]" in call for call in calls)


def test_seeds_keep_the_cases():
    spec = load_sweep("input_size").with_seeds(2)
    assert spec.case_overrides({"img_size": 800, "seed": 1}) == {"train.multiscale_min": 480,
                                                                  "train.multiscale_max": 800}
    assert spec.case_overrides({"img_size": 608, "seed": 1}) == {}
