"""Return values crossing the process boundary: tagged JSON, built from plain data only.

A call-style test sends the function's return value out of the program's process and
the comparison happens outside. ``encode`` runs inside the program's process and
reads values by their *builtin* type (an ``int`` subclass is sent as its int value),
so an object with a rigged ``__eq__`` or ``__repr__`` gains nothing: it becomes
its plain value or an opaque token that equals nothing. ``decode`` runs outside.

Tags: ``{"~t": [...]}`` tuple, ``{"~s": [...]}`` set, ``{"~d": [[k, v], ...]}`` dict,
``{"~b": "..."}`` bytes (latin-1), ``{"~r": "repr", "~type": "name"}`` opaque.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any, cast

MAX_DEPTH = 64
MAX_ITEMS = 200_000
REPR_LIMIT = 2000


class Opaque:
    """A value the sandbox could not carry as data (equal to nothing, itself included)."""

    def __init__(self, text: str, type_name: str) -> None:
        self.text = text
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return self.text


class _Budget:
    def __init__(self) -> None:
        self.items = 0


def _opaque(value: object, reason: str | None = None) -> dict[str, Any]:
    type_name = type(value).__name__
    if reason is None:
        try:
            text = repr(value)
        except BaseException:  # a hostile __repr__ must not break reporting
            text = f"<{type_name} object>"
    else:
        text = reason
    if len(text) > REPR_LIMIT:
        text = text[:REPR_LIMIT] + "..."
    return {"~r": text, "~type": type_name}


def encode(value: object, depth: int = 0, budget: _Budget | None = None) -> Any:
    """Tagged-JSON form of ``value`` (runs in the program's process).

    Types are read with ``type()``, which a program cannot fake (``isinstance`` can be
    fooled by a ``__class__`` property), and values through the builtin slots.
    """
    budget = budget or _Budget()
    budget.items += 1
    if budget.items > MAX_ITEMS or depth > MAX_DEPTH:
        return _opaque(value, "<value too large or too deeply nested>")
    kind = type(value)
    try:
        if value is None:
            return None
        if issubclass(kind, bool):
            return int.__int__(cast(int, value)) == 1
        if issubclass(kind, int):
            number = int.__int__(cast(int, value))
            # JSON can carry big ints, but str() of one past 4300 digits raises.
            return number if number.bit_length() < 14000 else _opaque(value, "<int too large>")
        if issubclass(kind, float):
            return float.__float__(cast(float, value))
        if issubclass(kind, str):
            return str.__str__(cast(str, value))
        if issubclass(kind, bytes | bytearray):
            return {"~b": bytes(cast(bytes, value)).decode("latin-1")}
        if issubclass(kind, list):
            return [encode(v, depth + 1, budget) for v in list.__iter__(cast("list[Any]", value))]
        if issubclass(kind, tuple):
            members: Iterable[Any] = tuple.__iter__(cast("tuple[Any, ...]", value))
            return {"~t": [encode(v, depth + 1, budget) for v in members]}
        if issubclass(kind, set | frozenset):
            members = (set.__iter__(cast("set[Any]", value)) if issubclass(kind, set)
                       else frozenset.__iter__(cast("frozenset[Any]", value)))
            return {"~s": [encode(v, depth + 1, budget) for v in members]}
        if issubclass(kind, dict):
            items = dict.items(cast("dict[Any, Any]", value))
            return {"~d": [[encode(k, depth + 1, budget), encode(v, depth + 1, budget)] for k, v in items]}
        if issubclass(kind, numbers.Integral):
            return int(cast(int, value))
        if issubclass(kind, numbers.Real):
            return float(cast(float, value))
        tolist = getattr(kind, "tolist", None)  # numpy arrays and scalars
        if callable(tolist):
            return encode(tolist(value), depth + 1, budget)
    except Exception as exc:
        return _opaque(value, f"<unreadable {kind.__name__}: {type(exc).__name__}>")
    return _opaque(value)


def decode(obj: Any) -> Any:
    """The Python value for a tagged-JSON form (runs outside the program's process)."""
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "~t" in obj:
        return tuple(decode(v) for v in obj["~t"])
    if "~s" in obj:
        items = [decode(v) for v in obj["~s"]]
        try:
            return set(items)
        except TypeError:
            return items
    if "~d" in obj:
        pairs = [(decode(k), decode(v)) for k, v in obj["~d"]]
        try:
            return dict(pairs)
        except TypeError:
            return pairs
    if "~b" in obj:
        return str(obj["~b"]).encode("latin-1")
    return Opaque(str(obj.get("~r", "<unknown>")), str(obj.get("~type", "object")))
