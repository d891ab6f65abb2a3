import pytest

from tests.data.voc_sets import write_tiny_voc


@pytest.fixture
def tiny_voc(tmp_path):
    """A VOCdevkit folder holding the tiny VOC-format set of tests/data/voc_sets.py."""
    return write_tiny_voc(tmp_path / "VOCdevkit")
