"""Price tables in TOML: the bundled one, a user's overrides, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from repair_tui.core.errors import UserError
from repair_tui.core.estimate.costs import Price
from repair_tui.core.formats.prices import bundled_prices, load_prices, parse_prices


def test_bundled_prices_are_dated_and_exact() -> None:
    table = bundled_prices()
    assert table.source.startswith("bundled prices of 20")
    assert table.price("gpt-4o") == Price(2.5, 10.0)
    assert table.price("gpt-4o-mini") == Price(0.15, 0.6)
    assert table.price("gpt-3.5-turbo") == Price(0.5, 1.5)
    for name in ("sim", "sim-strong", "gpt-4o-2099-01-01", "qwen2.5-coder:7b"):
        assert table.price(name) is None  # never a guess from a similar name


def test_user_file_overrides_and_adds(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[models."gpt-4o"]\ninput_per_mtok = 1\noutput_per_mtok = 2\n'
                    '[models.sim]\ninput_per_mtok = 0\noutput_per_mtok = 0.5\n')
    table = load_prices(path)
    assert table.price("gpt-4o") == Price(1.0, 2.0)
    assert table.price("sim") == Price(0.0, 0.5)
    assert table.price("gpt-4o-mini") == Price(0.15, 0.6)
    assert table.source.endswith(str(path))


@pytest.mark.parametrize(("text", "expected"), [
    ('[models."gpt-4o"\ninput_per_mtok = 1\n', "p.toml: line 1, column"),
    ('[models."gpt-4o"]\ninput_per_mtok = 1\n', 'p.toml: line 1: models.gpt-4o: missing field output_per_mtok'),
    ('[models."x"]\ninput_per_mtok = 1\noutput_per_mtok = "ten"\n',
     "p.toml: line 3: models.x.output_per_mtok: must be a number"),
    ('[models."x"]\ninput_per_mtok = -1\noutput_per_mtok = 1\n', "p.toml: line 2: models.x.input_per_mtok: must be"),
    ('[models."x"]\ninput_per_mtoken = 1\noutput_per_mtok = 1\n',
     "p.toml: line 2: models.x.input_per_mtoken: unknown field"),
    ('\n\nprice = 3\n', "p.toml: line 3: unknown key 'price'"),
    ('models = 3\n', "p.toml: line 1: models must be tables"),
])
def test_bad_files_are_one_line_naming_file_line_field(text: str, expected: str) -> None:
    with pytest.raises(UserError) as err:
        parse_prices(text, "p.toml")
    assert str(err.value).startswith(expected), str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--prices .*nope.toml: no such file"):
        load_prices(tmp_path / "nope.toml")
