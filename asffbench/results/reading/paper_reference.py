"""The paper's published figures (`paper_reference.yaml`, shipped as `asffbench.reference`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

from asffbench.errors import UserError

REFERENCE_PACKAGE = "asffbench.reference"
REFERENCE_FILE = "paper_reference.yaml"
SPLITS = ("val2017", "test-dev")
TRICK_STATES = ("all", "none")
DEFAULT_BACKBONE = "darknet53"  # an entry's `setting.backbone` when it names none


@dataclass(frozen=True)
class PaperEntry:
    id: str
    source: str
    split: str
    exact: bool
    method: str
    img_size: int
    tricks: str
    backbone: str = DEFAULT_BACKBONE
    metrics: dict = field(default_factory=dict)  # percentages
    fps: Optional[float] = None
    latency_ms: Optional[float] = None

    def matches(self, method: Any, img_size: Any, tricks: Any, backbone: Any = DEFAULT_BACKBONE) -> bool:
        try:
            same_size = not math.isnan(float(img_size)) and int(float(img_size)) == self.img_size
        except (TypeError, ValueError):
            same_size = False
        return method == self.method and same_size and tricks == self.tricks and backbone == self.backbone


def parse_entry(raw: Any, where: str) -> PaperEntry:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: each entry must be a mapping")
    name = raw.get("id", "?")
    try:
        setting = raw["setting"]
        entry = PaperEntry(
            id=str(raw["id"]),
            source=str(raw["source"]),
            split=str(raw["split"]),
            exact=bool(raw["exact"]),
            method=str(setting["method"]),
            img_size=int(setting["img_size"]),
            tricks=str(setting["tricks"]),
            backbone=str(setting.get("backbone", DEFAULT_BACKBONE)),
            metrics={str(k): float(v) for k, v in (raw.get("metrics") or {}).items()},
            fps=None if raw.get("fps") is None else float(raw["fps"]),
            latency_ms=None if raw.get("latency_ms") is None else float(raw["latency_ms"]),
        )
    except KeyError as err:
        raise UserError(f"{where}: entry {name}: missing field {err.args[0]!r}") from None
    except (TypeError, ValueError) as err:
        raise UserError(f"{where}: entry {name}: {err}") from None
    if entry.split not in SPLITS:
        raise UserError(f"{where}: entry {name}: split {entry.split!r} is not one of {SPLITS}")
    if entry.tricks not in TRICK_STATES:
        raise UserError(f"{where}: entry {name}: tricks {entry.tricks!r} is not one of {TRICK_STATES}")
    return entry


def parse_reference(text: str, where: str) -> list[PaperEntry]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserError(f"{where}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise UserError(f"{where}: expected a mapping with a list under 'entries'")
    entries = [parse_entry(raw, where) for raw in data["entries"]]
    ids = [e.id for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UserError(f"{where}: duplicate entry id {duplicates[0]!r}")
    return entries


def load_paper_reference(path: Optional[Path] = None) -> list[PaperEntry]:
    """The shipped reference, or the YAML file at `path`."""
    if path is not None:
        if not path.is_file():
            raise UserError(f"{path}: no such reference file")
        return parse_reference(path.read_text(encoding="utf-8"), str(path))
    text = resources.files(REFERENCE_PACKAGE).joinpath(REFERENCE_FILE).read_text(encoding="utf-8")
    return parse_reference(text, REFERENCE_FILE)


def find_entry(
    entries: Iterable[PaperEntry], method: Any, img_size: Any, tricks: Any, backbone: Any = DEFAULT_BACKBONE
) -> Optional[PaperEntry]:
    """The paper figure for this setting, preferring an exact figure over an approximate one."""
    matches = [e for e in entries if e.matches(method, img_size, tricks, backbone)]
    matches.sort(key=lambda e: not e.exact)
    return matches[0] if matches else None
