"""A run resolves its machine-dependent choices once (device, deform conv, starting weights) and
hands them down: no step of `run_experiment` derives them again."""

from __future__ import annotations

import sys
from collections import Counter

import pytest

import asffbench.device
import asffbench.models.layers.deform_conv
import asffbench.weights.resolve
from asffbench.config.compose import compose_config
from asffbench.runs.run import run_experiment
from tests.runs.conftest import TINY_TRAIN, as_overrides

RESOLVERS = {
    "resolve_device": asffbench.device,
    "device_kind_of": asffbench.device,
    "resolve_deform_conv": asffbench.models.layers.deform_conv,
    "resolve_weights": asffbench.weights.resolve,
}


@pytest.fixture
def resolutions(monkeypatch) -> Counter:
    """Calls of each resolver, wherever a module imported it from."""
    calls: Counter = Counter()
    for name, home in RESOLVERS.items():
        original = getattr(home, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("asffbench") and getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("epochs", [1, 0])
def test_a_run_resolves_device_deform_conv_and_weights_once(tmp_path, resolutions, one_thread, epochs):
    settings = {**TINY_TRAIN, "train.epochs": epochs, "tricks.guided_anchoring": True,
                "model.deform_conv": "auto", "device": "auto"}
    cfg = compose_config([*as_overrides(settings), f"run_dir={tmp_path / 'run'}"])
    resolutions.clear()
    record = run_experiment(cfg)
    assert record.status == "completed", record.error
    # resolve_device looks the kind up once itself; nothing else asks again.
    assert resolutions == Counter(resolve_device=1, device_kind_of=1, resolve_deform_conv=1, resolve_weights=1)
    assert record.config_value("model.deform_conv") == "sampled"  # auto on this CPU, as recorded


def test_train_resolves_device_and_weights_once(tmp_path, resolutions, one_thread):
    from asffbench.runs.train_only import train_only

    settings = {**TINY_TRAIN, "train.epochs": 1, "device": "auto"}
    cfg = compose_config([*as_overrides(settings), f"run_dir={tmp_path / 'run'}"])
    resolutions.clear()
    outcome = train_only(cfg, then_eval=True)
    assert outcome["epochs_done"] == 1 and "AP" in outcome["metrics"]
    assert resolutions == Counter(resolve_device=1, device_kind_of=1, resolve_deform_conv=1, resolve_weights=1)
