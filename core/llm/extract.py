"""Code extraction: the program inside a model's completion.

Models answer with Markdown (prose plus fenced blocks), with a bare program, or with a
program wrapped in a sentence or two. `extract_code` returns the program to run; the
caller stores both the raw completion and this result.

Rules, in order:

1. Fenced blocks (CommonMark style: a line of three or more backticks or tildes with an
   optional info string such as ``python``, ``py``, ``Python3``). A block closes at a
   line of the same fence character, at least as long, with no info string. A fence
   indented by k spaces (a block inside a Markdown list item) loses up to k leading
   spaces from each of its lines and closes only at a fence indented at most k + 3
   spaces, so an indented fence inside a docstring of the code does not end it. A
   closing fence glued to the end of the last code line (``print(x)```) is accepted
   too, because some models write it that way.
2. Among the blocks, Python-tagged ones win over bare ones, and bare ones over blocks
   tagged with another language (``text``, ``bash``, ...). Within the winning kind the
   *last* block is taken: in repair answers the fixed program comes after any quoted
   code. For blocks tagged with another language, the last one that parses as Python
   is taken (else the last one).
3. An unterminated final block (the completion was cut off at ``max_tokens``) counts
   as a block running to the end of the text. If it is the last block of the winning
   kind it is returned as is, truncated: it is the model's final answer, and returning
   an earlier quoted block instead would attribute the wrong program to the model. The
   sandbox then reports the truncation (usually a syntax error). Blocks that are
   empty or blank are ignored when any other block exists.
4. No fence at all: the whole text, except that leading and trailing prose lines (an
   unindented line that is not a comment, does not start with a Python keyword and does
   not parse on its own, e.g. "Here is the fixed program:") are dropped, but only when
   the text does not parse as it is and the remainder does. Prose in the middle of the
   code is left alone.

The result has leading and trailing blank lines removed, ``\\r\\n`` turned into
``\\n``, and ends with exactly one newline (it is empty when nothing is left).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

from repair_tui.sandbox import pyast

__all__ = ["CodeBlock", "code_blocks", "extract_code"]

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*?)[ \t]*$")
_PYTHON_TAGS = frozenset({"python", "py", "python3", "py3", "python2", "py2", "pycon", "ipython"})
_CODE_START = re.compile(
    r"^(?:def|class|import|from|if|elif|else|for|while|try|except|finally|with|return|"
    r"async|await|print|assert|raise|global|nonlocal|lambda|yield|pass|break|continue|del|"
    r"match|case)\b|^[@#]"
)


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block of a completion."""

    lang: str  # first word of the info string, lower-cased; "" for a bare fence
    code: str  # the lines between the fences, joined with "\n"
    complete: bool  # False when the text ended before the closing fence

    @property
    def kind(self) -> int:
        """Preference rank: 2 for Python-tagged, 1 for bare, 0 for other languages."""
        if self.lang in _PYTHON_TAGS or self.lang.startswith("python"):
            return 2
        return 1 if self.lang == "" else 0


def code_blocks(text: str) -> list[CodeBlock]:
    """All fenced blocks of a Markdown text, in order (the last may be incomplete)."""
    blocks: list[CodeBlock] = []
    fence = ""  # the opening fence of the block being read, "" outside blocks
    indent = 0  # the opening fence's indentation
    lang = ""
    body: list[str] = []
    for line in _lines(text):
        if not fence:
            if "```" not in line and "~~~" not in line:
                continue  # most lines: no fence, no need for the pattern
            m = _FENCE.match(line)
            # A backtick fence's info string may not contain backticks (CommonMark).
            if m and not (m["fence"][0] == "`" and "`" in m["info"]):
                fence, indent, body = m["fence"], len(m["indent"]), []
                lang = m["info"].split()[0].lower() if m["info"].split() else ""
            continue
        closing = _closing(line, fence, indent)
        if closing is None:
            body.append(_dedent(line, indent))
            continue
        if closing:
            body.append(_dedent(closing, indent))
        blocks.append(CodeBlock(lang, "\n".join(body), complete=True))
        fence = ""
    if fence:
        blocks.append(CodeBlock(lang, "\n".join(body), complete=False))
    return blocks


def extract_code(text: str) -> str:
    """The program in a completion: see the module docstring for the rules."""
    blocks = code_blocks(text)
    if blocks:
        return _normalise(_choose(blocks).code)
    return _normalise(_strip_prose("\n".join(_lines(text))))


def _lines(text: str) -> list[str]:
    # split("\n") rather than splitlines(): the latter also splits on form feeds and
    # Unicode separators that may legitimately appear inside string literals.
    return text.replace("\r\n", "\n").split("\n")


def _dedent(line: str, indent: int) -> str:
    if not indent:
        return line  # the usual unindented fence: nothing to take off
    return line[min(indent, len(line) - len(line.lstrip(" "))) :]


def _closing(line: str, fence: str, indent: int) -> str | None:
    """None if `line` does not close the block; else the code left on it ("" if none)."""
    char = fence[0]
    if char not in line:
        return None  # most lines of a block: no fence character at all
    stripped = line.strip()
    if (
        stripped
        and set(stripped) == {char}
        and len(stripped) >= len(fence)
        and (len(line) - len(line.lstrip(" ")) <= indent + 3)
    ):
        return ""
    # Closing fence glued to code: "    return x```". Only for backticks, and only when
    # the code part does not itself end inside a string of backticks.
    tail = line.rstrip()
    if char == "`" and tail.endswith(fence) and not tail.endswith("`" + fence):
        code = tail[: -len(fence)]
        if code.strip():
            return code
    return None


def _choose(blocks: list[CodeBlock]) -> CodeBlock:
    # An empty block (e.g. a fence opened just before the cut-off) is no answer.
    blocks = [b for b in blocks if b.code.strip()] or blocks
    best = max(b.kind for b in blocks)
    candidates = [b for b in blocks if b.kind == best]
    if best == 0:
        parsing = [b for b in candidates if _parses(b.code)]
        candidates = parsing or candidates
    return candidates[-1]


def _parses(code: str) -> bool:
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences in prose raise SyntaxWarning; they say nothing here.
            warnings.simplefilter("ignore")
            pyast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _is_prose(line: str) -> bool:
    """An obvious prose line: unindented, not code-like, and not valid Python alone."""
    if not line.strip():
        return True  # blank lines go with the prose they separate
    if line[0].isspace() or _CODE_START.match(line):
        return False
    return not _parses(line)


def _strip_prose(text: str) -> str:
    if _parses(text):
        return text
    lines = text.split("\n")
    start, end = 0, len(lines)
    while start < end and _is_prose(lines[start]):
        start += 1
    while end > start and _is_prose(lines[end - 1]):
        end -= 1
    # Try both ends, then one end at a time; keep the text whole unless a cut parses.
    for lo, hi in ((start, end), (start, len(lines)), (0, end)):
        part = "\n".join(lines[lo:hi])
        if part.strip() and _parses(part):
            return part
    return text


def _normalise(code: str) -> str:
    lines = code.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""
