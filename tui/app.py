"""The repair-tui Textual app: one Store, the screen stack, live polling and engines.

``RepairApp`` opens ONE ``Store`` at mount (``app.store``) and closes it at unmount.
Every ~0.5 s it polls ``store.data_version()`` (a cheap PRAGMA) and, when anyone
committed, posts ``DataChanged`` to the active screen (and to those seen behind a
modal), which re-reads only what it shows; screens below catch up when resumed. ``engine_for(run_id)`` hands screens a cached ``core.engine.steps.Engine`` per run.
A database with no runs gets the bundled sample runs (``load_sample_runs``).
Once the first screen is drawn, the next screens' modules are imported and their widgets'
styles parsed, and the objects alive then (modules, classes, the app) are frozen out of the garbage collector's full passes and its young generation is collected
less often; both are undone when the app ends.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from repair_tui.tui.messages import ActionStarted, DataChanged, EngineReported, SamplesLoading
from repair_tui.tui.untrusted import visible
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen

if TYPE_CHECKING:
    from repair_tui.core.engine.steps import Engine
    from repair_tui.core.estimate.costs import PriceTable
    from repair_tui.core.store.store import Store

SAMPLE_SUFFIX = ".jsonl.gz"
GC_YOUNG_THRESHOLD = 5000  # allocations between collections of the youngest generation
# Modules of the screens a session opens after the Runs screen, and of the widgets they
# show, imported and their styles parsed right after start (``RepairApp._warm_up``).
PRELOADED_MODULES = ("repair_tui.tui.screens.run", "repair_tui.tui.screens.task",
                     "repair_tui.tui.widgets.detail", "repair_tui.tui.widgets.diff",
                     "textual.widgets._footer", "textual.widgets._markdown")


def bundled_samples() -> Traversable:
    """The folder of sample runs shipped in the ``repair_tui.sample_runs`` package."""
    return files("repair_tui.sample_runs")


def sample_name(path: Path) -> str:
    """The run name a sample file asks for: its header's run name, else the file stem."""
    from repair_tui.core.errors import UserError
    from repair_tui.core.formats.lines import json_lines

    stem = path.name[: -len(SAMPLE_SUFFIX)] if path.name.endswith(SAMPLE_SUFFIX) else path.stem
    try:
        for _, first in json_lines(path):
            run = first.get("run")
            name = run.get("name") if isinstance(run, dict) else None
            return name if isinstance(name, str) and name.strip() == name and name else stem
    except UserError:
        pass  # import_run reports the problem with its line number
    return stem


def load_sample_runs(store: Store, folder: Traversable | Path,
                     progress: Callable[[int, int, str], object] | None = None) -> list[str]:
    """Import every ``*.jsonl.gz`` in ``folder`` into ``store``; returns the names loaded.

    Files are read in name order, never written. A name already in the database is
    skipped, so loading twice adds nothing. ``progress(done, total, name)`` hears of
    each file before it is read (and once more at the end, with an empty name).
    """
    from repair_tui.core.formats.files import import_run

    loaded: list[str] = []
    entries = sorted(
        (e for e in _entries(folder) if e.name.endswith(SAMPLE_SUFFIX) and e.is_file()),
        key=lambda e: e.name,
    )
    for done, entry in enumerate(entries):
        # A package folder may live in a zip: as_file gives a real path for the importer.
        with as_file(entry) as path:
            name = sample_name(Path(path))
            if progress is not None:
                progress(done, len(entries), name)
            if store.find_run(name) is None:
                import_run(store, path, name)
                loaded.append(name)
    if progress is not None:
        progress(len(entries), len(entries), "")
    return loaded


def _entries(folder: Traversable | Path) -> Iterator[Traversable]:
    try:
        yield from folder.iterdir()
    except (FileNotFoundError, NotADirectoryError):
        return


class RepairApp(App[None]):
    """Browse runs and repair trees; act on them through the engine."""

    # The screens' own files too (they keep their CSS_PATH for use on their own): read
    # once at start, so opening a screen re-parses no stylesheet.
    CSS_PATH = ["app.tcss", "screens/run.tcss", "screens/task.tcss", "screens/annotate.tcss",
                "screens/compare.tcss"]
    TITLE = "repair-tui"
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="app.help",
                tooltip="List the keys of this screen"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave repair-tui"),
        Binding("l", "action_log", "Log", id="app.action_log", show=False,
                tooltip="What was done and what it gave since the app started"),
    ]

    def __init__(
        self,
        store_path: str | Path,
        *,
        api_key: str | None = None,
        sandbox_factory: Callable[[], Any] | None = None,
        samples: Traversable | Path | None = None,
        load_samples: bool = True,
        poll_interval: float = 0.5,
        prices: PriceTable | None = None,
    ) -> None:
        """``samples``: folder of sample runs for an empty database (default: bundled).
        ``prices``: dollars per model for the screens' costs (default: the bundled table)."""
        from repair_tui.core.formats.prices import load_prices

        super().__init__()
        self.prices = prices if prices is not None else load_prices(None)
        self.store_path = store_path
        self.api_key = api_key
        self.sandbox_factory = sandbox_factory
        self.samples = samples
        self.load_samples = load_samples
        self.poll_interval = poll_interval
        self._engines: dict[int, Engine] = {}
        self._sandboxes: list[Any] = []  # made by sandbox_factory: ours to close
        self._version = -1
        # The collector's thresholds before the app changed them (and froze the
        # objects alive at start); None before that and after unmount.
        self._gc_thresholds: tuple[int, int, int] | None = None
        self.loaded_samples: list[str] = []
        # (files done, files in all, file being read) while sample runs import; else None
        self.sample_progress: tuple[int, int, str] | None = None
        self.action_log: list[LogEntry] = []  # every notice and action, oldest first

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification, from any screen: server and sandbox messages can carry
        terminal control sequences, so they are made visible first; and run names, task
        ids and error messages can hold brackets, so no notification is read as markup
        (``markup`` is accepted because a screen's ``notify`` passes True by default, and
        ignored). Each one is kept in the action log (``l``): a toast is gone after a few
        seconds."""
        message, title = visible(message), visible(title)
        self.record(f"{title}: {message}" if title else message, severity)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def record(self, text: str, severity: str = "information") -> None:
        """Add a line to the action log (shown by ``l``)."""
        self.action_log.append(LogEntry(time.strftime("%H:%M:%S"), severity,
                                        visible(text, keep_newlines=False)))

    @on(ActionStarted)
    def action_started(self, message: ActionStarted) -> None:
        self.record(f"started: {message.label}", "started")

    # --- life cycle ------------------------------------------------------------

    def on_mount(self) -> None:
        from repair_tui.core.store.store import Store
        from repair_tui.tui.screens.runs import RunsScreen

        self.store = Store.open(self.store_path)
        self._version = self.store.data_version()
        self.push_screen(RunsScreen())
        if self.load_samples and not self.store.run_names():
            self._start_sample_load()
        self.set_interval(self.poll_interval, self.poll_data, name="poll-data")
        self.call_after_refresh(self._warm_up)

    def _warm_up(self) -> None:
        """Once the first screen is drawn: what opening the next screens would do first."""
        self._preload_styles()
        self._freeze_long_lived()

    def _preload_styles(self) -> None:
        # Each widget class new to the app adds its default CSS, and the next styling
        # parses the whole stylesheet again: three parses on opening a Task screen.
        # Import the screens a session opens next and parse their widgets' CSS once.
        from textual.dom import DOMNode
        from textual.widget import Widget

        for name in PRELOADED_MODULES:
            widgets = [v for v in vars(importlib.import_module(name)).values()
                       if isinstance(v, type) and issubclass(v, Widget)]
            for widget in widgets:
                try:  # DOMNode._get_default_css reads only the class's CSS bases
                    bases = SimpleNamespace(_node_bases=widget._css_bases(widget))
                    sources = DOMNode._get_default_css(bases)  # type: ignore[arg-type]
                except (AttributeError, TypeError):  # another Textual: only slower
                    return
                for source, css, tie_breaker, scope in sources:
                    self.stylesheet.add_source(css, read_from=source, is_default_css=True,
                                               tie_breaker=tie_breaker, scope=scope)
        _ = self.stylesheet.rules  # parsed here, once

    def _freeze_long_lived(self) -> None:
        # A full collection walks every tracked object, some 200,000 once Textual, rich
        # and numpy are imported, and one fell inside every few screen openings (a
        # third of a big task tree's opening time on average). What is alive now lives
        # as long as the app: keep it out of those passes (on_unmount thaws it).
        # Drawing a screen makes short-lived objects by the ten thousand: with the
        # default first threshold (700) the young generations were collected some 35
        # times per opening, for little garbage.
        self._gc_thresholds = gc.get_threshold()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *self._gc_thresholds[1:])
        gc.freeze()

    async def on_unmount(self) -> None:
        if self._gc_thresholds is not None:  # another app in this process may follow
            gc.set_threshold(*self._gc_thresholds)
            self._gc_thresholds = None
            gc.unfreeze()
        engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            with contextlib.suppress(Exception):  # one failing must not keep others open
                await engine.aclose()
        sandboxes, self._sandboxes = self._sandboxes, []
        for sandbox in sandboxes:
            close = getattr(sandbox, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
        store = getattr(self, "store", None)
        if store is not None:
            store.close()

    # --- live updates ----------------------------------------------------------

    def poll_data(self) -> bool:
        """Post ``DataChanged`` to the active screen if the database changed; True if so."""
        version = self.store.data_version()
        if version == self._version:
            return False
        self._version = version
        for screen in self.visible_screens():
            screen.post_message(DataChanged())
        return True

    def visible_screens(self) -> list[Screen[Any]]:
        """The active screen and, under modals, the screens still seen behind them."""
        shown: list[Screen[Any]] = []
        for screen in reversed(self.screen_stack):
            shown.append(screen)
            if not isinstance(screen, ModalScreen):
                break
        return shown

    # --- sample runs -----------------------------------------------------------

    def _start_sample_load(self) -> None:
        from repair_tui.core.store.connection import resolve_db_path

        folder = self.samples if self.samples is not None else bundled_samples()
        self._sample_progress(0, 0, "")  # the Runs screen says so from its first paint
        if isinstance(resolve_db_path(self.store_path), Path):
            self._load_samples_in_thread(folder)
        else:  # an in-memory database is private to this connection
            self._samples_loaded(load_sample_runs(self.store, folder))

    @work(thread=True, exclusive=True, group="samples", exit_on_error=False)
    def _load_samples_in_thread(self, folder: Traversable | Path) -> None:
        """Import the samples on a connection of this thread, so the screen stays live."""
        from repair_tui.core.errors import UserError
        from repair_tui.core.store.store import Store

        try:
            with Store.open(self.store_path) as store:
                names = load_sample_runs(
                    store, folder, lambda *step: self.call_from_thread(
                        self._sample_progress, *step))
        except UserError as exc:
            self.call_from_thread(self._sample_progress, None)
            self.call_from_thread(self.notify, f"Sample runs not loaded: {exc}",
                                  severity="error")
            return
        self.call_from_thread(self._samples_loaded, names)

    def _sample_progress(self, done: int | None, total: int = 0, name: str = "") -> None:
        """Tell the screens how far the sample import is (None: it stopped)."""
        self.sample_progress = None if done is None else (done, total, name)
        for screen in self.screen_stack:
            screen.post_message(SamplesLoading(self.sample_progress))

    def _samples_loaded(self, names: list[str]) -> None:
        self._sample_progress(None)
        self.loaded_samples = names
        if names:
            self.notify(f"Loaded {len(names)} sample run(s) into the empty database: "
                        + ", ".join(names), title="Sample runs")
        self.poll_data()

    # --- engines ---------------------------------------------------------------

    def engine_for(self, run_id: int) -> Engine:
        """The engine of a run, opened on first use and closed when the app ends."""
        engine = self._engines.get(run_id)
        if engine is None:
            from repair_tui.core.engine.steps import open_engine

            sandbox = None  # None: the engine uses the process's shared sandbox
            if self.sandbox_factory is not None:
                sandbox = self.sandbox_factory()
                self._sandboxes.append(sandbox)
            engine = open_engine(self.store, run_id, sink=self._engine_event,
                                 api_key=self.api_key, sandbox=sandbox)
            self._engines[run_id] = engine
        return engine

    def _engine_event(self, event: object) -> None:
        # The engine runs in async workers on this loop, so posting is safe here. Every
        # screen hears it: the one that started an action may be under a modal.
        for screen in self.screen_stack:
            screen.post_message(EngineReported(event))

    # --- screens and actions ---------------------------------------------------

    def open_screen(self, module: str, name: str, *args: Any) -> bool:
        """Push ``repair_tui.tui.screens.<module>.<name>(*args)``; notify if not built yet."""
        try:
            mod = importlib.import_module(f"repair_tui.tui.screens.{module}")
            factory = getattr(mod, name)
        except (ModuleNotFoundError, AttributeError):
            self.notify(f"{name} is not available in this version", severity="warning")
            return False
        self.push_screen(factory(*args))
        return True

    def action_help(self) -> None:
        """Show the keys of the active screen."""
        from repair_tui.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(list(key_help(self.screen))))

    def action_action_log(self) -> None:
        """Show every action and notice since the app started."""
        from repair_tui.tui.screens.action_log import ActionLogScreen

        if isinstance(self.screen, ActionLogScreen):
            return
        self.push_screen(ActionLogScreen(self.action_log))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette offers every action that applies now (on the Task screen: to the
        selected node's kind), then Textual's own. The palette matches titles only, so a
        title holds the tooltip too: "repair" finds "Rerun branch" on a program."""
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            title = binding.description
            if binding.tooltip:
                title = f"{title}: {binding.tooltip[0].lower()}{binding.tooltip[1:]}"
            yield SystemCommand(title, f"key: {self.get_key_display(binding) or key}",
                                partial(self.run_action, binding.action, active.node))
        yield from super().get_system_commands(screen)


@dataclass(frozen=True)
class LogEntry:
    """One line of the action log: when, how it went (a severity or "started"), what."""

    time: str
    severity: str
    text: str


def key_help(screen: Screen[Any]) -> Iterator[tuple[str, str, str]]:
    """(keys, description, tooltip) for every binding active on ``screen``, one per action:
    the app's own keys first (they carry an id; the screen's, then the app-wide ones),
    then the widgets' generic ones (cursor keys, scrolling, focus) that Textual adds."""
    app = screen.app
    by_action: dict[tuple[int, str], list[str]] = {}
    info: dict[tuple[int, str], tuple[str, str]] = {}
    ours: set[tuple[int, str]] = set()
    for _key, active in screen.active_bindings.items():
        binding = active.binding
        ident = (id(active.node), binding.action)
        by_action.setdefault(ident, []).append(app.get_key_display(binding))
        if binding.id is not None:  # ours: its words win over Textual's for the same action
            ours.add(ident)
            info[ident] = (binding.description, binding.tooltip)
        info.setdefault(ident, (binding.description, binding.tooltip))
    # The screen's keys, then the app's, then our widgets' (j/k), then Textual's generic.
    rank = {id(screen): 0, id(app): 1}
    order = sorted(by_action, key=lambda i: (rank.get(i[0], 2) if i in ours else 3))
    for ident in order:
        description, tooltip = info[ident]
        if description:
            yield " / ".join(dict.fromkeys(by_action[ident])), description, tooltip
