"""Values crossing the process boundary: tagged JSON, built from plain data only.

Two encoders run in the program's process, one decoder outside it:

* ``encode`` (call-style tests) reads values by their *builtin* type (an ``int``
  subclass is sent as its int value), so an object with a rigged ``__eq__`` or
  ``__repr__`` gains nothing: it becomes its plain value or an opaque token that
  equals nothing;
* ``encode_exact`` (assert-style tests, answering the judge's proxy) accepts only
  values whose type *is* one of ``PLAIN`` (checked with ``type(x) is``, recursively) and
  raises ``Unplain`` for anything else;
* ``decode`` rebuilds the value from what arrived. The program's process may have been
  rewritten by the program, so ``decode`` trusts nothing: it accepts exactly the tags
  below, with caps on depth and size, and raises ``DecodeError`` for anything else.
  It never recurses past ``MAX_DEPTH`` and never builds more than ``MAX_ITEMS`` values.

Tags: ``{"~t": [...]}`` tuple, ``{"~s": [...]}`` set, ``{"~f": [...]}`` frozenset,
``{"~d": [[k, v], ...]}`` dict, ``{"~b": "..."}`` bytes (latin-1), ``{"~c": [re, im]}``
complex, ``{"~r": "repr", "~type": "name"}`` opaque (call style only).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any, cast

MAX_DEPTH = 64
MAX_ITEMS = 200_000
REPR_LIMIT = 2000
MAX_INT_BITS = 14_000  # str() of an int past 4300 digits raises; JSON carries it as text
PLAIN = (type(None), bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)
PLAIN_NAMES = "None, bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset"


class DecodeError(ValueError):
    """What arrived is not a value built from plain data (or is too big or too deep)."""


class Unplain(TypeError):
    """A value of a type other than the plain ones (assert-style tests)."""

    def __init__(self, type_name: str, reason: str = "") -> None:
        super().__init__(type_name)
        self.type_name = type_name
        self.reason = reason


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
            return number if number.bit_length() < MAX_INT_BITS else _opaque(value, "<int too large>")
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
        if issubclass(kind, set):
            return {"~s": [encode(v, depth + 1, budget) for v in set.__iter__(cast("set[Any]", value))]}
        if issubclass(kind, frozenset):
            members = frozenset.__iter__(cast("frozenset[Any]", value))
            return {"~f": [encode(v, depth + 1, budget) for v in members]}
        if issubclass(kind, complex):
            plain = complex.__complex__(cast(complex, value))
            return {"~c": [plain.real, plain.imag]}
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


def _type_name(kind: type) -> str:
    module = getattr(kind, "__module__", None)
    name = getattr(kind, "__qualname__", None) or getattr(kind, "__name__", "?")
    text = str(name) if module in (None, "builtins") else f"{module}.{name}"
    return text[:200]


_EXACT_TAGS: dict[type, str] = {tuple: "~t", set: "~s", frozenset: "~f"}


def encode_exact(value: object, depth: int = 0, budget: _Budget | None = None) -> Any:
    """Tagged-JSON form of ``value`` if it is built from ``PLAIN`` types only (exact types,
    at every depth); else ``Unplain`` naming the first other type met."""
    budget = budget or _Budget()
    budget.items += 1
    if budget.items > MAX_ITEMS or depth > MAX_DEPTH:
        raise Unplain(_type_name(type(value)), "too large or too deeply nested")
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is float:
        return value
    if kind is int:
        if value.bit_length() >= MAX_INT_BITS:  # type: ignore[attr-defined]
            raise Unplain("int", "an int too large to send")
        return value
    if kind is bytes:
        return {"~b": value.decode("latin-1")}  # type: ignore[attr-defined]
    if kind is complex:
        return {"~c": [value.real, value.imag]}  # type: ignore[attr-defined]
    if kind is list:
        return [encode_exact(v, depth + 1, budget) for v in value]  # type: ignore[attr-defined]
    tag = _EXACT_TAGS.get(kind)
    if tag is not None:
        return {tag: [encode_exact(v, depth + 1, budget) for v in value]}  # type: ignore[attr-defined]
    if kind is dict:
        return {"~d": [[encode_exact(k, depth + 1, budget), encode_exact(v, depth + 1, budget)]
                       for k, v in value.items()]}  # type: ignore[attr-defined]
    raise Unplain(_type_name(kind))


_SCALARS = (type(None), bool, int, float, str)
_TAGS = {"~t": tuple, "~s": set, "~f": frozenset}


def decode(obj: Any, *, opaque: bool = True) -> Any:
    """The Python value for a tagged-JSON form, as ``json.loads`` gave it.

    Accepts exactly the forms the encoders write; ``opaque=False`` refuses the opaque
    tag too (the assert proxy accepts plain data only). DecodeError otherwise.
    """
    budget = _Budget()
    return _decode(obj, 0, budget, opaque)


def _decode(obj: Any, depth: int, budget: _Budget, opaque: bool) -> Any:
    budget.items += 1
    if budget.items > MAX_ITEMS:
        raise DecodeError("the value has too many parts")
    if depth > MAX_DEPTH:
        raise DecodeError("the value is too deeply nested")
    kind = type(obj)
    if kind in _SCALARS:
        if kind is int and obj.bit_length() >= MAX_INT_BITS:
            raise DecodeError("an int is too large")
        return obj
    if kind is list:
        return [_decode(v, depth + 1, budget, opaque) for v in obj]
    if kind is not dict or len(obj) not in (1, 2):
        raise DecodeError(f"unexpected {kind.__name__} in the value")
    if len(obj) == 2:
        text, type_name = obj.get("~r"), obj.get("~type")
        if not opaque or type(text) is not str or type(type_name) is not str:
            raise DecodeError("unexpected object in the value")
        return Opaque(text[:REPR_LIMIT + 3], type_name[:200])
    ((tag, body),) = obj.items()
    return _decode_tagged(tag, body, depth, budget, opaque)


def _decode_tagged(tag: str, body: Any, depth: int, budget: _Budget, opaque: bool) -> Any:
    if tag == "~b" and type(body) is str:
        try:
            return body.encode("latin-1")
        except UnicodeEncodeError:
            raise DecodeError("bytes out of range") from None
    if type(body) is not list:
        raise DecodeError(f"unexpected tag {str(tag)[:20]!r} in the value")
    if tag == "~c":
        if len(body) != 2 or not all(type(x) in (int, float) for x in body):
            raise DecodeError("a malformed complex number")
        return complex(body[0], body[1])
    if tag == "~d":
        pairs = []
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise DecodeError("a malformed dict")
            pairs.append((_decode(pair[0], depth + 1, budget, opaque),
                          _decode(pair[1], depth + 1, budget, opaque)))
        try:
            return dict(pairs)
        except TypeError:
            raise DecodeError("an unhashable dict key") from None
    make = _TAGS.get(tag)
    if make is None:
        raise DecodeError(f"unexpected tag {str(tag)[:20]!r} in the value")
    items = [_decode(v, depth + 1, budget, opaque) for v in body]
    try:
        return make(items)
    except TypeError:
        raise DecodeError("an unhashable set member") from None
