"""The Run screen's pure parts: chart drawing, heat colours, filters and policy axes."""

from __future__ import annotations

from repair_tui.core.estimate.exact import FrozenTask, Sample
from repair_tui.core.estimate.grid import grid
from repair_tui.core.store.records import RunConfig
from repair_tui.core.store.views import OriginStats, TaskRow
from repair_tui.tui.screens.run import estimate_grid, policy_axes
from repair_tui.tui.widgets.chart import draw_chart, tokens_label
from repair_tui.tui.widgets.heatmap import heat_style, heat_table
from repair_tui.tui.widgets.tallies import origin_table
from repair_tui.tui.widgets.task_table import filter_rows, status_text


def frozen(n_tasks: int = 4, programs: int = 5) -> list[FrozenTask]:
    tasks = []
    for t in range(n_tasks):
        samples = tuple(
            Sample(100.0 + p, passed=(p + t) % 3 == 0,
                   repairs=() if (p + t) % 3 == 0 else (Sample(150.0, passed=p % 2 == 0),))
            for p in range(programs))
        tasks.append(FrozenTask(f"T{t}", samples, None))
    return tasks


def row(task_id: str, *, solved: bool = False, by_repair: bool = False,
        difficulty: str | None = None, title: str = "", attempted: bool = True,
        pending: int = 0) -> TaskRow:
    return TaskRow(task_id=task_id, position=0, difficulty=difficulty, title=title,
                   programs=3, programs_passed=int(solved and not by_repair), repairs=1,
                   repairs_passed=int(by_repair), pending=pending, feedback=1, tokens=10,
                   attempted=attempted, solved=solved, solved_by_repair=by_repair,
                   has_human_feedback=False)


def test_chart_fills_exactly_the_size_it_is_given() -> None:
    g = grid(frozen(), (1, 2, 5), (1,), bootstrap=0, levels=False)
    lines = draw_chart(g, 70, 16).plain.split("\n")
    assert len(lines) == 16 and max(len(line) for line in lines) <= 70
    assert "%┤" in lines[1]  # the top of the y axis, labelled
    assert lines[-1].rstrip().endswith("tokens")
    body = "\n".join(lines[1:-2])
    assert body.count("●") == 3  # one marker per np, nfr = 1
    assert any(0x2800 < ord(ch) <= 0x28FF for ch in body)  # the braille baseline


def test_chart_without_data_or_room_says_so() -> None:
    assert "No executed programs" in draw_chart(None, 80, 20).plain
    g = grid(frozen(), (1,), (1,), bootstrap=0, levels=False)
    assert "too small" in draw_chart(g, 10, 4).plain
    assert (tokens_label(950), tokens_label(12_500), tokens_label(3_200_000)) == ("950", "12.5k", "3.2M")


def test_heat_colours_run_from_red_through_yellow_to_green() -> None:
    def rgb(ratio: float) -> tuple[int, ...]:
        inner = heat_style(ratio).split("rgb(")[1].rstrip(")")
        return tuple(int(v) for v in inner.split(","))

    red, yellow, green = rgb(0.5), rgb(1.0), rgb(1.5)
    assert red[0] > red[1] and green[1] > green[0] and yellow == (230, 220, 110)
    assert heat_style(None) == "dim"
    g = grid(frozen(), (1, 2), (1,), bootstrap=0, levels=False)
    text = heat_table(g).plain
    assert text.splitlines()[0].startswith("np\\nfr") and len(text.splitlines()) == 3
    assert heat_table(None).plain == "No estimate yet."


def test_filters_combine_status_difficulty_and_search() -> None:
    rows = [row("A", solved=True, difficulty="interview", title="Sort it"),
            row("B", solved=True, by_repair=True, difficulty="competition"),
            row("C", difficulty="interview", title="Count"),
            row("D", attempted=False)]
    ids = lambda rs: [r.task_id for r in rs]  # noqa: E731
    assert ids(filter_rows(rows, "solved")) == ["A", "B"]
    assert ids(filter_rows(rows, "unsolved")) == ["C", "D"]
    assert ids(filter_rows(rows, "repair")) == ["B"]
    assert ids(filter_rows(rows, "all", "interview")) == ["A", "C"]
    assert ids(filter_rows(rows, "unsolved", "interview")) == ["C"]
    assert ids(filter_rows(rows, query="sort")) == ["A"]
    assert ids(filter_rows(rows, query="walrus", specs={"D": "A walrus problem"})) == ["D"]
    assert ids(filter_rows(rows, query="  ")) == ["A", "B", "C", "D"]
    assert status_text(row("P", attempted=False, pending=1)).plain == "… pending"
    assert status_text(row("Q", attempted=False)).plain == "– not started"


def test_policy_axes_follow_the_run() -> None:
    config = RunConfig(dataset="humaneval", model="sim", np=10, nfr=3)
    assert policy_axes(frozen(programs=10), config) == ([1, 2, 5, 10], [1, 3])
    assert policy_axes(frozen(programs=4), RunConfig(dataset="x", model="sim", nfr=0)) == (
        [1, 2, 4], [1])
    g = estimate_grid(frozen(programs=10), config, "dfs")
    assert g is not None and g.mode == "dfs" and g.nfrs == (1, 3)
    assert estimate_grid([], config, "batch") is None


def test_origin_table_puts_origins_side_by_side() -> None:
    text = origin_table({"model": OriginStats("model", 10, 10, 8, 2)},
                        {"human": OriginStats("human", 2, 4, 4, 3),
                         "model": OriginStats("model", 0, 2, 2, 1)}).plain
    groups, head, *lines = text.splitlines()
    assert groups.split() == ["sample", "explorations"]
    assert groups.index("explorations") > head.index("model")  # over the later columns
    assert head.split() == ["origin", "model", "model", "human"]
    assert lines[-1].split() == ["pass", "rate", "25.0%", "50.0%", "75.0%"]
    assert origin_table({}).plain == "No feedback yet."


def test_tallies_show_explorations_and_flaky_apart() -> None:
    from repair_tui.core.store.records import Run
    from repair_tui.core.store.views import RunTotals
    from repair_tui.tui.widgets.tallies import tallies_text

    run = Run(1, "demo", "", "humaneval", RunConfig(dataset="humaneval", model="sim"),
              "running", "rlimits", True)
    sample = RunTotals(tasks=5, attempted=3, solved=2, solved_by_repair=1, programs=15,
                       programs_passed=4, repairs=6, repairs_passed=2, pending=0,
                       in_progress=2, flaky=1)
    explored = RunTotals(tasks=5, attempted=0, solved=0, solved_by_repair=0, programs=0,
                         programs_passed=0, repairs=4, repairs_passed=3, pending=0,
                         feedback_by_origin={"human": 2}, tokens=300)
    head, body, more = tallies_text(run, sample, explored).plain.splitlines()
    assert "solved 2/3 of 5 tasks" in body and "in progress 2" in body
    assert "repairs 2/6 pass" in body  # the sample only
    assert more.startswith("explorations feedback 2  repairs 3/4 pass  tokens 300")
    assert "flaky: 1 program" in more
    quiet = RunTotals(tasks=5, attempted=3, solved=2, solved_by_repair=1, programs=15,
                      programs_passed=4, repairs=6, repairs_passed=2, pending=0)
    assert len(tallies_text(run, quiet, RunTotals(5, 0, 0, 0, 0, 0, 0, 0, 0)).plain.splitlines()) == 2


def test_tree_labels_mark_explorations_and_flaky_programs() -> None:
    from repair_tui.core.store.records import Node
    from repair_tui.tui.widgets.tree import node_label, tree_tallies

    def node(key: str, kind: str, parent: int | None, passed: bool | None, x: int | None) -> Node:
        return Node(id=len(key), run_id=1, task_id="T", parent_id=parent, key=key, kind=kind,
                    origin="human" if kind == "feedback" and x else "model", model="sim",
                    text="t", code="x", tokens=3, passed=passed, fault=None, error_message=None,
                    isolation=None, depth=0 if parent is None else 1, sample_index=0,
                    call_id=None, created_utc="", exploration_id=x)

    p0 = node("T|p0", "program", None, False, None)
    h = node("T|p0|x1h0", "feedback", 1, None, 1)
    r = node("T|p0|x1h0|x2r0", "program", 2, True, 2)
    assert "explored" not in node_label(p0).plain
    assert node_label(p0, flaky=True).plain.endswith("· flaky")
    assert "3 tok ◇ explored" in node_label(h).plain  # (the app adds a preview after)
    assert node_label(r).plain.endswith("◇ explored")
    assert tree_tallies([p0, h, r]) == ("sample 0/1 programs, 0/0 repairs pass · "
                                        "explored 1/1 repairs pass")


def test_y_ticks_are_round_and_never_adjacent() -> None:
    from repair_tui.tui.widgets.chart import y_ticks

    ticks = y_ticks(1.0, 14)
    assert sorted(round(v, 2) for v in ticks.values()) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    rows = sorted(ticks)
    assert all(b - a >= 2 for a, b in zip(rows, rows[1:], strict=False))
    assert len(y_ticks(1.0, 14)) > 3  # more than top, middle and bottom
    assert set(y_ticks(0.6, 3).values()) == {0.0, 0.6}


def test_task_rows_sort_by_any_column_and_hide_empty_difficulty() -> None:
    from repair_tui.core.store.views import TaskRow
    from repair_tui.tui.widgets.task_table import COLUMNS, SORT_KEYS, shown_columns, sort_rows

    def row(i: int, tokens: int, difficulty: str | None = None) -> TaskRow:
        return TaskRow(task_id=f"t{i}", position=i, difficulty=difficulty, title=f"T{i}",
                       programs=1, programs_passed=i % 2, repairs=0, repairs_passed=0,
                       pending=0, feedback=0, tokens=tokens, attempted=True,
                       solved=bool(i % 2), solved_by_repair=False, has_human_feedback=False)

    rows = [row(0, 30), row(1, 10), row(2, 20)]
    assert set(SORT_KEYS) == {k for k, _, _ in COLUMNS}
    assert [r.task_id for r in sort_rows(rows, "tokens")] == ["t1", "t2", "t0"]
    assert [r.task_id for r in sort_rows(rows, "tokens", reverse=True)] == ["t0", "t2", "t1"]
    assert [r.task_id for r in sort_rows(rows, "status")][0] == "t1"  # solved first
    assert "difficulty" not in shown_columns(rows)  # HumanEval: no difficulty at all
    assert "difficulty" in shown_columns([*rows, row(3, 5, "interview")])
