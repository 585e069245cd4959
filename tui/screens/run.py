"""The Run screen: live tallies, the pass@t chart and heat map, repair success by
feedback origin, and the filtered, searchable task table.

Live: on ``DataChanged`` the screen asks ``store.changes_since(run, mark)`` whether
this run moved; only then does it re-read the counts (aggregates, no node texts)
and asks for a new estimate. The estimator runs in a thread on its own connection
(the app's Store belongs to the app's thread), so it never blocks input; one thread at
a time, since a superseded one cannot be stopped and would keep taking the GIL from
the UI. Requests made while it runs wait as one pending request, started when it ends.

Search: nodes are indexed for full-text search when someone searches (the store marks
new nodes pending). A large unindexed run would make the first keystroke wait, so a
thread with its own connection indexes what is pending when the screen opens and when
the search box gets focus; meanwhile the table's filter searches what is indexed, and
refilters when the thread ends. Later keystrokes index the few nodes a run wrote since.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from repair_tui.tui.messages import DataChanged
from repair_tui.tui.untrusted import PlainNotifications, visible
from repair_tui.tui.widgets.chart import PassChart
from repair_tui.tui.widgets.footer import QuietFooter
from repair_tui.tui.widgets.heatmap import HeatMap
from repair_tui.tui.widgets.tallies import OriginTable, Tallies
from repair_tui.tui.widgets.task_table import STATUS_FILTERS, TaskTable, filter_rows
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Select

if TYPE_CHECKING:
    from repair_tui.core.estimate.costs import CostSummary, PriceTable
    from repair_tui.core.estimate.exact import FrozenTask
    from repair_tui.core.estimate.grid import Grid
    from repair_tui.core.store.records import Run, RunConfig
    from repair_tui.core.store.search import SearchHit
    from repair_tui.core.store.store import Store
    from repair_tui.core.store.views import RunTotals, TaskRow
    from repair_tui.tui.app import RepairApp

ANY = "*"  # the difficulty Select's "any difficulty" value
SEARCH_HITS = 200  # at most this many matches in the list that enter opens
MIN_FULL_TEXT = 3  # letters typed before the table's filter also reads feedback and code
ESTIMATOR_MODES = ("batch", "dfs", "bfs")


def policy_axes(tasks: list[FrozenTask], config: RunConfig) -> tuple[list[int], list[int]]:
    """The (np, nfr) values to estimate: the paper's grid, cut to what the run sampled."""
    from repair_tui.core.estimate.grid import DEFAULT_NFR, DEFAULT_NP

    most = max((len(t.programs) for t in tasks), default=1) or 1
    nps = sorted({n for n in DEFAULT_NP if n <= most} | {most})
    nfr = max(config.nfr, 1)
    nfrs = sorted({f for f in DEFAULT_NFR if f <= nfr} | {nfr})
    return nps, nfrs


def sample_reads(store: Store, run_id: int, prices: PriceTable) -> tuple[list[FrozenTask], CostSummary]:
    """What the estimator worker reads: the run's sample as trees, and its costs."""
    from repair_tui.core.estimate.costs import summarise

    return store.frozen_tasks(run_id), summarise(store.token_parts(run_id), prices)


def estimate_grid(tasks: list[FrozenTask], config: RunConfig, mode: str) -> Grid | None:
    """Point estimates for the chart and heat map (no bootstrap: it must be quick)."""
    from repair_tui.core.estimate.exact import pack
    from repair_tui.core.estimate.grid import grid

    if not tasks:
        return None
    nps, nfrs = policy_axes(tasks, config)
    return grid(pack(tasks), nps, nfrs, mode=mode, bootstrap=0, levels=False)


class RunScreen(PlainNotifications, Screen[None]):
    """One run: tallies, pass@t, origins and tasks, all following the database."""

    CSS_PATH = "run.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", id="run.back", tooltip="Back to the runs"),
        Binding("a", "annotate", "Annotate", id="run.annotate",
                tooltip="Write your own feedback for failing programs, one after another "
                        "(of the tasks the filters show)"),
        Binding("f", "cycle_filter", "Filter", id="run.filter",
                tooltip="All, solved, unsolved, solved only by repair"),
        Binding("d", "cycle_difficulty", "Difficulty", id="run.difficulty",
                tooltip="Show one difficulty at a time"),
        Binding("slash", "search", "Search", id="run.search",
                tooltip="Search tasks by id, spec, feedback or code; enter lists the matches"),
        Binding("m", "cycle_mode", "Estimator mode", id="run.mode",
                tooltip="pass@t in batch, dfs or bfs mode"),
        Binding("s", "cycle_sort", "Sort", id="run.sort",
                tooltip="Sort the tasks by the next column (a click on a header sorts by it; "
                        "again: reversed)"),
        Binding("g", "toggle_chart", "Chart", id="run.toggle_chart",
                tooltip="Hide or show the chart, heat map and origins (room for the tasks)"),
    ]

    class Estimated(Message):
        """The estimator worker finished in ``mode`` (grid None: nothing executed yet, or
        the error), with the sample's costs (None when they could not be read)."""

        def __init__(self, grid: Grid | None, error: str | None = None,
                     cost: CostSummary | None = None, *, mode: str) -> None:
            super().__init__()
            self.grid, self.error, self.cost, self.mode = grid, error, cost, mode

    class Indexed(Message):
        """The indexing thread ended: ``count`` nodes indexed, or the error that stopped it."""

        def __init__(self, count: int, error: str | None = None) -> None:
            super().__init__()
            self.count, self.error = count, error

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: Run | None = None
        self.mark = 0
        self.rows: list[TaskRow] = []
        self.status_filter = "all"
        self.difficulty: str | None = None
        self.query_text = ""
        self.mode = "batch"
        self.grid: Grid | None = None
        self.cost: CostSummary | None = None  # the sample's tokens and dollars, from the worker
        self._totals: tuple[RunTotals, RunTotals] | None = None
        self.difficulties: list[str] = []  # the ones present, in the Select's order
        self._specs: dict[str, str] | None = None
        self._estimating = False  # an estimator thread is running
        self._estimate_pending = False  # and another estimate was asked for meanwhile
        self._indexing = False  # a thread is indexing pending nodes for search
        self._index_failed = False  # it could not (read-only database): searches don't try
        self._index_note: str | None = None  # why, told once when the user searches

    @property
    def repair_app(self) -> RepairApp:
        return self.app  # type: ignore[return-value,unused-ignore]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Tallies(id="run-tallies")
        with Horizontal(id="run-middle"):
            yield PassChart(id="run-chart")
            with VerticalScroll(id="run-side"):
                yield HeatMap(id="run-heatmap")
                yield OriginTable(id="run-origins")
        with Horizontal(id="run-filters"):
            yield Input(placeholder="/ search tasks, feedback and code (enter: the matches)",
                        id="run-search", compact=True)
            yield Select([(label, value) for value, label in STATUS_FILTERS.items()],
                         value="all", allow_blank=False, id="run-status", compact=True)
            yield Select([("any difficulty", ANY)], value=ANY, allow_blank=False,
                         id="run-difficulty", compact=True)
        yield TaskTable(id="run-tasks")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.query_one("#run-chart").border_title = "pass@t: pass rate vs tokens"
        self.query_one("#run-heatmap").border_title = "repair / baseline at equal tokens"
        self.query_one("#run-origins").border_title = "repairs by feedback origin"
        from repair_tui.core.errors import UserError

        store = self.repair_app.store
        self.mark = store.mark()  # before reading, so nothing written meanwhile is missed
        try:
            self.run = store.get_run_by_id(self.run_id)
        except UserError as exc:  # deleted by another process since the list was read
            self.notify(str(exc), severity="error")
            self.call_after_refresh(self._leave)
            return
        self.sub_title = f"Run {visible(self.run.name, keep_newlines=False)}"
        self.refresh_counts()
        self.query_one(TaskTable).focus()
        # Paint the counts and tasks first; the chart follows from the worker.
        self.call_after_refresh(self.start_estimate)
        self.call_after_refresh(self.warm_up)
        self.call_after_refresh(self.start_indexing)

    @work(thread=True, group="warm-up", exit_on_error=False)
    def warm_up(self) -> None:
        """Load what opening a task needs (its modules, the Python highlighter) while
        the user looks at this screen, so the first tree opens as fast as the next."""
        import repair_tui.tui.screens.annotate  # noqa: F401
        import repair_tui.tui.screens.task  # noqa: F401
        from pygments.lexers import get_lexer_by_name

        get_lexer_by_name("python")

    def _leave(self) -> None:
        self.dismiss()  # not awaited: a screen may not wait on its own dismissal

    # --- live data -------------------------------------------------------------

    @on(DataChanged)
    def data_changed(self) -> None:
        # A poll just before Enter leaves its DataChanged here while the Task screen
        # opens on top: re-reading then (and starting an estimate) doubled that opening
        # while a run writes. Hidden, wait: on_screen_resume catches up.
        if self in self.repair_app.visible_screens():
            self.follow_changes()

    def follow_changes(self) -> None:
        """Re-read what this run shows if any of its nodes (or its status) changed."""
        store = self.repair_app.store
        nodes, self.mark = store.changes_since(self.run_id, self.mark)
        run = store.find_run(self.run.name) if self.run is not None else None
        if run is None or run.id != self.run_id:
            return  # deleted or renamed meanwhile: keep showing what was read
        if not nodes and run == self.run:
            return
        self.run = run
        self.refresh_counts()
        if nodes:
            self.start_estimate()

    def on_screen_resume(self) -> None:
        # DataChanged went to the screen on top meanwhile; catch up now.
        if self.run is not None:
            self.follow_changes()
            self._start_pending()

    def refresh_counts(self) -> None:
        """Tallies, origins and task rows from the store's aggregates."""
        store = self.repair_app.store
        assert self.run is not None
        self._totals = (store.run_totals(self.run_id),
                        store.run_totals(self.run_id, scope="explorations"))
        self._show_tallies()
        self.query_one(OriginTable).show(store.origin_stats(self.run_id),
                                         store.origin_stats(self.run_id, scope="explorations"))
        self.rows = store.task_rows(self.run_id)
        if self._specs is not None and len(self._specs) != len(self.rows):
            self._specs = None  # tasks were added: read the texts again when searching
        self._update_difficulties()
        self.apply_filters()

    def _show_tallies(self) -> None:
        if self.run is not None and self._totals is not None:
            self.query_one(Tallies).show(self.run, *self._totals, cost=self.cost)

    def _update_difficulties(self) -> None:
        select: Select[str] = self.query_one("#run-difficulty", Select)
        found = sorted({r.difficulty for r in self.rows if r.difficulty})
        if found != self.difficulties:
            self.difficulties = found
            select.set_options([("any difficulty", ANY), *((d, d) for d in found)])
            select.value = self.difficulty if self.difficulty in found and self.difficulty else ANY
        select.display = bool(found)

    def apply_filters(self) -> None:
        """Show the rows that pass the status filter, the difficulty and the search."""
        specs = self._task_specs() if self.query_text.strip() else None
        found = self._text_matches(self.query_text) if specs is not None else set()
        shown = filter_rows(self.rows, self.status_filter, self.difficulty, self.query_text, specs,
                            found)
        self.query_one(TaskTable).show(shown)
        table = self.query_one(TaskTable)
        table.border_title = f"tasks: {len(shown)} of {len(self.rows)} ({self.filter_label()})"

    def filter_label(self) -> str:
        """The filters in words: ``unsolved, interview, matching 'sort'``."""
        label: str = STATUS_FILTERS[self.status_filter]
        if self.difficulty:
            label += f", {self.difficulty}"
        if self.query_text.strip():
            label += f", matching {self.query_text.strip()!r}"
        return label

    def _text_matches(self, text: str) -> set[str]:
        """The tasks whose feedback or code holds ``text``'s words (full-text index)."""
        from repair_tui.core.errors import UserError
        from repair_tui.core.store.search import literal_query

        query = literal_query(text)
        if sum(c.isalnum() for c in text) < MIN_FULL_TEXT:
            return set()  # one or two letters as a prefix match nearly every node: slow, useless
        try:
            # While the thread indexes, search what is indexed; it refilters when done.
            found: set[str] = self.repair_app.store.matching_tasks(self.run_id, query,
                                                                   catch_up=self._catch_up)
        except UserError:
            return set()
        return found

    def _task_specs(self) -> dict[str, str]:
        if self._specs is None:
            self._specs = {t.id: t.spec for t in self.repair_app.store.get_tasks(self.run_id)}
        return self._specs

    # --- search index ----------------------------------------------------------

    def start_indexing(self) -> None:
        """Index the nodes waiting for search in a thread, if any wait (one probe)."""
        from repair_tui.core.store.connection import resolve_db_path

        path = resolve_db_path(self.repair_app.store_path)
        # An in-memory database has one connection: its searches index it themselves.
        if self._indexing or self._index_failed or not isinstance(path, Path):
            return
        if not self.repair_app.store.pending_index():
            return
        self._indexing = True
        self._catch_up_index(path)

    @work(thread=True, group="index", exit_on_error=False)
    def _catch_up_index(self, path: Path) -> None:
        from repair_tui.core.errors import UserError
        from repair_tui.core.store.store import Store

        done = self.Indexed(0)
        try:
            with Store.open(path) as store:
                done.count = store.catch_up_index()
        except UserError as exc:
            done.error = str(exc)
        except Exception as exc:  # any other failure is a notice too, never a silent stop
            done.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.post_message(done)  # exactly one, however it ends: it frees the next one

    @on(Indexed)
    def indexed(self, message: Indexed) -> None:
        self._indexing = False
        if message.error:
            self._index_failed = True
            self._index_note = ("search sees only the nodes indexed before: "
                                f"{visible(message.error, keep_newlines=False)}")
            if self.focused is self.query_one("#run-search", Input):
                self._tell_index_note()
        if message.count and self.query_text.strip():
            self.apply_filters()

    def _tell_index_note(self) -> None:
        if self._index_note:
            self.notify(self._index_note, severity="warning", markup=False)
            self._index_note = None

    @property
    def _catch_up(self) -> bool:
        """Whether a search on this thread indexes pending nodes first: not while the
        thread does, nor after it could not (each try would wait on a locked file)."""
        return not (self._indexing or self._index_failed)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget.id == "run-search":
            self._tell_index_note()
            self.start_indexing()  # what a running run wrote since the screen opened

    # --- estimator -------------------------------------------------------------

    def start_estimate(self) -> None:
        """Recompute pass@t in a thread, one at a time: asked while one runs, the
        estimate waits as a single pending request and starts, in the mode then
        selected and on the data then stored, when the running one ends."""
        self._estimate_pending = True
        self._start_pending()

    def _start_pending(self) -> None:
        from repair_tui.core.store.connection import resolve_db_path

        if self._estimating or not self._estimate_pending or self.run is None:
            return
        self._estimate_pending = False
        path = resolve_db_path(self.repair_app.store_path)
        prices = self.repair_app.prices
        # An in-memory database has one connection, so read the trees here.
        read = None if isinstance(path, Path) else sample_reads(self.repair_app.store, self.run_id, prices)
        self._estimating = True
        self._estimate(path, read, prices, self.run.config, self.mode)

    @work(thread=True, group="estimate", exit_on_error=False)
    def _estimate(self, path: Any, read: tuple[list[FrozenTask], CostSummary] | None,
                  prices: PriceTable, config: RunConfig, mode: str) -> None:
        from repair_tui.core.errors import UserError
        from repair_tui.core.store.store import Store

        done = self.Estimated(None, mode=mode)
        try:
            if read is None:
                with Store.open(path) as store:
                    read = sample_reads(store, self.run_id, prices)
            frozen, done.cost = read
            done.grid = estimate_grid(frozen, config, mode)
        except (UserError, ValueError) as exc:
            done.error = str(exc)
        except Exception as exc:  # any other failure is a notice too, never a silent stop
            done.error = f"{type(exc).__name__}: {exc}"
        finally:
            # Exactly one Estimated per thread, however it ends: it frees the next one.
            self.post_message(done)

    @on(Estimated)
    def show_estimate(self, message: Estimated) -> None:
        self._estimating = False
        if message.cost is not None:
            self.cost = message.cost
            self._show_tallies()
        if message.mode == self.mode:  # else a stale mode's: the pending request follows
            if message.error:
                self.notify(f"pass@t not estimated: {visible(message.error, keep_newlines=False)}",
                            severity="warning", markup=False)
            else:
                self.grid = message.grid
                self.query_one(PassChart).show(message.grid)
                self.query_one(HeatMap).show(message.grid)
        # Hidden under the Task screen, wait: starting now would slow the tree's opening.
        if self in self.repair_app.visible_screens():
            self._start_pending()

    # --- filters and actions ---------------------------------------------------

    @on(Input.Changed, "#run-search")
    def search_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.apply_filters()

    @on(Input.Submitted, "#run-search")
    def search_done(self, event: Input.Submitted) -> None:
        """Back to the table, and list the matches in specs, feedback and code."""
        self.query_one(TaskTable).focus()
        self.list_matches(event.value)

    def list_matches(self, text: str) -> None:
        """The search hits of ``text`` in a list; the chosen one opens its task with the
        node selected."""
        from repair_tui.core.errors import UserError
        from repair_tui.core.store.search import literal_query
        from repair_tui.tui.modals import SearchHitsModal

        query = literal_query(text)
        if not query:
            return
        store = self.repair_app.store
        try:
            hits = store.search(self.run_id, query, limit=SEARCH_HITS, catch_up=self._catch_up)
        except UserError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        if store.unindexed and not self._index_failed:
            self.notify(f"{store.unindexed} node{'s are' if store.unindexed != 1 else ' is'} still "
                        "being indexed: these are the matches so far", severity="warning", timeout=4)
        if not hits:
            self.notify(f"no match for {visible(text.strip(), keep_newlines=False)!r} in specs, "
                        "feedback or code", severity="warning", markup=False)
            return

        def chosen(hit: SearchHit | None) -> None:
            if hit is not None:
                self.repair_app.open_screen("task", "TaskScreen", self.run_id, hit.task_id,
                                            hit.node_id)

        self.app.push_screen(SearchHitsModal(text.strip(), hits, limit=SEARCH_HITS), chosen)

    @on(Select.Changed, "#run-status")
    def status_changed(self, event: Select.Changed) -> None:
        self.status_filter = str(event.value)
        self.apply_filters()

    @on(Select.Changed, "#run-difficulty")
    def difficulty_changed(self, event: Select.Changed) -> None:
        self.difficulty = None if event.value in (ANY, Select.NULL) else str(event.value)
        self.apply_filters()

    def action_cycle_filter(self) -> None:
        """Next status filter: all, solved, unsolved, solved only by repair."""
        order = list(STATUS_FILTERS)
        value = order[(order.index(self.status_filter) + 1) % len(order)]
        self.query_one("#run-status", Select).value = value

    def action_cycle_difficulty(self) -> None:
        """Next difficulty (any, then each one present in the run)."""
        select: Select[str] = self.query_one("#run-difficulty", Select)
        values = [ANY, *self.difficulties]
        current = self.difficulty or ANY
        select.value = values[(values.index(current) + 1) % len(values)]

    def action_search(self) -> None:
        """Focus the search box."""
        self.query_one("#run-search", Input).focus()

    def action_cycle_mode(self) -> None:
        """Estimate pass@t in the next mode: batch, dfs, bfs."""
        self.mode = ESTIMATOR_MODES[(ESTIMATOR_MODES.index(self.mode) + 1) % len(ESTIMATOR_MODES)]
        self.notify(f"pass@t estimated in {self.mode} mode", timeout=2)
        self.start_estimate()

    def action_back(self) -> None:
        """Leave the search box, or go back to the runs."""
        if isinstance(self.focused, Input):
            self.query_one(TaskTable).focus()
            return
        self.dismiss()

    def action_cycle_sort(self) -> None:
        """Sort the task table by its next column."""
        table = self.query_one(TaskTable)
        keys = table.keys
        column = keys[(keys.index(table.sort_column) + 1) % len(keys)] \
            if table.sort_column in keys else keys[0]
        table.sort_by(column, self._shown_rows())
        self.notify(f"tasks sorted by {column}", timeout=2)

    @on(TaskTable.SortAsked)
    def sort_tasks(self, message: TaskTable.SortAsked) -> None:
        self.query_one(TaskTable).sort_by(message.column, self._shown_rows())

    def _shown_rows(self) -> list[TaskRow]:
        return list(self.query_one(TaskTable).rows_shown.values())

    def action_toggle_chart(self) -> None:
        """Hide or show the chart panel, giving its rows to the task table."""
        middle = self.query_one("#run-middle")
        middle.display = not middle.display

    def action_annotate(self) -> None:
        """Open the annotation queue: the tasks the filters show, or the whole run."""
        filtered = self.status_filter != "all" or self.difficulty or self.query_text.strip()
        if not filtered:
            self.repair_app.open_screen("annotate", "AnnotationScreen", self.run_id)
            return
        shown = list(self.query_one(TaskTable).rows_shown)
        self.repair_app.open_screen("annotate", "AnnotationScreen", self.run_id, shown,
                                    f"{self.filter_label()}: {len(shown)} task(s)")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cycle_difficulty":
            return bool(self.difficulties) or None
        return True

    @on(DataTable.RowSelected, "#run-tasks")
    def open_task(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.repair_app.open_screen("task", "TaskScreen", self.run_id, str(event.row_key.value))
