"""The repair tree of one task as a Textual ``Tree``: spec -> programs -> feedback -> repairs.

``RepairTree`` is loaded once from ``Store.task_nodes`` and then updated one node at a
time (``upsert``), so live updates never rebuild it. Each label carries a pass/fail
mark, the node's tokens and a short fault; ``node_label`` builds it and is pure.
Navigation helpers (next failing program, next solved path) walk the tree in the
order it is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeAlias

from repair_tui.core.store.records import Node
from repair_tui.tui.untrusted import visible
from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

FAULT_WIDTH = 32  # characters of a fault shown in a label; the detail shows all of it
PREVIEW_WIDTH = 40  # characters of a feedback's text shown after its label
MODEL_WIDTH = 16  # characters of a repair's model name

TreeData: TypeAlias = Node | None  # None is the root, which stands for the task's spec


def short_key(node: Node) -> str:
    """The last segment of a node key: ``p3``, ``f1``, ``h0``, ``r0``."""
    return str(node.key).rsplit("|", 1)[-1]


def _clip(text: str, width: int) -> str:
    text = " ".join(visible(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def node_label(node: Node, *, flaky: bool = False) -> Text:
    """The tree label of a node, e.g. ``✗ program p3 · 31 tok · wrong_answer on test 2``;
    what an exploration made ends in ``◇ explored``, a program whose verdict changed
    between executions in ``flaky``."""
    label = Text()
    if node.kind == "feedback":
        who = node.origin if node.origin != "model" else (node.model or "model")
        label.append("» ", style="bold magenta")
        label.append(f"feedback {short_key(node)}", style="magenta")
        label.append(f" ({visible(who)})", style="dim")
        label.append(f" · {node.tokens} tok", style="dim")
        if node.exploration_id is not None:
            label.append(" ◇ explored", style="italic magenta")
        if (node.text or "").strip():
            label.append(f" · {_clip(node.text or '', PREVIEW_WIDTH)}", style="italic")
        return label
    if node.passed is None:
        label.append("… ", style="bold yellow")
    elif node.passed:
        label.append("✓ ", style="bold green")
    else:
        label.append("✗ ", style="bold red")
    label.append(f"{'repair' if node.parent_id is not None else 'program'} {short_key(node)}")
    if node.parent_id is not None and node.model:  # who repaired: the run's model or another
        label.append(f" ({_clip(node.model, MODEL_WIDTH)})", style="dim")
    label.append(f" · {node.tokens} tok", style="dim")
    if node.passed is None:
        label.append(" · not run", style="yellow")
    elif not node.passed and node.fault:
        label.append(f" · {_clip(node.fault, FAULT_WIDTH)}", style="red")
    if flaky:
        label.append(" · flaky", style="bold red reverse")
    if node.exploration_id is not None:
        label.append(" ◇ explored", style="italic magenta")
    return label


def tree_tallies(nodes: Iterable[Node]) -> str:
    """One task's counts, the sample's apart from the explorations':
    ``sample 2/3 programs, 1/4 repairs pass · explored 1/2 repairs pass``."""
    counts = {True: [0, 0, 0, 0], False: [0, 0, 0, 0]}  # by "explored": programs, ok, repairs, ok
    for n in nodes:
        if n.kind != "program":
            continue
        c = counts[n.exploration_id is not None]
        i = 2 if n.parent_id is not None else 0
        c[i] += 1
        c[i + 1] += bool(n.passed)
    s, x = counts[False], counts[True]
    text = f"sample {s[1]}/{s[0]} programs, {s[3]}/{s[2]} repairs pass"
    if x[2]:
        text += f" · explored {x[3]}/{x[2]} repairs pass"
    return text


def root_label(task_id: str, title: str) -> Text:
    """The root's label: the task id and the spec's title."""
    label = Text()
    label.append("spec ", style="bold")
    label.append(visible(task_id, keep_newlines=False), style="bold cyan")
    if title:
        label.append(f" · {_clip(title, FAULT_WIDTH)}", style="dim")
    return label


class RepairTree(Tree[TreeData]):
    """A task's repair tree; each tree node's data is the stored ``Node`` (root: None)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="tree.down",
                tooltip="Move the cursor down (as the down arrow)"),
        Binding("k", "cursor_up", "Up", show=False, id="tree.up",
                tooltip="Move the cursor up (as the up arrow)"),
    ]
    DEFAULT_CSS = """
    RepairTree {
        width: 1fr;
        height: 1fr;
    }
    """

    _batching = False  # True while load() adds many nodes

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(Text("spec"), None, id=id, classes=classes)
        self.guide_depth = 2
        self.auto_expand = False  # enter shows the detail; space folds a branch
        self._by_id: dict[int, TreeNode[TreeData]] = {}
        self._orphans: dict[int, list[Node]] = {}  # parent id -> children seen first
        self.flaky: set[int] = set()  # programs whose verdict changed between executions

    # --- loading and live updates -----------------------------------------------

    def load(self, task_id: str, title: str, nodes: Iterable[Node]) -> None:
        """Show a whole tree (parents before children, as ``task_nodes`` returns them)."""
        self.clear()
        self._by_id.clear()
        self._orphans.clear()
        self.root.expand()
        # Each TreeNode.add invalidates every line of the tree: once at the end is enough.
        self._batching = True
        try:
            for node in nodes:
                self.upsert(node)
        finally:
            self._batching = False
            self._invalidate()
        self.root.set_label(root_label(task_id, title))

    def tallies(self) -> str:
        """The shown nodes' counts, the sample's apart from the explorations'."""
        return tree_tallies(self.stored_nodes())

    def set_flaky(self, ids: set[int]) -> None:
        """Mark these programs flaky (and unmark the others)."""
        changed, self.flaky = ids ^ self.flaky, set(ids)
        for node_id in changed:
            shown = self._by_id.get(node_id)
            if shown is not None and shown.data is not None:
                shown.set_label(node_label(shown.data, flaky=node_id in self.flaky))

    def _invalidate(self) -> None:
        if not self._batching:
            super()._invalidate()

    def process_label(self, label: str | Text) -> Text:
        """Labels here are one line already (``node_label``): skip Tree's split and copy."""
        if isinstance(label, Text) and "\n" not in label.plain:
            return label
        return super().process_label(label)

    def get_label_width(self, node: TreeNode[TreeData]) -> int:
        """The width ``render_label`` gives, without building it: every rebuild of the
        lines measures every node, and Tree's default copies and styles each label."""
        icon = (self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE) \
            if node.allow_expand else ""
        return cell_len(icon) + node.label.cell_len if isinstance(node.label, Text) \
            else super().get_label_width(node)

    def upsert(self, node: Node) -> TreeNode[TreeData] | None:
        """Add a node under its parent, or relabel it if it is shown already.

        A node whose parent has not arrived yet is kept and attached when it does.
        Returns the tree node (None while the node waits for its parent).
        """
        shown = self._by_id.get(node.id)
        if shown is not None:
            shown.data = node
            shown.set_label(node_label(node, flaky=node.id in self.flaky))
            return shown
        if node.parent_id is None:
            parent = self.root
        else:
            found = self._by_id.get(node.parent_id)
            if found is None:
                self._orphans.setdefault(node.parent_id, []).append(node)
                return None
            parent = found
        # No fold icon until a node has children (they may arrive later: allow it then).
        added = parent.add(node_label(node, flaky=node.id in self.flaky), node, expand=True,
                           allow_expand=False)
        parent.allow_expand = True
        self._by_id[node.id] = added
        for child in self._orphans.pop(node.id, []):
            self.upsert(child)
        return added

    # --- lookups ------------------------------------------------------------------

    def tree_node(self, node_id: int) -> TreeNode[TreeData] | None:
        """The tree node showing the stored node ``node_id``, if shown."""
        return self._by_id.get(node_id)

    def stored_nodes(self) -> list[Node]:
        """Every shown node, in drawing order."""
        return [t.data for t in self.walk() if t.data is not None]

    def walk(self) -> Iterator[TreeNode[TreeData]]:
        """Every tree node in drawing order (pre-order), folded branches included."""
        stack = [self.root]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(reversed(current.children))

    @property
    def selected(self) -> Node | None:
        """The stored node under the cursor (None on the spec)."""
        cursor = self.cursor_node
        return None if cursor is None else cursor.data

    def path_to(self, node_id: int) -> list[Node]:
        """The nodes from a first program down to ``node_id``."""
        path: list[Node] = []
        current = self._by_id.get(node_id)
        while current is not None and current.data is not None:
            path.append(current.data)
            current = current.parent
        return path[::-1]

    # --- moving -------------------------------------------------------------------

    def reveal(self, node_id: int | None) -> None:
        """Unfold the branch down to a node and put the cursor on it (None: the spec)."""
        target = self.root if node_id is None else self._by_id.get(node_id)
        if target is None:
            return
        parent = target.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        # Expanding invalidates line numbers; the next call to _tree_lines rebuilds them.
        _ = self._tree_lines
        self.move_cursor(target)

    def find_next(self, want: str, *, backwards: bool = False) -> Node | None:
        """The next program after the cursor (in drawing order, wrapping) that is
        ``failing`` or ``solved``; None if there is none."""
        if want not in ("failing", "solved"):
            raise ValueError(f"want must be 'failing' or 'solved', not {want!r}")
        nodes = self.stored_nodes()
        current = self.selected
        here = next((i for i, n in enumerate(nodes) if current and n.id == current.id), -1)
        wanted = want == "solved"
        matches = [i for i, n in enumerate(nodes) if n.kind == "program" and n.passed is wanted]
        if not matches:
            return None
        if backwards:
            before = [i for i in matches if i < here]
            return nodes[before[-1] if before else matches[-1]]
        after = [i for i in matches if i > here]
        return nodes[after[0] if after else matches[0]]
