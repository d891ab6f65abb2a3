"""Sweep files (`sweeps/NAME.yaml`): loading, validation and the runs they expand to.

A sweep file is a mapping with these keys::

    description: one line saying what the sweep compares     # optional
    axes:                                                    # swept: key -> list of values
      fusion: [none, sum, concat, asff, asff_star]
    overrides:                                               # fixed for every run (optional)
      model: tiny
      train.epochs: 2
    isolate: true                                            # optional: one fresh process per run
    cases:                                                   # optional: more overrides for the
      img_size:                                              #   runs of one value of ONE axis
        800: {train.multiscale_min: 480, train.multiscale_max: 800}

Axes and overrides use the public override names (`group: option` or `dotted.key: value`). The
runs are the cartesian product of the axes. Axis values must be plain scalars made of letters,
digits and `_ . + -`, because each run's directory is named after its axis values. A case's keys
are neither axes nor fixed overrides; a command-line override still beats them.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Sequence

import yaml

from asffbench.errors import UserError
from asffbench.record.layout import format_value

SWEEP_PACKAGE = "asffbench.sweeps"
ALLOWED_KEYS = ("description", "axes", "overrides", "cases", "isolate")
SAFE_VALUE = re.compile(r"^[\w.+-]+$")


@dataclass(frozen=True)
class SweepSpec:
    name: str
    source: str  # the file it came from, for messages
    axes: dict[str, list[Any]]
    overrides: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    isolate: bool = False  # each run in a fresh process (allocator and cuDNN state cannot leak)
    # {axis: {formatted value: {key: value}}}: overrides of the runs with that axis value
    cases: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def with_seeds(self, seeds: int) -> "SweepSpec":
        """The same sweep repeated over seeds 0..seeds-1 (an extra `seed` axis)."""
        if seeds < 1:
            raise UserError(f"--seeds {seeds}: must be at least 1")
        if "seed" in self.axes:
            raise UserError(f"--seeds: {self.source} already sweeps 'seed'")
        axes = dict(self.axes)
        axes["seed"] = list(range(seeds))
        overrides = {k: v for k, v in self.overrides.items() if k != "seed"}
        return dataclasses.replace(self, axes=axes, overrides=overrides)

    def combinations(self) -> list[dict[str, Any]]:
        """Every run of the sweep as {axis: value}, in the order Hydra's basic sweeper runs them."""
        keys = list(self.axes)
        return [dict(zip(keys, values)) for values in itertools.product(*self.axes.values())]

    def __len__(self) -> int:
        return len(self.combinations())

    def case_overrides(self, combo: dict[str, Any]) -> dict[str, Any]:
        """The `cases` overrides of one run ({} for most)."""
        return {
            key: value
            for axis, by_value in self.cases.items()
            for key, value in by_value.get(format_value(combo[axis]), {}).items()
        }

    def parts(self) -> list[tuple[dict[str, list[Any]], dict[str, Any]]]:
        """The runs as cartesian blocks sharing their case overrides: [(axes, overrides)], the
        runs without a case first (one Hydra multirun each)."""
        if not self.cases:
            return [(self.axes, {})]
        ((axis, by_value),) = self.cases.items()
        plain = [v for v in self.axes[axis] if format_value(v) not in by_value]
        blocks = [({**self.axes, axis: plain}, {})] if plain else []
        for value in self.axes[axis]:
            if format_value(value) in by_value:
                blocks.append(({**self.axes, axis: [value]}, by_value[format_value(value)]))
        return blocks


def shipped_sweeps() -> list[str]:
    return sorted(
        p.name[: -len(".yaml")]
        for p in resources.files(SWEEP_PACKAGE).iterdir()
        if p.name.endswith(".yaml")
    )


def load_sweep(name_or_path: str) -> SweepSpec:
    """A shipped sweep by name, or a sweep file by path; UserError for anything malformed."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise UserError(f"{name_or_path}: sweep file not found")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise UserError(f"{name_or_path}: cannot read the sweep file ({err})") from None
        return parse_sweep(path.stem, str(path), text)
    resource = resources.files(SWEEP_PACKAGE) / f"{name_or_path}.yaml"
    if not resource.is_file():
        raise UserError(
            f"unknown sweep '{name_or_path}'; shipped sweeps: {', '.join(shipped_sweeps())} "
            "(or give a path to a .yaml file)"
        )
    return parse_sweep(name_or_path, f"sweeps/{name_or_path}.yaml", resource.read_text(encoding="utf-8"))


def parse_sweep(name: str, source: str, text: str) -> SweepSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{source}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise UserError(f"{source}: a sweep file must be a mapping with keys {', '.join(ALLOWED_KEYS)}")
    unknown = sorted(set(map(str, data)) - set(ALLOWED_KEYS))
    if unknown:
        raise UserError(f"{source}: unknown key '{unknown[0]}'; allowed: {', '.join(ALLOWED_KEYS)}")
    axes = data.get("axes")
    if not isinstance(axes, dict) or not axes:
        raise UserError(f"{source}: 'axes' must map at least one config key to a list of values")
    checked_axes: dict[str, list[Any]] = {}
    for key, values in axes.items():
        check_key(source, "axis", key)
        if not isinstance(values, list) or not values:
            raise UserError(f"{source}: axis '{key}' must be a non-empty list of values")
        for value in values:
            if isinstance(value, (dict, list)) or value is None or not SAFE_VALUE.match(format_value(value)):
                raise UserError(
                    f"{source}: axis '{key}' value {value!r}: use plain scalars of letters, digits, '_.+-'"
                )
        if len(set(map(format_value, values))) != len(values):
            raise UserError(f"{source}: axis '{key}' lists a value twice")
        checked_axes[str(key)] = list(values)
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise UserError(f"{source}: 'overrides' must be a mapping of config key -> value")
    for key in overrides:
        check_key(source, "override", key)
        if key in checked_axes:
            raise UserError(f"{source}: '{key}' is both an axis and a fixed override")
    description = data.get("description") or ""
    isolate = data.get("isolate", False)
    if not isinstance(isolate, bool):
        raise UserError(f"{source}: 'isolate' must be true or false")
    cases = parse_cases(source, data.get("cases") or {}, checked_axes, overrides)
    return SweepSpec(name, source, checked_axes, dict(overrides), str(description), isolate, cases)


def parse_cases(source: str, cases: Any, axes: dict[str, list[Any]], overrides: dict[str, Any]) -> dict:
    """`cases: {axis: {value: {key: value}}}` checked: one axis, its listed values, new keys."""
    if not isinstance(cases, dict) or len(cases) > 1:
        raise UserError(f"{source}: 'cases' must map ONE axis to {{value: {{key: value}}}}")
    checked: dict[str, dict[str, dict[str, Any]]] = {}
    for axis, by_value in cases.items():
        if axis not in axes:
            raise UserError(f"{source}: 'cases' names '{axis}', which is not an axis")
        listed = {format_value(v) for v in axes[axis]}
        if not isinstance(by_value, dict):
            raise UserError(f"{source}: 'cases.{axis}' must map axis values to overrides")
        checked[axis] = {}
        for value, extra in by_value.items():
            if format_value(value) not in listed:
                raise UserError(f"{source}: 'cases.{axis}' has value {value!r}, which the axis does not list")
            if not isinstance(extra, dict) or not extra:
                raise UserError(f"{source}: 'cases.{axis}.{value}' must be a mapping of config key -> value")
            for key in extra:
                check_key(source, "case override", key)
                if key in axes or key in overrides:
                    raise UserError(f"{source}: case override '{key}' is also an axis or a fixed override")
            checked[axis][format_value(value)] = dict(extra)
    return checked


def check_key(source: str, kind: str, key: Any) -> None:
    if not isinstance(key, str) or not re.match(r"^[A-Za-z_][\w.]*$", key):
        raise UserError(f"{source}: {kind} {key!r} is not a config key")
    if key.startswith("hydra.") or key in ("run_dir", "sweep") or key.startswith("sweep."):
        raise UserError(f"{source}: {kind} '{key}' is set by `asffbench sweep`, not by a sweep file")


def override_key(override: str) -> str:
    """The key an override sets: `+train.x=1` -> `train.x`, `model=tiny` -> `model`."""
    return override.split("=", 1)[0].lstrip("+~")


def merge_overrides(*groups: Sequence[str]) -> list[str]:
    """Later overrides of the same key replace earlier ones (CLI beats the sweep file)."""
    merged: dict[str, str] = {}
    for group in groups:
        for override in group:
            merged[override_key(override)] = override
    return list(merged.values())


def fixed_overrides(spec: SweepSpec) -> list[str]:
    return [f"{key}={format_value(value)}" for key, value in spec.overrides.items()]


def case_override_list(case: dict[str, Any], shared: Sequence[str]) -> list[str]:
    """A case's overrides before the shared ones (the command line's among them win)."""
    return merge_overrides([f"{key}={format_value(value)}" for key, value in case.items()], shared)


def iter_run_overrides(spec: SweepSpec, shared: Sequence[str]) -> Iterator[tuple[dict, list[str]]]:
    for combo in spec.combinations():
        base = case_override_list(spec.case_overrides(combo), shared)
        yield combo, [*base, *(f"{k}={format_value(v)}" for k, v in combo.items())]
