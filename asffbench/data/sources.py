"""The dataset registry: `data.name` -> where a split's files are, how they are read, the default
metric and whether `data.root` is needed (`data=synth|coco|folder|voc|voc_synth`).

`load_source(source, split)` reads the split of a `DataSource` (the `data.*` keys, built by
`asffbench.settings.data_source`): COCO-format files through `CocoDataset`, VOC-format
folders through `asffbench.data.voc` (same `CocoDataset` structure). A new format is one
`DatasetKind` entry in `DATASETS`. Torch-free: evaluation (`eval.metric=auto`) and the results
layer (the report's methods) read the entries too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from asffbench.data.coco import CocoDataset
from asffbench.data.synth import SynthParams, ensure_synth
from asffbench.data.synth_draw import CLASS_NAMES as SYNTH_CLASSES
from asffbench.data.voc import DEFAULT_SETS, VOC_CLASSES, load_voc_split, parse_sets
from asffbench.data.voc_write import ensure_voc_synth
from asffbench.errors import UserError
from asffbench.record.layout import COCO_METRIC, VOC_METRIC

SPLITS = ("train", "val")
COCO_LAYOUT, VOC_LAYOUT = "coco", "voc"  # an annotation JSON + image folder; VOCdevkit folders


@dataclass(frozen=True)
class SplitFiles:
    """`data.<split>.*`: the annotation file and image folder, or the VOC sets (None: the kind's default)."""

    ann: Optional[str] = None
    images: Optional[str] = None
    sets: Optional[tuple[Any, ...]] = None  # [[year or folder, split], ...] as tuples


@dataclass(frozen=True)
class DataSource:
    """Which dataset and where its files are: what the registry's loaders read."""

    name: str
    root: Optional[str] = None
    cache_dir: Optional[str] = None  # where the synthetic kinds are generated
    classes: Optional[tuple[str, ...]] = None  # VOC-format class names in label order
    synth: SynthParams = SynthParams()
    train: SplitFiles = SplitFiles()
    val: SplitFiles = SplitFiles()

    def split(self, split: str) -> SplitFiles:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")
        return self.train if split == "train" else self.val


Files = Callable[[DataSource, str], tuple[Path, Path]]  # (source, split) -> (annotation file, image dir)


@dataclass(frozen=True)
class CocoFiles:
    """An annotation JSON and an image folder per split; `data.<split>.ann` / `.images` override
    `default_files`, which is called only when one of them is unset."""

    default_files: Files
    layout: str = COCO_LAYOUT
    default_classes: Optional[tuple[str, ...]] = None  # the annotation file names its categories
    # Where relative `data.<split>.*` paths are (COCO: data.root, as its default files); None: the
    # working directory.
    base: Optional[Callable[[DataSource], Path]] = None

    def load(self, source: DataSource, split: str) -> CocoDataset:
        return CocoDataset(*self.paths(source, split))

    def check(self, source: DataSource, split: str) -> None:
        self.paths(source, split)

    def paths(self, source: DataSource, split: str) -> tuple[Path, Path]:
        ann, images = self.given(source, source.split(split).ann), self.given(source, source.split(split).images)
        if ann is None or images is None:
            default_ann, default_images = self.default_files(source, split)
            ann, images = ann or default_ann, images or default_images
        ann_path, image_dir = Path(ann).expanduser(), Path(images).expanduser()
        if not ann_path.is_file():
            raise UserError(f"{ann_path}: annotation file not found (data.{split}.ann)")
        if not image_dir.is_dir():
            raise UserError(f"{image_dir}: image directory not found (data.{split}.images)")
        return ann_path, image_dir

    def given(self, source: DataSource, path: Optional[str]) -> Optional[Path]:
        """A `data.<split>.*` path as given, a relative one under `base` (None: unset)."""
        if not path:
            return None
        given = Path(path).expanduser()
        return given if given.is_absolute() or self.base is None else self.base(source) / given


@dataclass(frozen=True)
class VocFolders:
    """A VOCdevkit (`root(source)`): the sets of `data.<split>.sets`, classes `data.classes`
    (default `default_classes`)."""

    root: Callable[[DataSource], Path]
    default_classes: tuple[str, ...]
    layout: str = VOC_LAYOUT

    def sets(self, source: DataSource, split: str) -> list:
        return parse_sets(source.split(split).sets, f"data.{split}.sets", DEFAULT_SETS[split])

    def load(self, source: DataSource, split: str) -> CocoDataset:
        classes = list(self.default_classes if source.classes is None else source.classes)
        return load_voc_split(self.root(source), self.sets(source, split), classes)

    def check(self, source: DataSource, split: str) -> None:
        root = self.root(source)
        for voc_set in self.sets(source, split):
            if not voc_set.split_file(root).is_file():
                raise UserError(f"{voc_set.split_file(root)}: split file not found")


@dataclass(frozen=True)
class DatasetKind:
    name: str
    source: CocoFiles | VocFolders  # where the files are and how they are read
    default_metric: str = COCO_METRIC  # what eval.metric=auto means for it
    needs_root: bool = False  # data.root required
    root_holds: str = ""  # what data.root is, for the message asking for it
    synthetic: bool = False  # generated on first use: its files cannot be missing


class DatasetRegistry:
    """Dataset kinds by name; a second entry of a name and an unknown name are refused."""

    def __init__(self) -> None:
        self._kinds: dict[str, DatasetKind] = {}

    def add(self, kind: DatasetKind) -> DatasetKind:
        if kind.name in self._kinds:
            raise ValueError(f"dataset kind {kind.name!r} is already registered")
        self._kinds[kind.name] = kind
        return kind

    def get(self, name: str) -> DatasetKind:
        """The kind of `data.name`; UserError naming the choices for an unknown one."""
        if name not in self._kinds:
            raise UserError(f"data.name={name}: unknown dataset kind; choose from {', '.join(self.names())}")
        return self._kinds[name]

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[DatasetKind]:
        return iter(self._kinds[name] for name in self.names())


def load_source(source: DataSource, split: str) -> CocoDataset:
    """The `split` of the configured dataset."""
    return DATASETS.get(source.name).source.load(source, split)


def check_source_paths(source: DataSource, split: str) -> None:
    """Fail fast (UserError) when the files `split` needs are missing, without reading them all."""
    kind = DATASETS.get(source.name)
    if not kind.synthetic:  # generated ones cannot be missing
        kind.source.check(source, split)


def dataset_root(source: DataSource) -> Path:
    """`data.root`, an existing directory (the kind's `root_holds` says what it is for)."""
    if not source.root:
        holds = DATASETS.get(source.name).root_holds
        raise UserError(f"data.root: required for data={source.name} ({holds}); set data.root=DIR")
    root = Path(source.root).expanduser()
    if not root.is_dir():
        raise UserError(f"{root}: directory not found (data.root)")
    return root


def synth_files(source: DataSource, split: str) -> tuple[Path, Path]:
    root = ensure_synth(source.synth, source.cache_dir)
    return root / f"instances_{split}.json", root / split


def coco2017_files(source: DataSource, split: str) -> tuple[Path, Path]:
    root = dataset_root(source)
    return root / "annotations" / f"instances_{split}2017.json", root / f"{split}2017"


def given_files(source: DataSource, split: str) -> tuple[Path, Path]:
    """data=folder: both paths are the user's to give (called when one is unset: names it)."""
    key = "ann" if source.split(split).ann is None else "images"
    raise UserError(f"data.{split}.{key}: required for data=folder; set data.{split}.{key}=PATH")


def voc_synth_root(source: DataSource) -> Path:
    return ensure_voc_synth(source.synth, source.cache_dir)


DATASETS = DatasetRegistry()
DATASETS.add(DatasetKind("synth", CocoFiles(synth_files), synthetic=True))
DATASETS.add(DatasetKind("coco", CocoFiles(coco2017_files, base=dataset_root), needs_root=True,
                         root_holds="the COCO 2017 folder with annotations/, train2017/, val2017/"))
DATASETS.add(DatasetKind("folder", CocoFiles(given_files)))
DATASETS.add(DatasetKind("voc", VocFolders(dataset_root, VOC_CLASSES), default_metric=VOC_METRIC, needs_root=True,
                         root_holds="the VOCdevkit folder with VOC2007/, VOC2012/"))
DATASETS.add(DatasetKind("voc_synth", VocFolders(voc_synth_root, SYNTH_CLASSES), default_metric=VOC_METRIC,
                         synthetic=True))
