"""Plain image files as a source of the test-time pipeline (no annotations): what `predict` and
`viz` read, and `find_images`, which lists them from the command line's files and folders."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from asffbench.data.coco import load_rgb
from asffbench.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def find_images(paths: Sequence[Path], option: str = "--images ") -> list[Path]:
    """Image files given directly, and those in the folders (sorted); `option` prefixes errors."""
    images: list[Path] = []
    for path in paths:
        if path.is_dir():
            images += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            images.append(path)
        else:
            raise UserError(f"{option}{path}: no such file or directory")
    if not images:
        raise UserError(f"{option}{', '.join(map(str, paths))}: no images found")
    return images


class ImageFiles:
    """The part of `CocoDataset` that `DetectionDataset` reads, for unannotated images; ids are
    the positions in `paths`."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self.image_ids = list(range(len(self.paths)))

    def __len__(self) -> int:
        return len(self.paths)

    def load_image(self, index: int, decoder: str = "pil") -> Image.Image:
        return load_rgb(self.paths[index], index, decoder)

    def targets(self, index: int, include_crowd: bool = False,
                include_difficult: bool = False) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((0, 4), dtype=np.float32), np.zeros(0, dtype=np.int64)
