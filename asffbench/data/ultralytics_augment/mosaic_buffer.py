"""ultralytics' mosaic buffer (`recipe.mosaic_buffer`): the images a loader process loaded last,
kept decoded and resized, from which the mosaic draws its three other images. Drawing from memory
rather than the whole dataset spares three JPEG decodes and resizes per mosaic. Over an epoch each
image is drawn about as often as a uniform draw would (those loaded while the buffer fills a little
more); what changes is that the images sharing a mosaic were loaded close together."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Optional

import numpy as np

from asffbench.data.reference_augment.sample import Sample
from asffbench.data.ultralytics_augment.ultralytics_resize import long_side_to

MAX_IMAGES = 1000  # ultralytics' cap, whatever the batch


def buffer_capacity(per_batch: int, batch_size: int, dataset_size: int) -> int:
    """Images a buffer of `per_batch` batches holds: min(per_batch x batch, 1000, dataset); 0: none."""
    if per_batch <= 0:
        return 0
    return max(1, min(per_batch * batch_size, MAX_IMAGES, dataset_size))


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view (the array itself, perhaps the source's cached labels, stays writable)."""
    view = array.view()
    view.setflags(write=False)
    return view


def frozen(sample: Sample) -> Sample:
    """The sample with read-only arrays: a step that changed a buffered image in place would change
    every later mosaic drawing it (steps never do; this makes sure)."""
    return Sample(*(read_only(a) for a in (sample.image, sample.boxes, sample.labels, sample.weights)))


class MosaicBuffer:
    """Up to `capacity` images, oldest first, each resized to the long side it was loaded for.

    One per loader process (each DataLoader worker has its own copy of the dataset). An image is
    entered when it is loaded, and evicted when `capacity` newer ones have been; serving one from
    the buffer does not make it newer (ultralytics' order). It is keyed by image and size: asked
    for another size, an image is loaded again and replaces the entry, so no image is ever served
    at a size it was not resized for. `start_epoch` empties it when the epoch changes, so what an
    epoch draws does not depend on the epochs before it (a resumed run continues exactly); the
    dataset then fills it with images drawn from (seed, epoch), as full as ultralytics' buffer is
    after its first epoch."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a mosaic buffer holds at least one image, got capacity {capacity}")
        self.capacity = capacity
        self.entries: OrderedDict[int, tuple[int, Sample]] = OrderedDict()  # index -> (size, sample)
        self.epoch: Optional[int] = None

    def __len__(self) -> int:
        return len(self.entries)

    def indices(self) -> list[int]:
        """The buffered images, oldest first."""
        return list(self.entries)

    def start_epoch(self, epoch: int) -> bool:
        """Empty the buffer when `epoch` is not the one it holds images of; whether it did."""
        if epoch == self.epoch:
            return False
        self.entries.clear()
        self.epoch = epoch
        return True

    def resized(self, index: int, size: int, load: Callable[[int], Sample]) -> Sample:
        """Image `index` with its long side `size`: from the buffer, or loaded by `load` and entered."""
        held = self.entries.get(index)
        if held is not None and held[0] == size:
            return held[1]
        sample = frozen(long_side_to(load(index), size))
        self.entries.pop(index, None)  # a stale size: the new load is the newest entry
        self.entries[index] = (size, sample)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)
        return sample

    def draw(self, rng: np.random.Generator, count: int) -> list[int]:
        """`count` images drawn uniformly, with replacement, from those in the buffer."""
        if not self.entries:
            raise ValueError("the mosaic buffer is empty: load the sample's own image first")
        indices = self.indices()
        return [indices[i] for i in rng.integers(len(indices), size=count)]
