"""Dataset loading: HumanEval, APPS (folders and JSONL export), the shipped sample, our JSONL."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from repair_tui.core.datasets.apps import APPS_PREAMBLE
from repair_tui.core.datasets.check import check_references
from repair_tui.core.datasets.load import find_task, load_dataset
from repair_tui.core.datasets.task import ReferenceCheck, Task
from repair_tui.core.errors import DatasetError, UserError
from repair_tui.sandbox.result import Verdict

DATA = Path(__file__).resolve().parents[2] / "data" / "datasets"


def _one_line_error(exc: pytest.ExceptionInfo[UserError]) -> str:
    message = str(exc.value)
    assert "\n" not in message and message
    return message


# ---------------------------------------------------------------- HumanEval


def test_humaneval_has_164_assert_tasks() -> None:
    tasks = load_dataset("humaneval")
    assert len(tasks) == 164
    assert [t.id for t in tasks[:3]] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    first = tasks[0]
    assert first.source == "humaneval" and first.dataset == "humaneval"
    assert first.style == "assert" and first.n_tests == 1
    assert first.entry_point == "has_close_elements" == first.tests["entry_point"]
    assert "def check(candidate)" in first.tests["test"]
    assert first.references[0].startswith(first.spec)
    assert first.spec.lstrip().startswith("from typing import List")


def test_humaneval_filters_and_ids() -> None:
    assert [t.id for t in load_dataset("humaneval", limit=2)] == ["HumanEval/0", "HumanEval/1"]
    picked = load_dataset("humaneval", ids=["HumanEval/7", "HumanEval/3"])
    assert [t.id for t in picked] == ["HumanEval/7", "HumanEval/3"]
    assert load_dataset("humaneval", limit=0) == []
    with pytest.raises(UserError) as exc:
        load_dataset("humaneval", difficulty="interview")
    assert "no difficulty" in _one_line_error(exc)


def test_find_task_forms() -> None:
    assert find_task("humaneval:HumanEval/163").entry_point == "generate_integers"
    task = find_task("apps-sample:test/0003")
    assert task.id == "test/0003" and task.dataset == "apps-sample"
    folder = DATA / "apps_mini"
    assert find_task(f"apps:{folder}:train/0001").split == "train"
    assert find_task(f"jsonl:{DATA / 'tasks.jsonl'}:double").entry_point == "double"


@pytest.mark.parametrize(
    ("ref", "needle"),
    [
        ("humaneval:HumanEval/999", "humaneval has no task 'HumanEval/999'"),
        ("apps-sample:test/0999", "apps-sample has no task"),
        ("HumanEval/0", "must be DATASET:ID"),
        ("humaneval:", "must be DATASET:ID"),
        ("mbpp:1", "unknown dataset 'mbpp'"),
    ],
)
def test_find_task_errors(ref: str, needle: str) -> None:
    with pytest.raises(UserError) as exc:
        find_task(ref)
    assert needle in _one_line_error(exc)


# ---------------------------------------------------------------- the shipped sample


def test_apps_sample_is_a_realistic_mix() -> None:
    tasks = load_dataset("apps-sample")
    assert len(tasks) == 20
    assert all(t.source == "apps" and t.split == "test" for t in tasks)
    assert [t.id for t in tasks] == [f"test/{i:04d}" for i in range(20)]
    difficulties = {t.difficulty for t in tasks}
    assert difficulties == {"introductory", "interview", "competition"}
    styles = [t.style for t in tasks]
    assert styles.count("stdio") >= 8 and styles.count("call") >= 6
    methods = [t for t in tasks if "class Solution" in t.starter_code]
    functions = [t for t in tasks if t.style == "call" and "class Solution" not in t.starter_code]
    assert len(methods) >= 3 and len(functions) >= 3
    for t in tasks:
        assert t.n_tests >= 5, t.id
        assert len(t.references) >= 1, t.id
        assert "Example" in t.spec, t.id
        if t.style == "call":
            assert t.entry_point and t.starter_code.startswith(("def ", "from typing")), t.id
            assert f"def {t.entry_point}(" in t.starter_code


def test_apps_sample_spec_follows_the_paper_format() -> None:
    stdio = find_task("apps-sample:test/0000")
    assert stdio.spec.endswith("\n\nUse Standard Input format")
    call = find_task("apps-sample:test/0003")
    assert "\n\nUse Call-Based format\n\n" in call.spec
    assert call.spec.endswith(call.starter_code.rstrip())
    assert call.tests["fn_name"] == "secondLargest"


def test_apps_sample_loads_from_package_data_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert len(load_dataset("apps-sample", difficulty="competition")) == 4


def test_apps_sample_filters() -> None:
    intro = load_dataset("apps-sample", difficulty="introductory", limit=3)
    assert [t.difficulty for t in intro] == ["introductory"] * 3
    assert [t.id for t in load_dataset("apps-sample", ids=["0005"])] == ["test/0005"]
    assert len(load_dataset("apps-sample", split="test")) == 20
    with pytest.raises(UserError) as exc:
        load_dataset("apps-sample", split="train")
    assert "has no split 'train' (it has: test)" in _one_line_error(exc)
    with pytest.raises(UserError) as exc:
        load_dataset("apps-sample", difficulty="hard")
    assert "competition, interview, introductory" in _one_line_error(exc)
    with pytest.raises(UserError):
        load_dataset("apps-sample", limit=-1)


# ---------------------------------------------------------------- APPS folders


def test_apps_checkout_with_both_splits() -> None:
    ref = f"apps:{DATA / 'apps_mini'}"
    tasks = load_dataset(ref)
    assert [t.id for t in tasks] == ["test/0000", "test/0002", "train/0000", "train/0001"]
    assert all(t.dataset == ref for t in tasks)
    call, hello, square, echo = tasks
    assert call.tests == {
        "style": "call",
        "fn_name": "inc",
        # Call-based outputs stay as APPS stores them: wrapped in a list.
        "cases": [{"input": [1], "output": [2]}, {"input": [41], "output": [42]}],
        "preamble": APPS_PREAMBLE,  # the harness's imports, as APPS runs every solution
    }
    assert call.entry_point == "inc" and call.starter_code == "def inc(n):\n    "
    assert call.difficulty == "competition" and call.meta["url"].endswith("0000")
    assert hello.difficulty is None and hello.references == ()
    assert hello.tests["cases"][0] == {"input": "", "output": "hello\n"}
    assert square.references == ("print(int(input()) ** 2)\n",)
    # Inputs and outputs given as lists of lines are joined with newlines.
    assert echo.tests["cases"] == [{"input": "x\ny", "output": "x\ny"}]
    assert [t.id for t in load_dataset(ref, split="train")] == ["train/0000", "train/0001"]


def test_apps_single_split_folder() -> None:
    tasks = load_dataset(f"apps:{DATA / 'apps_mini' / 'train'}")
    assert [t.id for t in tasks] == ["train/0000", "train/0001"]
    assert {t.split for t in tasks} == {"train"}


def test_apps_bare_id_must_be_unambiguous() -> None:
    ref = f"apps:{DATA / 'apps_mini'}"
    assert load_dataset(ref, ids=["0002"])[0].id == "test/0002"
    with pytest.raises(UserError) as exc:
        load_dataset(ref, ids=["0000"])
    assert "ambiguous" in _one_line_error(exc) and "train/0000" in str(exc.value)


def test_apps_reads_only_the_selected_problems(tmp_path: Path) -> None:
    """A broken problem outside the selection does not stop a --limit or --ids load."""
    root = tmp_path / "APPS"
    shutil.copytree(DATA / "apps_mini", root)
    (root / "train" / "0001" / "input_output.json").write_text("{broken")
    assert len(load_dataset(f"apps:{root}", limit=3)) == 3
    assert load_dataset(f"apps:{root}", ids=["train/0000"])[0].id == "train/0000"
    with pytest.raises(DatasetError, match="0001"):
        load_dataset(f"apps:{root}")


@pytest.mark.parametrize(
    ("folder", "needle"),
    [
        ("apps_broken_io", "0005/input_output.json: malformed JSON"),
        ("apps_no_tests", "0009: no tests (input_output.json is missing)"),
        ("apps_mismatch", "2 inputs but 1 outputs"),
        ("does_not_exist", "does_not_exist: no such file or folder"),
        ("apps_mini/test/0000", "not an APPS folder"),
    ],
)
def test_apps_folder_errors(folder: str, needle: str) -> None:
    with pytest.raises(DatasetError) as exc:
        load_dataset(f"apps:{DATA / folder}")
    assert needle in _one_line_error(exc)


# ---------------------------------------------------------------- APPS JSONL export


def test_apps_export_jsonl_split_from_file_name() -> None:
    path = DATA / "apps_test.jsonl"
    tasks = load_dataset(f"apps:{path}")
    assert [t.id for t in tasks] == ["test/0007", "test/0012", "test/3000"]
    add, larger, reverse = tasks
    assert add.split == "test" and add.difficulty == "introductory"
    assert add.tests["style"] == "stdio" and add.references[0].startswith("a, b =")
    assert add.meta == {"url": "https://example.org/sum"}
    assert add.spec == "Read two integers and print their sum.\n\nUse Standard Input format"
    assert larger.tests["fn_name"] == "larger" and larger.tests["cases"][0]["output"] == [2]
    assert larger.spec.endswith(
        "Use Call-Based format\n\nclass Solution:\n    def larger(self, a, b):"
    )
    assert reverse.references == ()
    assert reverse.tests["cases"] == [{"input": "a\nb\nc", "output": "c\nb\na"}]
    assert [t.id for t in load_dataset(f"apps:{path}", difficulty="interview")] == ["test/0012"]


def test_apps_export_without_split_in_name(tmp_path: Path) -> None:
    path = tmp_path / "apps.jsonl.gz"
    path.write_bytes(gzip.compress((DATA / "apps_test.jsonl").read_bytes()))
    assert [t.id for t in load_dataset(f"apps:{path}")] == ["0007", "0012", "3000"]
    # --split names the split of a file whose name does not.
    labelled = load_dataset(f"apps:{path}", split="train", ids=["train/0012"])
    assert labelled[0].id == "train/0012" and labelled[0].split == "train"


def test_apps_export_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as exc:
        load_dataset(f"apps:{DATA / 'apps_bad_field_test.jsonl'}")
    assert "apps_bad_field_test.jsonl:2: field input_output is not valid JSON" in _one_line_error(
        exc
    )
    bad = tmp_path / "test.jsonl"
    bad.write_text(json.dumps({"problem_id": 1, "question": "q", "input_output": ""}) + "\n")
    with pytest.raises(DatasetError) as exc:
        load_dataset(f"apps:{bad}")
    assert "test.jsonl:1: no tests" in _one_line_error(exc)


# ---------------------------------------------------------------- our JSONL form


def test_jsonl_form() -> None:
    ref = f"jsonl:{DATA / 'tasks.jsonl'}"
    add, double, even = load_dataset(ref)
    assert add.id == "add-stdin" and add.source == "jsonl" and add.dataset == ref
    assert add.difficulty == "easy" and add.references == (
        "a, b = map(int, input().split())\nprint(a + b)\n",
    )
    assert double.entry_point == "double" and len(double.references) == 2
    assert double.starter_code == "def double(x):\n    "
    assert even.style == "assert" and even.references == () and even.entry_point == "is_even"
    assert [t.id for t in load_dataset(ref, difficulty="hard")] == ["is-even"]


def test_jsonl_gzip(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl.gz"
    path.write_bytes(gzip.compress((DATA / "tasks.jsonl").read_bytes()))
    assert len(load_dataset(f"jsonl:{path}")) == 3


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("broken_json.jsonl", "broken_json.jsonl:3: malformed JSON"),
        ("no_tests.jsonl", "no_tests.jsonl:2: no tests (field tests is missing)"),
        ("duplicate_ids.jsonl", "duplicate_ids.jsonl:2: id 'add-stdin' repeats line 1"),
        ("missing.jsonl", "missing.jsonl: no such file"),
    ],
)
def test_jsonl_errors(name: str, needle: str) -> None:
    with pytest.raises(DatasetError) as exc:
        load_dataset(f"jsonl:{DATA / name}")
    assert needle in _one_line_error(exc)


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ({"id": "a:b", "spec": "s"}, "contain no ':'"),
        ({"spec": "s"}, "field id is missing"),
        ({"id": "x"}, "field spec is missing"),
        ([1, 2], "expected a JSON object"),
        ({"id": "x", "spec": "s", "tests": {"style": "fuzz"}}, "style"),
        ({"id": "x", "spec": "s", "reference": 3}, "references must be a list of strings"),
    ],
)
def test_jsonl_row_errors(tmp_path: Path, row: Any, needle: str) -> None:
    tests = {"style": "stdio", "cases": [{"input": "", "output": "1\n"}]}
    if isinstance(row, dict) and "tests" not in row:
        row = {**row, "tests": tests}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DatasetError) as exc:
        load_dataset(f"jsonl:{path}")
    assert needle in _one_line_error(exc) and "t.jsonl:1" in str(exc.value)


def test_unknown_dataset_forms() -> None:
    for ref in ("apps", "jsonl", "apps:", "humaneval-plus", ""):
        with pytest.raises(UserError) as exc:
            load_dataset(ref)
        assert "unknown dataset" in _one_line_error(exc)


# ---------------------------------------------------------------- check_references


class FakeSandbox:
    """Passes programs containing 'ok', fails the rest; records run_many batches."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, dict[str, Any]]]] = []

    def run_many(
        self, items: Sequence[tuple[str, dict[str, Any]]], limits: object = None
    ) -> list[Verdict]:
        self.batches.append(list(items))
        return [
            Verdict(passed=True, results=[], isolation="fake")
            if "ok" in program
            else Verdict(
                passed=False,
                results=[],
                isolation="fake",
                fault="wrong answer on test 1",
                error_message="Given input:\n1\nthe program printed:\n2",
            )
            for program, _ in items
        ]


def _task(name: str, refs: tuple[str, ...]) -> Task:
    tests = {"style": "stdio", "cases": [{"input": "1\n", "output": "1\n"}]}
    return Task(id=name, source="jsonl", spec="s", tests=tests, references=refs)


def test_check_references_order_chunks_and_progress() -> None:
    tasks = [
        _task("a", ("print('ok')",)),
        _task("b", ()),
        _task("c", ("print('bad')", "print('ok')")),
        _task("d", ("print('ok')",)),
    ]
    sandbox = FakeSandbox()
    seen: list[ReferenceCheck] = []
    checks = check_references(tasks, sandbox, chunk_size=2, on_checked=seen.append)  # type: ignore[arg-type]
    assert [c.task_id for c in checks] == ["a", "b", "c", "d"]
    assert [c.passed for c in checks] == [True, None, False, True]
    assert checks[1].reason == "no reference solution" and checks[1].verdict is None
    # Only the first reference counts.
    assert checks[2].reason == "wrong answer on test 1: Given input:\n1\nthe program printed:\n2"
    assert [len(b) for b in sandbox.batches] == [2, 1]
    assert sorted(c.task_id for c in seen) == ["a", "b", "c", "d"]


# ---------------------------------------------------------------- with the real sandbox


@pytest.fixture(scope="module")
def sandbox() -> Any:
    from repair_tui.sandbox import Sandbox

    with Sandbox() as box:
        yield box


def test_every_shipped_reference_passes_in_the_sandbox(sandbox: Any) -> None:
    tasks = load_dataset("apps-sample") + load_dataset("humaneval")
    checks = check_references(tasks, sandbox)
    failed = [(c.task_id, c.reason) for c in checks if not c.passed]
    assert failed == []
    assert len(checks) == 184


def test_check_references_reports_the_reason(sandbox: Any, tmp_path: Path) -> None:
    good = "a, b = map(int, input().split())\nprint(a + b)\n"
    rows = [
        {"id": "good", "spec": "s", "tests": _SUM_TESTS, "reference": good},
        {"id": "wrong", "spec": "s", "tests": _SUM_TESTS, "reference": good.replace("+", "-")},
        {"id": "crash", "spec": "s", "tests": _SUM_TESTS, "reference": "print(1 // 0)\n"},
        {"id": "none", "spec": "s", "tests": _SUM_TESTS},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    checks = check_references(load_dataset(f"jsonl:{path}"), sandbox)
    assert [c.passed for c in checks] == [True, False, False, None]
    assert checks[0].reason is None and checks[0].verdict is not None
    assert checks[0].verdict.isolation == sandbox.isolation_description
    assert checks[1].reason and "-1" in checks[1].reason and "3" in checks[1].reason
    assert checks[2].reason and "ZeroDivisionError" in checks[2].reason


_SUM_TESTS = {
    "style": "stdio",
    "cases": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10\n"}],
}


# Mutation operators for the shipped references: each yields the variants of one node.
def _mutants(source: str) -> list[str]:
    import ast
    import copy

    swaps: dict[type, type] = {
        ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
        ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Add: ast.Sub, ast.Sub: ast.Add,
        ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
    }  # fmt: skip
    tree = ast.parse(source)
    out: list[str] = []
    for index, node in enumerate(ast.walk(tree)):
        variants: list[Any] = []
        if isinstance(node, ast.Compare):
            variants = [
                ("ops", k, swaps[type(op)]()) for k, op in enumerate(node.ops) if type(op) in swaps
            ]
        elif isinstance(node, ast.BinOp) and type(node.op) in swaps:
            variants = [("op", None, swaps[type(node.op)]())]
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            variants = [("value", None, node.value + 1), ("value", None, node.value - 1)]
        elif isinstance(node, ast.Return) and node.value is not None:
            variants = [("value", None, ast.Constant(0))]
        for attr, k, new in variants:
            mutant = copy.deepcopy(tree)
            target = list(ast.walk(mutant))[index]
            if k is None:
                setattr(target, attr, new)
            else:
                getattr(target, attr)[k] = new
            out.append(ast.unparse(mutant))
    return out


@pytest.mark.slow
def test_shipped_tests_catch_simple_bugs(sandbox: Any) -> None:
    """Flipped comparisons, off-by-one constants, swapped operators and wrong returns
    in the shipped references fail their tests (apart from a few equivalent mutants)."""
    from repair_tui.sandbox.result import Limits

    limits = Limits(timeout=1.0)
    killed = total = 0
    for task in load_dataset("apps-sample"):
        mutants = _mutants(task.references[0])
        verdicts = sandbox.run_many([(m, task.tests) for m in mutants], limits=limits)
        dead = sum(not v.passed for v in verdicts)
        # The survivors, when this was written, were all equivalent mutants (e.g. an
        # array allocated one element longer); a task's tests must kill all the rest.
        assert len(mutants) - dead <= max(2, 0.2 * len(mutants)), task.id
        killed, total = killed + dead, total + len(mutants)
    assert total > 300 and killed >= 0.9 * total
