"""One image corrupted as `eval.corruption` / `eval.severity` say, by the `imagecorruptions`
package (the optional extra `robust`: the maintained fork `imagecorruptions-imaug`).

The test-time pipeline calls `corrupt_image` on the decoded RGB image before the test-time resize
(where mmdetection's robustness test inserts it), so the boxes never move. Every random draw of a
corruption is seeded from (eval seed, image id, corruption, severity): two evaluations, two runs and
two fusions see the same corrupted pixels. The package draws from numpy's global generator (and, for
impulse noise and glass blur, a seed argument); the global state is put back afterwards.
"""

from __future__ import annotations

import contextlib
import zlib
from types import ModuleType
from typing import Any, Iterator

import numpy as np

from asffbench.corruptions import ALL, Corruption
from asffbench.errors import UserError
from asffbench.extras import require_extra

PACKAGE = "imagecorruptions"
MIN_SIDE = 32  # the package refuses smaller images
SEEDED_BY_ARGUMENT = ("impulse_noise", "glass_blur")  # these take `seed=` instead of the global generator


def require_corruptions(option: str) -> ModuleType:
    """The `imagecorruptions` module; one line naming the extra `robust` when it is missing."""
    return require_extra(PACKAGE, option, "robust")


def image_key(image_id: Any) -> int:
    """An integer for any image id (COCO ids are ints; a folder's may be names)."""
    if isinstance(image_id, (int, np.integer)):
        return int(image_id)
    return zlib.crc32(str(image_id).encode("utf-8"))


def corruption_seed(seed: int, image_id: Any, corruption: Corruption) -> int:
    """A 32-bit seed from (seed, image id, corruption, severity), well mixed."""
    parts = [int(seed), image_key(image_id), ALL.index(corruption.name), int(corruption.severity)]
    return int(np.random.SeedSequence([p & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


@contextlib.contextmanager
def seeded_global_numpy(seed: int) -> Iterator[None]:
    """numpy's global generator seeded for the block, its previous state restored after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def corrupt_image(image: np.ndarray, corruption: Corruption, seed: int, image_id: Any) -> np.ndarray:
    """A uint8 (H, W, 3) RGB image with `corruption` applied, same shape and dtype."""
    package = require_corruptions(f"eval.corruption={corruption.name}")
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise UserError(f"eval.corruption={corruption.name}: image {image_id} is {width}x{height} px; "
                        f"the corruptions need at least {MIN_SIDE} px a side")
    image_seed = corruption_seed(seed, image_id, corruption)
    kwargs = {"seed": image_seed} if corruption.name in SEEDED_BY_ARGUMENT else {}
    with seeded_global_numpy(image_seed):
        out = package.corrupt(np.ascontiguousarray(image), severity=corruption.severity,
                              corruption_name=corruption.name, **kwargs)
    if out.shape != image.shape:  # some corruptions resample internally; the boxes must not move
        raise RuntimeError(f"{corruption.name}: returned shape {out.shape} for an image of shape {image.shape}")
    return np.array(out, dtype=np.uint8, order="C")  # a writable copy (some come back read-only)
