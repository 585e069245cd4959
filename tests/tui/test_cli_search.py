"""`repair-tui search` on the sample runs: hits, --kind, --json, untrusted text, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repair_tui.core.store.records import NewNode
from repair_tui.core.store.store import Store
from repair_tui.tui.cli import main

RUN = "humaneval-sim-strong-feedback"


def test_feedback_that_mentions_off_by_one(samples_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", RUN, '"off by one"', "--db", str(samples_db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["count"] == len(out["hits"]) > 3
    assert {h["kind"] for h in out["hits"]} == {"feedback"}
    assert all("off-by-one" in h["snippet"].lower() for h in out["hits"])
    assert main(["search", RUN, '"off by one"', "--db", str(samples_db), "--kind", "program",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"] == []
    assert main(["search", RUN, "sorted", "--db", str(samples_db), "--kind", "spec", "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert text.count("spec ") == 2 and "2 hits" in text


def test_untrusted_text_is_shown_visibly(samples_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(samples_db) as store:
        run = store.get_run(RUN)
        store.add_nodes(run.id, [NewNode("HumanEval/0", "HumanEval/0|p0|h0", "feedback", "human",
                                         parent_key="HumanEval/0|p0",
                                         text="zebra \x1b]0;pwned\x07 here")])
    assert main(["search", RUN, "zebra", "--db", str(samples_db)]) == 0
    out = capsys.readouterr().out
    assert "\x1b]" not in out and "\x07" not in out and "␛" in out and "(human)" in out


def test_errors(samples_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", RUN, '"open', "--db", str(samples_db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "search query" in err
    assert main(["search", "nope", "x", "--db", str(samples_db)]) == 2
    assert main(["search", RUN, "zzzqqq", "--db", str(samples_db)]) == 0
    assert "No match" in capsys.readouterr().out
