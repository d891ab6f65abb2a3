"""Helpers for the model tests: tiny models (the `model=tiny` preset) and small inputs."""

from __future__ import annotations

import pytest
import torch

from asffbench.build import build_yolov3

TINY = {"width": 0.25, "depth": 0.125, "num_classes": 3}
IMG = 64  # stride-32 map of 2x2: enough for every resize path


@pytest.fixture
def tiny_model():
    def build(**overrides):
        torch.manual_seed(0)
        return build_yolov3(**{**TINY, **overrides})

    return build


@pytest.fixture
def images():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(2, 3, IMG, IMG, generator=generator)


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny convs gain nothing from intra-op threads, and on a small shared CI machine the
    # threads' spin-waiting makes these tests 10x slower; restore the setting afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
