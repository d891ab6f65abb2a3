"""A name -> builder registry (detectron2/timm style) used for the swappable model parts."""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, TypeVar

Builder = TypeVar("Builder", bound=Callable)


class UnknownNameError(KeyError):
    """A name that is not registered; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0]) if self.args else ""


class Registry:
    """Maps names to builders; refuses a second builder under the same name.

    An entry may carry `info`: what the rest of the code needs to know about the part without
    building it (e.g. whether a fusion has adaptive weights), so no one guesses from names.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._builders: dict[str, Callable] = {}
        self._info: dict[str, Any] = {}

    def register(self, name: str, info: Optional[Any] = None) -> Callable[[Builder], Builder]:
        """Decorator: `@REGISTRY.register("name", info)` above a builder (function or class)."""

        def add(builder: Builder) -> Builder:
            if name in self._builders:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._builders[name] = builder
            self._info[name] = info
            return builder

        return add

    def info(self, name: str) -> Any:
        """The entry's `info` (None when it was registered without); UnknownNameError if unknown."""
        self.get(name)
        return self._info[name]

    def get(self, name: str) -> Callable:
        try:
            return self._builders[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; choose from {', '.join(self.names())}"
            ) from None

    def build(self, name: str, *args, **kwargs):
        return self.get(name)(*args, **kwargs)

    def names(self) -> list[str]:
        return list(self._builders)

    def __contains__(self, name: object) -> bool:
        return name in self._builders

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)
