"""Shared test helpers."""

from __future__ import annotations

import logging
import os

import pytest
import torch
from PIL import Image

# Under pytest-xdist (`make test`) the workers share the cores: each takes its part of them, and so
# do the command-line processes its tests start, instead of every process spinning on all cores.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    THREADS = max(1, (os.cpu_count() or 1) // WORKERS)
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    torch.set_num_threads(THREADS)



def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with slow tests first, each file's tests kept together (module fixtures are built
    once): spread over the xdist workers, the long tests start early and the short ones fill in
    around them, instead of one long test running alone at the end."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)


# Tests must not depend on (or fill) the user's cache.
os.environ.setdefault("MPLBACKEND", "Agg")
# ultralytics (the oracle of the anchor-free tests) must never pip-install what it misses.
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
# Importing ultralytics replaces PIL's Image.open process-wide (its HEIF fallback, which turns an
# unreadable image into a missing-module error); every test gets Pillow's own back.
PIL_IMAGE_OPEN = Image.open


@pytest.fixture(autouse=True)
def _pil_image_open_as_shipped():
    yield
    Image.open = PIL_IMAGE_OPEN


@pytest.fixture(autouse=True)
def _root_logging_as_found():
    """Hydra's job logging, run in-process by the sweep tests, adds handlers to the root logger
    bound to that test's captured stderr; a later test's library warning (urllib3's retries)
    would then hit a closed stream ("--- Logging error ---"). Each test leaves the root logger
    as it found it, as each command-line process does."""
    handlers, level = list(logging.root.handlers), logging.root.level
    yield
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.getbasetemp() / "asffbench-cache"
    monkeypatch.setenv("ASFFBENCH_CACHE", str(cache))


@pytest.fixture
def cli(capsys):
    """Run the asffbench CLI in-process: returns (exit_code, stdout, stderr)."""
    from asffbench.cli.app import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        out, err = capsys.readouterr()
        code = exit_info.value.code
        return (0 if code is None else int(code)), out, err

    return run


@pytest.fixture
def one_thread():
    """Torch at one intra-op thread for the test (restored after): tiny models on a shared CPU
    only spin with more, and runs take torch's thread count as their ceiling."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_line_error():
    """Check a CLI failure: exit code 2, one line on stderr naming what is at fault, no traceback."""
    return assert_one_line_error


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert lines[0].startswith("asffbench: error: "), lines[0]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
