"""The grouping component tree: what a hash is made of, and why each part counts or not.

A component is either contributing or not; its leaves are strings. The hash of a tree is the
md5 of the UTF-8 bytes of all contributing leaves, concatenated in tree order.

As in Sentry, whether a component contributes is decided when its values are set (any
contributing child or any leaf) and changes only when updated explicitly: switching a child
off later leaves the parent as it was. Hashes depend on this, so it is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from hashlib import md5
from typing import Any, Union

Value = Union["Component", str]

# Components with a name take part in a variant's description ("in-app exception stack-trace").
MAJOR_NAMES = {
    "app": "in-app",
    "system": "system",
    "exception": "exception",
    "stacktrace": "stack-trace",
    "threads": "thread",
    "hostname": "hostname",
    "violation": "violation",
    "uri": "URL",
    "message": "message",
    "template": "template",
}


def _any_contributes(values: list[Value]) -> bool:
    # A loop: any() over a generator costs 2-5 times as much, and this runs ≈ 28 times an event.
    for value in values:  # noqa: SIM110
        if isinstance(value, str) or value.contributes:
            return True
    return False


class Component:
    __slots__ = ("contributes", "frozen_leaves", "hint", "id", "values")

    def __init__(
        self,
        id: str,
        values: list[Value] | None = None,
        *,
        contributes: bool | None = None,
        hint: str | None = None,
    ) -> None:
        self.id = id
        self.values: list[Value] = values if values is not None else []
        self.contributes = _any_contributes(self.values) if contributes is None else contributes
        self.hint = hint
        # The contributing leaves below this component, for a component whose children never
        # change again (cached frames): saves walking them for every hash.
        self.frozen_leaves: list[str] | None = None

    def freeze_children(self) -> None:
        leaves: list[str] = []
        self._collect(leaves)
        self.frozen_leaves = leaves

    def update(
        self,
        *,
        contributes: bool | None = None,
        hint: str | None = None,
        values: list[Value] | None = None,
    ) -> None:
        if hint is not None:
            self.hint = hint
        if values is not None:
            self.values = values
            self.frozen_leaves = None
            if contributes is None:
                contributes = _any_contributes(values)
        if contributes is not None:
            self.contributes = contributes

    def shallow_copy(self) -> Component:
        copy = Component(self.id, list(self.values), contributes=self.contributes, hint=self.hint)
        copy.frozen_leaves = self.frozen_leaves
        return copy

    def iter_values(self) -> list[str]:
        """The contributing leaves, in order."""
        found: list[str] = []
        if self.contributes:
            self._collect(found)
        return found

    def _collect(self, found: list[str]) -> None:
        if self.frozen_leaves is not None:
            found.extend(self.frozen_leaves)
            return
        for value in self.values:
            if value.__class__ is str:
                found.append(value)  # type: ignore[arg-type]
            elif value.contributes:  # type: ignore[union-attr]
                value._collect(found)  # type: ignore[union-attr]

    def get_hash(self) -> str | None:
        return hash_from_values(self.iter_values()) if self.contributes else None

    def find(self, id: str, *, only_contributing: bool = False) -> Iterator[Component]:
        """Descendants with this id (depth first), optionally through contributing ones only."""
        for value in self.values:
            if isinstance(value, str) or (only_contributing and not value.contributes):
                continue
            if value.id == id:
                yield value
            yield from value.find(id, only_contributing=only_contributing)

    @property
    def description(self) -> str:
        """The longest chain of named contributing components, as Sentry describes a variant."""
        best: list[str] = []

        def walk(component: Component, names: list[str]) -> None:
            nonlocal best
            name = MAJOR_NAMES.get(component.id)
            here = [*names, name] if name else names
            if (len(here), here) > (len(best), best):
                best = here
            for value in component.values:
                # Nothing is named at or below a frame: it could not lengthen the chain.
                if not isinstance(value, str) and value.contributes and value.id != "frame":
                    walk(value, here)

        walk(self, [])
        return " ".join(best) or MAJOR_NAMES.get(self.id, "others")

    def structure_key(self) -> tuple[Any, ...]:
        """Everything about the tree, for equality comparisons of whole components."""
        return (
            self.id,
            self.contributes,
            self.hint,
            tuple(v if isinstance(v, str) else v.structure_key() for v in self.values),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contributes": self.contributes,
            "hint": self.hint,
            "values": [v if isinstance(v, str) else v.to_dict() for v in self.values],
        }

    def render(self, indent: int = 0) -> list[str]:
        """An indented, readable tree: `*` marks contributing components."""
        pad = "  " * indent
        mark = "*" if self.contributes else ""
        hint = f" ({self.hint})" if self.hint else ""
        lines = [f"{pad}{self.id}{mark}{hint}"]
        for value in self.values:
            if isinstance(value, str):
                lines.append(f"{pad}  {_quote(value)}")
            else:
                lines.extend(value.render(indent + 1))
        return lines

    def __repr__(self) -> str:
        return f"Component({self.id!r}, contributes={self.contributes}, hint={self.hint!r})"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def hash_from_values(values: Iterable[str]) -> str:
    joined = "".join(values)
    return md5(joined.encode("utf-8", "replace"), usedforsecurity=False).hexdigest()
