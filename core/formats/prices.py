"""Price tables as TOML files: the bundled one and a user's ``--prices FILE``.

The format (the bundled table in ``core/data/prices.toml`` is an example)::

    taken = "2025-06-01"            # optional: when the prices were read
    [models."gpt-4o"]
    input_per_mtok = 2.5            # dollars per million prompt tokens
    output_per_mtok = 10            # dollars per million completion tokens

A user's file overrides the bundled prices model by model. Every problem is one
``UserError`` naming the file, the line and the field.
"""

from __future__ import annotations

import importlib.resources
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from repair_tui.core.errors import UserError
from repair_tui.core.estimate.costs import Price, PriceTable

FIELDS = ("input_per_mtok", "output_per_mtok")


def bundled_prices() -> PriceTable:
    """The prices shipped with repair-tui, labelled with the date they were taken."""
    text = importlib.resources.files("repair_tui.core").joinpath("data", "prices.toml").read_text("utf-8")
    return parse_prices(text, "bundled prices", bundled=True)


def load_prices(path: str | Path | None) -> PriceTable:
    """The bundled prices, overridden by those in ``path`` when given."""
    base = bundled_prices()
    if path is None:
        return base
    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except FileNotFoundError:
        raise UserError(f"--prices {file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--prices {file}: cannot read it ({exc})") from None
    return parse_prices(text, str(file)).over(base)


def parse_prices(text: str, label: str, *, bundled: bool = False) -> PriceTable:
    """A price table from TOML text; ``label`` names the file in errors and notes."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{label}: {_toml_message(exc)}") from None
    unknown = sorted(set(data) - {"taken", "models"})
    if unknown:
        raise UserError(f"{label}: line {_line_of(text, unknown[0])}: unknown key {unknown[0]!r} "
                        "(expected 'taken' and [models.\"NAME\"] tables)")
    taken = data.get("taken")
    if taken is not None and not isinstance(taken, (str, *_date_types())):
        raise UserError(f"{label}: line {_line_of(text, 'taken')}: taken must be a date such as \"2025-06-01\"")
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise UserError(f"{label}: line {_line_of(text, 'models')}: models must be tables such as [models.\"gpt-4o\"]")
    prices = {name: _price(text, label, name, body) for name, body in models.items()}
    source = label if taken is None else f"{label} of {taken}"
    return PriceTable(prices, (source,) if prices or bundled else ())


def _price(text: str, label: str, name: str, body: Any) -> Price:
    where = f"{label}: line {_line_of(text, name, header=True)}: models.{_quoted(name)}"
    if not isinstance(body, dict):
        raise UserError(f"{where}: must be a table with {' and '.join(FIELDS)}")
    for key in body:
        if key not in FIELDS:
            raise UserError(f"{label}: line {_field_line(text, name, key)}: models.{_quoted(name)}.{key}: "
                            f"unknown field (expected {' and '.join(FIELDS)})")
    values: list[float] = []
    for key in FIELDS:
        if key not in body:
            raise UserError(f"{where}: missing field {key}")
        value = body[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise UserError(f"{label}: line {_field_line(text, name, key)}: models.{_quoted(name)}.{key}: "
                            f"must be a number of dollars per million tokens, 0 or more (got {value!r})")
        values.append(float(value))
    return Price(values[0], values[1])


def _date_types() -> tuple[type, ...]:
    import datetime

    return (datetime.date, datetime.datetime)


def _quoted(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def _toml_message(exc: tomllib.TOMLDecodeError) -> str:
    """tomllib's 'Invalid value (at line 3, column 9)' as 'line 3, column 9: invalid value'."""
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        what = message[: match.start()]
        return f"line {match[1]}, column {match[2]}: {what[:1].lower()}{what[1:]} (not valid TOML)"
    return f"{message} (not valid TOML)"


def _line_of(text: str, key: str, *, header: bool = False) -> int:
    """The 1-based line where ``key`` is set or its [models."key"] table starts (1 if not found)."""
    name = re.escape(key)
    pattern = (rf'^\s*\[\s*models\s*\.\s*("{name}"|\'{name}\'|{name})\s*\]' if header
               else rf'^\s*("{name}"|\'{name}\'|{name})\s*[=.]|^\s*\[\s*{name}\b')
    for number, line in enumerate(text.splitlines(), 1):
        if re.search(pattern, line):
            return number
    return 1


def _field_line(text: str, model: str, key: str) -> int:
    """The line of ``key`` inside the [models."model"] table (its header line if not found)."""
    start = _line_of(text, model, header=True)
    lines = text.splitlines()
    for number in range(start + 1, len(lines) + 1):
        line = lines[number - 1]
        if re.match(r"^\s*\[", line):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return start
