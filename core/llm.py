"""The model protocol every part uses, and the OpenAI-compatible client.

(Contract only so far; the client lands with the models issue.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Completion:
    """One choice of a model answer."""

    text: str
    tokens: int  # tokens generated for this choice (tiktoken count when the server gives none)
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Usage:
    """Token usage as the server reported it (None where it did not)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class ModelReply:
    """What one `complete` call returns: its choices, usage, and what to store."""

    completions: list[Completion]
    model: str
    usage: Usage = field(default_factory=Usage)
    latency: float = 0.0  # seconds, all requests of this call
    requests: int = 1  # HTTP requests made (more when the server returned fewer than n)
    raw: list[dict[str, Any]] = field(default_factory=list)  # response bodies, for the calls table


class ChatModel(Protocol):
    """An async chat model. Both the OpenAI client and the simulated model implement it."""

    name: str
    simulated: bool

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        n: int = 1,
        temperature: float = 0.8,
        max_tokens: int = 1024,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> ModelReply: ...

    async def aclose(self) -> None: ...
