"""The named image corruptions of `eval.corruption` and `asffbench robust` (torch-free: the config
rules, the data layer that applies them and the report all read it).

The protocol is Michaelis et al. 2019, "Benchmarking Robustness in Object Detection" (COCO-C,
Pascal-C), with the corruptions of Hendrycks & Dietterich's ImageNet-C as the
`imagecorruptions` package implements them (`data/corrupt_image.py` calls it): 15 benchmark
corruptions in four families at severities 1-5, and 4 held-out ones. The names are that
package's function names, so a cell's name is what mmdetection's robustness tools print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from asffbench.errors import UserError

# Family -> its benchmark corruptions, in the package's (and the paper's) order.
FAMILIES: dict[str, tuple[str, ...]] = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "weather": ("snow", "frost", "fog", "brightness"),
    "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression"),
}
BENCHMARK: tuple[str, ...] = tuple(name for names in FAMILIES.values() for name in names)
# Held out in the paper (for validation of methods), each with the family it belongs to.
HELD_OUT: dict[str, str] = {"speckle_noise": "noise", "gaussian_blur": "blur", "spatter": "weather",
                            "saturate": "digital"}
ALL: tuple[str, ...] = BENCHMARK + tuple(HELD_OUT)
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
ROBUST_DIR = "robust"  # a run's corrupted evaluations: <run_dir>/robust/<name>-<severity>/
# `--corruptions` sets by name.
NAMED_SETS: dict[str, tuple[str, ...]] = {"benchmark": BENCHMARK, "all": ALL}


@dataclass(frozen=True, order=True)
class Corruption:
    """One corruption at one severity: a cell of the robustness grid."""

    name: str
    severity: int

    @property
    def cell(self) -> str:
        """The cell's folder name under a run's robust/ (`fog-3`)."""
        return f"{self.name}-{self.severity}"


def cell_dir(run_dir: Path, corruption: Corruption) -> Path:
    """Where the evaluation of `corruption` writes its detections, metrics and match table."""
    return Path(run_dir) / ROBUST_DIR / corruption.cell


def family_of(name: str) -> str:
    """noise, blur, weather or digital."""
    for family, names in FAMILIES.items():
        if name in names:
            return family
    return HELD_OUT[name]


def valid_corruption(name: str) -> bool:
    return name in ALL


def valid_severity(severity: object) -> bool:
    return isinstance(severity, int) and not isinstance(severity, bool) and severity in SEVERITIES


CORRUPTION_CHOICES = ", ".join(ALL)
SEVERITY_CHOICES = "1-5"


def parse_corruptions(text: str, option: str = "--corruptions") -> tuple[str, ...]:
    """`benchmark`, `all` or a comma-separated list of names; UserError listing the valid ones."""
    text = text.strip()
    if text in NAMED_SETS:
        return NAMED_SETS[text]
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if not valid_corruption(name)]
    if unknown or not names:
        raise UserError(f"{option} {text}: unknown corruption {', '.join(unknown) or '(none given)'}; "
                        f"choose benchmark, all or names from {CORRUPTION_CHOICES}")
    return names


def parse_severities(text: str, option: str = "--severities") -> tuple[int, ...]:
    """`1-5`, `3` or `1,3,5`; UserError unless every severity is in 1-5."""
    values: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            low, _, high = part.partition("-")
            values.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        values = []
    if not values or any(v not in SEVERITIES for v in values):
        raise UserError(f"{option} {text}: severities are integers in {SEVERITY_CHOICES} (a range 1-5 or a list 1,3)")
    return tuple(sorted(set(values)))


def expand_names(names: Sequence[str]) -> tuple[str, ...]:
    """Names with `benchmark` / `all` expanded, each once, in the order given."""
    out: list[str] = []
    for name in names:
        out.extend(NAMED_SETS.get(name, (name,)))
    return tuple(dict.fromkeys(out))


def catalogue_order(cells: Sequence[Corruption]) -> list[Corruption]:
    """Cells by family and corruption as the catalogue lists them, then by severity."""
    return sorted(cells, key=lambda c: (ALL.index(c.name) if c.name in ALL else len(ALL), c.name, c.severity))


def grid(names: Sequence[str], severities: Sequence[int]) -> list[Corruption]:
    """Every (corruption, severity) cell, corruption-major."""
    return [Corruption(name, severity) for name in names for severity in severities]
