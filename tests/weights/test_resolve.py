"""`resolve_weights`: which weights each command uses, which option named them, and in what order."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import pytest

from asffbench.config.compose import compose_config
from asffbench.weights.resolve import BACKBONE, BENCH, EVAL, PRECEDENCE, RUN, TRAIN, VIZ, WeightsSource, resolve_weights

VALUES = {
    "eval.checkpoint": "e.pt",
    "train.checkpoint": "t.pt",
    "model.weights": "w.pth",
    "run_dir": "runs/r",
    "model.pretrained": "darknet53.conv.74",
}
EXPECTED_PATH = {**VALUES, "run_dir": "runs/r/checkpoints/last.pt"}


@functools.lru_cache(maxsize=None)  # composing is the slow part; the commands share the configs
def cfg_with(*options: str, extra: tuple[str, ...] = ()):
    return compose_config(["model=tiny", *(f"{o}={VALUES[o]}" for o in options), *extra])


@pytest.mark.parametrize("command", sorted(PRECEDENCE))
def test_each_option_alone_is_used_by_the_commands_that_read_it(command):
    for option in VALUES:
        source = resolve_weights(cfg_with(option), command)
        if option not in PRECEDENCE[command]:
            assert source is None, (command, option)
            continue
        assert source == WeightsSource(Path(EXPECTED_PATH[option]), option,
                                       BACKBONE if option == "model.pretrained" else "auto")


@pytest.mark.parametrize("command", sorted(PRECEDENCE))
def test_the_first_option_set_wins(command):
    order = PRECEDENCE[command]
    for first in range(len(order)):
        chosen = resolve_weights(cfg_with(*order[first:]), command)
        assert chosen.option == order[first], (command, order[first:])


def test_the_orders_of_the_commands():
    assert PRECEDENCE[TRAIN] == ("train.checkpoint", "model.weights", "model.pretrained")
    assert PRECEDENCE[EVAL] == ("eval.checkpoint", "model.weights", "run_dir")
    assert PRECEDENCE[VIZ] == ("eval.checkpoint", "run_dir")
    assert PRECEDENCE[BENCH] == PRECEDENCE[RUN] == (
        "eval.checkpoint", "train.checkpoint", "model.weights", "model.pretrained")
    assert resolve_weights(cfg_with(), TRAIN) is None
    with pytest.raises(KeyError):
        resolve_weights(cfg_with(), "serve")


def test_format_and_messages_name_the_option():
    source = resolve_weights(cfg_with("train.checkpoint", extra=("model.weights_format=reference",)), TRAIN)
    assert source.format == "reference" and source.whole_model
    assert str(source) == "weights from train.checkpoint=t.pt"
    pretrained = resolve_weights(cfg_with("model.pretrained"), BENCH)
    assert not pretrained.whole_model and pretrained.where == "model.pretrained=darknet53.conv.74"
    run = resolve_weights(cfg_with("run_dir"), EVAL)
    assert run.where == "runs/r/checkpoints/last.pt (the checkpoint of run_dir=runs/r)"


def test_the_resolver_imports_no_torch():
    code = ("import sys; import asffbench.weights.resolve; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("option", ["eval.checkpoint", "train.checkpoint", "model.weights", "model.pretrained"])
def test_bench_names_the_option_of_a_missing_file(option, cli, one_line_error, tmp_path):
    missing = tmp_path / "missing.pt"
    code, _out, err = cli("bench", "model=tiny", f"{option}={missing}", "bench.iters=1", "bench.warmup=0",
                          "bench.repeats=1")
    one_line_error(code, err, f"{option}={missing}: no such file")
