"""The record's hand-written JSON mapping: a `Section` is a dataclass that reads a JSON object
and writes the same object back.

Records come from other asffbench versions too, so the reading is deliberate about keys:
- a key the file lacks reads as `MISSING` (not None: a present null stays None), and `to_dict`
  leaves it out again, so a record round-trips to the same JSON object;
- a key this version does not know is kept, as found, in the section's `extra` and written back
  by `to_dict` (a record from a newer version loses nothing when rewritten);
- a section of the wrong shape (a list where an object belongs) is kept in the parent's `extra`
  and reads as `MISSING`;
- the keys are written back in the order the file held them, at every level.
Values are kept as found (no coercion): a reader converts (`results.reading.records.as_number`).

Why hand-written rather than pydantic v2, cattrs or msgspec: each of them writes declared fields
before unknown ones (the file's key order is lost), and rejects or drops a misshapen section
instead of keeping it; a record read and rewritten by another version must stay the same JSON,
byte for byte, which is what this module guarantees and tests/record/ checks on every fixture.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar, Mapping, Optional, TypeVar

class Missing:
    """A key absent from the record (as opposed to present and null)."""

    _instance: ClassVar[Optional["Missing"]] = None

    def __new__(cls) -> "Missing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"  # one instance across pickling (sweep jobs return records from subprocesses)


MISSING = Missing()
S = TypeVar("S", bound="Section")


def absent() -> Any:
    """A dataclass field that reads MISSING until the record says otherwise."""
    return field(default=MISSING)


@dataclass
class Section:
    """A JSON object of the record. Subclasses declare the known keys as fields."""

    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know
    # The keys in the order the file held them, so `to_dict` writes a read record back as it was.
    key_order: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # Fields that hold a nested section: field name -> reader of its JSON object.
    NESTED: ClassVar[Mapping[str, Callable[[Mapping[str, Any]], "Section"]]] = {}
    # Fields that hold {name: section}: field name -> reader of each value.
    NESTED_MAPS: ClassVar[Mapping[str, Callable[[Mapping[str, Any]], "Section"]]] = {}

    @classmethod
    def from_dict(cls: type[S], data: Mapping[str, Any]) -> S:
        known = {f.name for f in fields(cls)} - {"extra", "key_order"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                extra[key] = value
            elif key in cls.NESTED and value is not None:
                if isinstance(value, Mapping):
                    values[key] = cls.NESTED[key](value)
                else:
                    extra[key] = value  # wrong shape: kept, reads as MISSING
            elif key in cls.NESTED_MAPS and value is not None:
                if isinstance(value, Mapping) and all(isinstance(v, Mapping) for v in value.values()):
                    values[key] = {name: cls.NESTED_MAPS[key](v) for name, v in value.items()}
                else:
                    extra[key] = value
            else:
                values[key] = value
        return cls(**values, extra=extra, key_order=tuple(data))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: known fields in declaration order (absent ones left out), then the
        unknown keys; a record that was read keeps the order of its file."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("extra", "key_order") or value is MISSING:
                continue
            out[f.name] = to_json(value)
        out.update(self.extra)
        ordered = {key: out.pop(key) for key in self.key_order if key in out}
        return {**ordered, **out}


def part(value: Any, kind: type[S]) -> S:
    """A section of the record, or an empty one (every field MISSING) when it is absent, null or
    of another kind (a train-mode bench result has no latency): readers chain fields safely."""
    return value if isinstance(value, kind) else kind()


def or_none(value: Any) -> Any:
    """A field with an absent value read as None (for text that does not tell the two apart)."""
    return None if value is MISSING else value


def unknown_keys(section: Section, prefix: str = "") -> list[str]:
    """The dotted names of every key this version does not know, in the section and below (a
    writer that adds a key without a field here shows up: the tests ask for none)."""
    found = [f"{prefix}{key}" for key in section.extra]
    for f in fields(section):
        value = getattr(section, f.name)
        nested = value.items() if isinstance(value, dict) else [("", value)]
        for name, item in nested:
            if isinstance(item, Section):
                found += unknown_keys(item, f"{prefix}{f.name}.{name + '.' if name else ''}")
    return found


def to_json(value: Any) -> Any:
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, dict):
        return {key: to_json(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value
