"""Code extraction from completions: examples for each rule, and round-trip properties."""

from __future__ import annotations

import keyword
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st
from repair_tui.core.llm.extract import CodeBlock, code_blocks, extract_code

PROGRAM = "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n"


def _md(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# ---------------------------------------------------------------- fenced blocks


@pytest.mark.parametrize("tag", ["python", "py", "Python3", "PYTHON", "python3", ""])
def test_fenced_block_with_any_python_tag(tag: str) -> None:
    text = f"Here you go:\n\n```{tag}\n{PROGRAM}```\n\nIt adds two numbers."
    assert extract_code(text) == PROGRAM


def test_info_string_with_attributes_uses_first_word() -> None:
    text = f"```python title=add.py\n{PROGRAM}```"
    assert code_blocks(text)[0].lang == "python"
    assert extract_code(text) == PROGRAM


def test_tilde_fence_and_longer_backtick_fence() -> None:
    assert extract_code(f"~~~python\n{PROGRAM}~~~\n") == PROGRAM
    inner = 'doc = """\n```\nnot a fence end for a longer one\n"""\n'
    # A four-backtick block is closed only by four or more backticks.
    assert extract_code(f"````python\n{inner}````\n") == inner


def test_last_complete_block_wins() -> None:
    text = _md(
        """
        The buggy program was:
        ```python
        print(1 - 2)
        ```
        Fixed:
        ```python
        print(1 + 2)
        ```
        """
    )
    assert extract_code(text) == "print(1 + 2)\n"


def test_python_block_beats_later_output_block() -> None:
    text = f"```python\n{PROGRAM}```\nOutput:\n```text\n3\n```\nand input\n```\n1 2\n```\n"
    assert extract_code(text) == PROGRAM


def test_bare_block_beats_other_languages() -> None:
    text = "```bash\npython sol.py\n```\n```\nprint('hi')\n```\n"
    assert extract_code(text) == "print('hi')\n"


def test_other_language_blocks_prefer_one_that_parses() -> None:
    text = "```python-ish\nx = 1\n```\n```console\n$ run it now\n```\n"
    assert code_blocks(text)[0].kind == 2  # "python-ish" starts with python
    text = "```cpp\nint main() {}\n```\n```txt\nprint(2)\n```\n```sh\n$ ./a.out &&\n```\n"
    assert extract_code(text) == "print(2)\n"


def test_unterminated_last_block_is_returned_truncated() -> None:
    text = "Old:\n```python\nprint(1)\n```\nNew:\n```python\ndef f(x):\n    return ("
    assert code_blocks(text)[-1] == CodeBlock("python", "def f(x):\n    return (", False)
    assert extract_code(text) == "def f(x):\n    return (\n"


def test_empty_unterminated_block_falls_back_to_earlier_block() -> None:
    text = "```python\nprint(1)\n```\nAgain:\n```python\n"
    assert extract_code(text) == "print(1)\n"


def test_bare_unterminated_block_does_not_beat_a_python_block() -> None:
    text = "```python\nprint(1)\n```\nExample input:\n```\n3 4"
    assert extract_code(text) == "print(1)\n"


def test_closing_fence_glued_to_last_line() -> None:
    text = "```python\nx = 1\nprint(x)```\nDone."
    assert extract_code(text) == "x = 1\nprint(x)\n"


def test_indented_fence_inside_code_is_not_a_fence() -> None:
    code = 'def f():\n    """Use it like:\n    ```\n    f()\n    ```\n    """\n    return 1\n'
    assert extract_code(f"```python\n{code}```\n") == code


def test_fenced_block_inside_a_list_item_is_dedented() -> None:
    for pad in ("   ", "    ", "      "):
        body = "".join(pad + line + "\n" if line else "\n" for line in PROGRAM.split("\n")[:-1])
        text = f"1. Replace the function:\n\n{pad}```python\n{body}{pad}```\n2. Run it.\n"
        assert extract_code(text) == PROGRAM


def test_crlf_completion() -> None:
    text = f"Sure.\r\n```python\r\n{PROGRAM.replace(chr(10), chr(13) + chr(10))}```\r\n"
    assert extract_code(text) == PROGRAM


# ---------------------------------------------------------------- no fence


def test_plain_program_is_returned_whole() -> None:
    assert extract_code(PROGRAM) == PROGRAM
    assert extract_code("\n\n" + PROGRAM + "\n\n\n") == PROGRAM


def test_prose_around_unfenced_program_is_stripped() -> None:
    text = f"Here is the corrected program:\n\n{PROGRAM}\nThis prints 3 because it adds."
    assert extract_code(text) == PROGRAM


def test_prose_only_before_or_only_after() -> None:
    assert extract_code(f"The fix is below.\n{PROGRAM}") == PROGRAM
    assert extract_code(f"{PROGRAM}\nThat's all, it works now.") == PROGRAM


def test_unparseable_program_is_left_whole() -> None:
    # Stripping is only done when the rest parses: a broken program reaches the sandbox
    # untouched so that its syntax error is reported against the model's own text.
    text = "Here is my attempt:\ndef f(:\n    return 1\n"
    assert extract_code(text) == text


def test_code_like_first_line_is_kept() -> None:
    text = "import sys\nprint(sys.argv)\nThis prints the arguments.\n"
    assert extract_code(text) == "import sys\nprint(sys.argv)\n"


def test_empty_and_prose_only_completions() -> None:
    assert extract_code("") == ""
    assert extract_code("   \n\n") == ""
    assert extract_code("```python\n```") == ""
    assert extract_code("I cannot solve this.") == "I cannot solve this.\n"


# ---------------------------------------------------------------- properties

_CHARS = st.characters(
    blacklist_categories=("Cs",),  # lone surrogates cannot be encoded
    blacklist_characters="\n\r",
)


def _is_code_line(line: str) -> bool:
    # Lines that would read as a fence, or as a fence glued to code, are not code.
    body = line.lstrip(" ")
    if len(line) - len(body) <= 3 and body[:3] in ("```", "~~~"):
        return False
    return not line.rstrip().endswith("```")


_LINE = st.text(_CHARS, max_size=30).filter(_is_code_line)
_CODE = (
    st.lists(_LINE, min_size=1, max_size=12)
    .filter(lambda ls: bool(ls[0].strip()) and bool(ls[-1].strip()))
    .map(lambda ls: "\n".join(ls) + "\n")
)

_TAGS = st.sampled_from(["python", "py", "Python3", "python3", ""])
_PROSE = st.sampled_from(
    [
        "",
        "Here is the fixed program:\n\n",
        "The bug was an off-by-one error in the loop bound.\n",
        # An earlier block of the same kind (a Python-tagged one would win over a bare one).
        "```{tag}\nprint('an earlier attempt')\n```\nBetter:\n",
    ]
)
_AFTER = st.sampled_from(["", "\n", "\nThis runs in O(n) time.\n", "\nExample:\n```text\n3\n```\n"])


@given(code=_CODE, tag=_TAGS, before=_PROSE, after=_AFTER)
def test_fenced_round_trip(code: str, tag: str, before: str, after: str) -> None:
    """Any code in a fenced block comes back unchanged, whatever surrounds it."""
    before = before.replace("{tag}", tag)
    assert extract_code(f"{before}```{tag}\n{code}```{after}") == code


@given(code=_CODE, tag=_TAGS, pad=st.sampled_from(["  ", "   ", "    ", "      "]))
def test_list_item_round_trip(code: str, tag: str, pad: str) -> None:
    """A block indented inside a Markdown list item comes back without the indentation."""
    body = "".join(pad + line + "\n" for line in code.split("\n")[:-1])
    assert extract_code(f"1. The fix:\n{pad}```{tag}\n{body}{pad}```\n2. Done.") == code


@given(code=_CODE, tag=_TAGS, before=_PROSE)
def test_truncated_round_trip(code: str, tag: str, before: str) -> None:
    """A block cut off before its closing fence still yields its code."""
    before = before.replace("{tag}", tag)
    assert extract_code(f"{before}```{tag}\n{code}") == code


@given(code=_CODE, tag=_TAGS)
def test_crlf_round_trip(code: str, tag: str) -> None:
    text = f"```{tag}\r\n{code.replace(chr(10), chr(13) + chr(10))}```\r\n"
    assert extract_code(text) == code


@given(code=_CODE, tag=_TAGS)
def test_extraction_is_idempotent(code: str, tag: str) -> None:
    once = extract_code(f"```{tag}\n{code}```")
    assert extract_code(f"```{tag}\n{once}```") == once


_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and not keyword.issoftkeyword(s) and s != "print"
)
_STATEMENT = st.one_of(
    st.builds(lambda n, v: f"{n} = {v}", _NAMES, st.integers(-999, 999)),
    st.builds(lambda n: f"print({n})", _NAMES),
    st.builds(lambda f, a: f"def {f}({a}):\n    return {a} + 1", _NAMES, _NAMES),
    st.builds(lambda n: f"for {n} in range(3):\n    print({n})", _NAMES),
    st.builds(lambda n: f"import {n}", _NAMES),
)
_PROGRAM = st.lists(_STATEMENT, min_size=1, max_size=6).map(lambda ss: "\n".join(ss) + "\n")
_LEAD = st.sampled_from(["", "Here is the solution:\n", "Sure! The corrected code is:\n\n"])
_TRAIL = st.sampled_from(["", "\nThis fixes the bug.", "\n\nIt prints the right answer now.\n"])


@given(program=_PROGRAM, lead=_LEAD, trail=_TRAIL)
def test_unfenced_program_round_trip(program: str, lead: str, trail: str) -> None:
    """A real program with prose sentences around it and no fence comes back unchanged."""
    assert extract_code(lead + program + trail) == program


@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_text_gives_normalised_string(text: str) -> None:
    out = extract_code(text)
    assert out == "" or (out.endswith("\n") and not out.endswith("\n\n") and out.strip())
