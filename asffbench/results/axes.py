"""The ablation axes a table can be built along, and which of them a set of records varies.

Each axis names the frame column that holds its value, the paper's row order and display names,
and the row the deltas are taken against. Axes are looked up in a registry of named specs that
rejects unknown and duplicate names; record axes with no spec get a generic one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import pandas as pd


@dataclass(frozen=True)
class Axis:
    name: str
    column: str  # the frame column holding each run's value on this axis
    title: str  # table heading
    header: str  # heading of the row-label column
    order: tuple = ()  # preferred value order; other values follow, sorted
    labels: dict = field(default_factory=dict)  # value -> display name
    # model family -> {value: display name} where a value means something else on that family
    # (fusion=none is YOLOv3's baseline, but YOLOv8's top-down path without its PAN).
    family_labels: dict = field(default_factory=dict)
    baseline: Any = None  # deltas are taken against this value's row (the first row if absent)
    cumulative: bool = False  # deltas against the previous row instead (Table 1 style)
    record_keys: tuple = ()  # the keys in a record's `axes` that mean this axis
    # The report groups by it wherever the records vary along it, swept or not (the model
    # family: a neck on YOLOv3 and on YOLOv8 is never one row, nor one baseline).
    groups: bool = False

    def label(self, value: Any, family: Optional[str] = None) -> str:
        if value in self.family_labels.get(family, {}):
            return self.family_labels[family][value]
        if value in self.labels:
            return self.labels[value]
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def sort_values(self, values: list) -> list:
        known = [v for v in self.order if v in values]
        rest = [v for v in values if v not in self.order]
        try:
            rest = sorted(rest)
        except TypeError:
            rest = sorted(rest, key=str)
        return known + rest

    def baseline_value(self, values: list) -> Any:
        """The baseline among the values present (first in order when the preferred one is absent)."""
        ordered = self.sort_values(values)
        return self.baseline if self.baseline in ordered else ordered[0]


AXES: dict[str, Axis] = {}


def register_axis(axis: Axis) -> Axis:
    if axis.name in AXES:
        raise ValueError(f"axis {axis.name!r} is already registered")
    AXES[axis.name] = axis
    return axis


def get_axis(name: str) -> Axis:
    if name not in AXES:
        raise KeyError(f"unknown axis {name!r}; known: {', '.join(AXES)}")
    return AXES[name]


# Display names, in the table's row order (the paper's Table 3, the other necks before ASFF).
FUSION_LABELS = {
    "none": "YOLOv3 baseline",
    "concat": "concat",
    "sum": "sum",
    "pan": "PAN",
    "bifpn": "BiFPN",
    "asff": "ASFF",
    "asff_pan": "ASFF on PAN",
    "asff_star": "ASFF*",
    "afpn": "AFPN",
}

register_axis(Axis(
    name="fusion", column="fusion", title="Fusion methods (Table 3 layout)", header="Method",
    order=tuple(FUSION_LABELS), labels=FUSION_LABELS, baseline="none",
    family_labels={"yolov8": {"none": "top-down only (no PAN)", "pan": "PAN (YOLOv8's PAFPN)"}},
    record_keys=("fusion", "fusion.name"),
))
register_axis(Axis(
    name="compress_c", column="compress_c", title="ASFF weight compression channels",
    header="compress_c", baseline=16.0, record_keys=("fusion.compress_c",),
))
register_axis(Axis(
    name="upsample", column="upsample", title="Upsampling in the resize stage",
    header="Upsample", order=("nearest", "bilinear"), baseline="nearest",
    record_keys=("fusion.upsample",),
))
register_axis(Axis(
    name="tricks", column="tricks_enabled", title="Cumulative bag of tricks (Table 1 style)",
    header="Tricks", cumulative=True, record_keys=("tricks",),
))
register_axis(Axis(
    name="img_size", column="img_size", title="Input size: AP vs FPS", header="Input size",
    baseline=608.0, record_keys=("img_size",),
))
register_axis(Axis(
    name="model", column="model", title="Model variants", header="Model",
    order=("darknet53", "tiny", "mobilenetv2", "yolov8"), record_keys=("model", "model.name"),
))

register_axis(Axis(
    name="family", column="family", title="Model families", header="Family",
    order=("yolov3", "yolov8"), labels={"yolov3": "YOLOv3", "yolov8": "YOLOv8 (anchor-free)"},
    baseline="yolov3", groups=True,
))

# Seeds are repetitions of one cell, never a table axis: they are aggregated (mean, std, n).
SEED_KEYS = ("seed",)


def axis_for_record_key(key: str) -> Optional[Axis]:
    if key in SEED_KEYS:
        return None
    for axis in AXES.values():
        if key in axis.record_keys:
            return axis
    if key.startswith("tricks."):
        return AXES["tricks"]
    return Axis(name=key, column=f"axis.{key}", title=f"Axis {key}", header=key,
                record_keys=(key,))


def distinct(frame: pd.DataFrame, column: str) -> list:
    if column not in frame.columns:
        return []
    return list(pd.unique(frame[column].dropna()))


def varies(frame: pd.DataFrame, axis: Axis) -> bool:
    return len(distinct(frame, axis.column)) > 1


def detect_axes(frame: pd.DataFrame) -> list[Axis]:
    """The axes the records vary along, in the registry's order (generic axes last).

    The records' own `axes` say what was swept, plus the grouping axes (`Axis.groups`, the model
    family; listed first) wherever they vary. Records without them (older versions) fall back to the config
    columns; an axis whose value is fixed by an earlier one (ASFF* brings its own
    compress_c) is a consequence, not an axis.
    """
    if frame.empty:
        return []
    record_keys = [c[len("axis."):] for c in frame.columns if c.startswith("axis.")]
    found: dict[str, Axis] = {}
    for key in record_keys:
        axis = axis_for_record_key(key)
        if axis is not None and axis.name not in found and varies(frame, axis):
            found[axis.name] = axis
    if not record_keys:
        for axis in AXES.values():
            if varies(frame, axis) and not determined_by(frame, axis, list(found.values())):
                found[axis.name] = axis
    for axis in AXES.values():
        if axis.groups and axis.name not in found and varies(frame, axis):
            found[axis.name] = axis
    # Grouping axes first: they are the outermost context of every other table.
    known = sorted((a for name, a in AXES.items() if name in found), key=lambda a: not a.groups)
    generic = [a for name, a in found.items() if name not in AXES]
    return known + generic


def determined_by(frame: pd.DataFrame, axis: Axis, earlier: list[Axis]) -> bool:
    for other in earlier:
        counts = frame.groupby(other.column, dropna=False)[axis.column].nunique(dropna=False)
        if (counts <= 1).all():
            return True
    return False
