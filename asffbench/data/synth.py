"""The synthetic tiny COCO: coloured, textured shapes on cluttered backgrounds.

Six shape classes over the COCO small (< 32^2 px), medium and large (> 96^2 px) area ranges,
with overlaps, distractor clutter (lines, blobs, rings of dots) and gradient, noise and stripe
backgrounds. Every image is drawn from its own generator seeded by (seed, image index), so the
same parameters always give byte-identical annotation JSON (drawing: `synth_draw.py`).

Layout written under a directory: `instances_train.json`, `instances_val.json`, `train/*.jpg`,
`val/*.jpg`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

from asffbench.atomic import write_dir_atomic
from asffbench.data.synth_draw import CLASS_NAMES, MIN_IMAGE_SIZE, render_image
from asffbench.errors import UserError

__all__ = ["SynthParams", "ensure_cached", "ensure_synth", "generate_synth", "check_empty_out"]

# Bump when the generator's output changes, so cached copies of an older version are not reused.
SYNTH_VERSION = 1
JPEG_QUALITY = 90


@dataclass(frozen=True)
class SynthParams:
    images: int = 160  # train + val
    val_fraction: float = 0.25
    seed: int = 0
    image_size: int = 320

    def check(self) -> None:
        if self.images < 2:
            raise UserError(f"data.synth.images={self.images}: need at least 2 (train and val)")
        if not 0.0 < self.val_fraction < 1.0:
            raise UserError(f"data.synth.val_fraction={self.val_fraction}: must be in (0, 1)")
        if self.image_size < MIN_IMAGE_SIZE:
            raise UserError(
                f"data.synth.image_size={self.image_size}: must be at least {MIN_IMAGE_SIZE} px"
            )

    @property
    def num_val(self) -> int:
        return min(self.images - 1, max(1, round(self.images * self.val_fraction)))

    def key(self) -> str:
        """Directory name of this dataset in the cache: version + hash of the parameters."""
        text = json.dumps({"version": SYNTH_VERSION, **asdict(self)}, sort_keys=True)
        return f"synth-v{SYNTH_VERSION}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def coco_categories() -> list[dict]:
    return [{"id": k + 1, "name": name, "supercategory": "shape"} for k, name in enumerate(CLASS_NAMES)]


def write_split(root: Path, split: str, params: SynthParams, indices: range, next_ann_id: int) -> int:
    """Render the images of one split into root/split and write root/instances_<split>.json."""
    (root / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in indices:
        image_id = index + 1
        image, objects = render_image(params.seed, index, params.image_size)
        file_name = f"{image_id:06d}.jpg"
        image.save(root / split / file_name, quality=JPEG_QUALITY)
        images.append({"id": image_id, "file_name": file_name, "width": params.image_size, "height": params.image_size})
        for obj in objects:
            annotations.append({
                "id": next_ann_id,
                "image_id": image_id,
                "category_id": obj["category"] + 1,
                "bbox": [float(v) for v in obj["bbox"]],
                "area": float(obj["area"]),
                "iscrowd": 0,
            })
            next_ann_id += 1
    data = {
        "info": {"description": "asffbench synthetic tiny COCO", "version": SYNTH_VERSION, **asdict(params)},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }
    (root / f"instances_{split}.json").write_text(json.dumps(data, indent=1) + "\n")
    return next_ann_id


def render_into(root: Path, params: SynthParams) -> None:
    num_train = params.images - params.num_val
    next_id = write_split(root, "train", params, range(0, num_train), 1)
    write_split(root, "val", params, range(num_train, params.images), next_id)


def generate_synth(out: Path, params: SynthParams) -> Path:
    """Write the dataset to `out` (which must not exist or be empty), atomically."""
    params.check()
    out = check_empty_out(out)
    write_dir_atomic(out, lambda tmp: render_into(tmp, params))
    return out


def check_empty_out(out: Path) -> Path:
    """`out` expanded; UserError unless it is absent or an empty directory."""
    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out}: already exists and is not an empty directory (--out)")
    return out


def default_cache_dir(configured: Optional[str] = None) -> Path:
    """`data.cache_dir`, else $ASFFBENCH_CACHE, else ~/.cache/asffbench."""
    if configured:
        return Path(configured).expanduser()
    env = os.environ.get("ASFFBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "asffbench"


def ensure_synth(params: SynthParams, cache_dir: Optional[str] = None) -> Path:
    """The cached dataset for `params`, generated on first use."""
    params.check()
    return ensure_cached(default_cache_dir(cache_dir) / params.key(), lambda tmp: render_into(tmp, params))


def ensure_cached(final: Path, fill: Callable[[Path], None]) -> Path:
    """`final`, filled by `fill(tmp)` first when it does not exist yet.

    Safe when several processes start at once: each fills its own temp dir and renames it into
    place; a process that loses the race discards its copy and uses the winner's. A final
    directory only ever exists complete, since the rename is atomic.
    """
    if final.is_dir():
        return final
    try:
        write_dir_atomic(final, fill)
    except OSError as err:
        if final.is_dir():  # another process finished first; this copy was discarded
            return final
        raise UserError(
            f"{final.parent}: cannot create the dataset cache (data.cache_dir): {err.strerror or err}"
        ) from None
    return final
