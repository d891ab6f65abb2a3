"""A run's match table: what COCOeval's matching decided for each detection, stored once.

Matching is the slow part of scoring (pycocotools' `evaluate()`) and does not depend on which
images a bootstrap replicate draws, so `evaluate` stores its outcome in the run directory
(`record.layout.MATCHES_NAME`) and `compare` and `report` read it instead of matching again. The
file is a compressed numpy archive (no pickle) with a fingerprint of what it was matched from
(the detections' and ground truth's bytes, max_det, the table version): a table whose
fingerprint differs is stale and is matched again. A VOC run's `VocMatches` ride along.

Numpy only (no torch): the results layer reads it.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import numpy as np

from asffbench.atomic import write_atomic
from asffbench.engine.voc_eval import VocMatches

TABLE_VERSION = 1  # bump when the matching or the layout changes: older tables are then stale


@dataclass
class CocoMatches:
    """Every kept detection (the best max_det per image and category) with its outcome at each
    (area range, IoU threshold), grouped by category and, within one, in the order
    `COCOeval.accumulate` sorts them (decreasing score, ties by image, then rank in the image)."""

    image_ids: list[Any]  # sorted; `image` and `positives` rows index this
    category_ids: list[Any]  # sorted; `category` and `positives` columns index this
    area_labels: list[str]
    iou_thresholds: np.ndarray  # (T,)
    recall_thresholds: np.ndarray
    max_det: int
    image: np.ndarray  # (N,) image row of each detection
    category: np.ndarray  # (N,) category index, ascending
    score: np.ndarray  # (N,)
    matched: np.ndarray  # (N, A, T) bool: matched a ground-truth box (with a non-zero id)
    ignored: np.ndarray  # (N, A, T) bool: matched an ignored box, or unmatched outside the area range
    positives: np.ndarray  # (I, K, A) ground-truth boxes that count (not crowd, inside the range)

    @classmethod
    def in_accumulate_order(cls, *, rank: np.ndarray, **columns: Any) -> "CocoMatches":
        """A table from detections in any order, each with its `rank` in its (image, category)."""
        order = np.lexsort((rank, columns["image"], -columns["score"], columns["category"]))
        for name in ("image", "category", "score", "matched", "ignored"):
            columns[name] = np.asarray(columns[name])[order]
        return cls(**columns)

    def category_bounds(self) -> np.ndarray:
        """(K + 1,): category k's detections are rows bounds[k]:bounds[k + 1]."""
        return np.searchsorted(self.category, np.arange(len(self.category_ids) + 1), side="left")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=16)
def cached_digest(path: Path, size: int, mtime_ns: int) -> str:
    """A file's digest, computed once per (path, size, mtime): a report's runs share one val set."""
    return file_digest(path)


def fingerprint(detections: Path, ground_truth: Path, max_det: int) -> str:
    gt_stat = Path(ground_truth).stat()
    gt_digest = cached_digest(Path(ground_truth).resolve(), gt_stat.st_size, gt_stat.st_mtime_ns)
    return f"v{TABLE_VERSION} max_det={max_det} detections={file_digest(detections)} ground_truth={gt_digest}"


def save_matches(path: Path, matches: CocoMatches, voc: Optional[VocMatches], stamp: str) -> None:
    """Write the table atomically (a reader never sees half of it)."""
    arrays: dict[str, np.ndarray] = {"fingerprint": np.array(stamp)}
    for field in fields(CocoMatches):
        arrays[field.name] = np.asarray(getattr(matches, field.name))
    for field in fields(VocMatches) if voc is not None else ():
        arrays["voc_" + field.name] = np.asarray(getattr(voc, field.name))
    if any(a.dtype == object for a in arrays.values()):
        return  # ids numpy cannot store without pickle: no table, the run is matched when read
    write_atomic(path, lambda handle: np.savez_compressed(handle, **arrays))


def load_matches(path: Path, stamp: str) -> Optional[tuple[CocoMatches, Optional[VocMatches]]]:
    """The stored table when it was matched from the same inputs (`stamp`), else None."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if str(archive["fingerprint"]) != stamp:
                return None
            coco = CocoMatches(**{f.name: read_field(archive, f.name) for f in fields(CocoMatches)})
            voc = None
            if "voc_labels" in archive.files:
                voc = VocMatches(**{f.name: read_field(archive, "voc_" + f.name) for f in fields(VocMatches)})
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None  # missing, unreadable or from another layout: match again
    return coco, voc


LIST_FIELDS = {"image_ids", "category_ids", "area_labels", "voc_image_ids", "voc_class_names"}


def read_field(archive: Any, name: str) -> Any:
    value = archive[name]
    if name in LIST_FIELDS:
        return value.tolist()
    return int(value) if name == "max_det" else value

