"""Every model gets the time it needs (issue 27): a direct answer may take as long as the request budget, a thinking
model's first token may take minutes, and a chain whose first candidate hangs still falls back within its budget.

The three requests run at once, against one local stack with the default attempt timeout (20 s), so the whole
test takes about as long as its slowest answer (25 s, past that timeout)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import RunningStack, running_stack

pytestmark = pytest.mark.e2e
USER = [{"role": "user", "content": "Think it through: what is 17 × 23?"}]
SLOW_DIRECT = "openai/gpt-4o"  # answers its whole (non-streamed) answer after 25 s
THINKING = "anthropic/claude-opus-4-5-20251101:thinking-32k"  # its first token after 25 s
SLOW_SECONDS = 25  # past the 20 s attempt timeout that once cut every call
HANGING = "mistral/mistral-large-latest"  # never answers: the chain behind it must go on
FALLBACK = "anthropic/claude-haiku-4-5"


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    # The gateway's defaults for time (a 600 s request budget, 20 s per attempt with a fallback behind it)
    with running_stack(local_defaults=True, MIXCORE_COOLDOWN_SECONDS="1") as running:
        yield running


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    return call(), time.monotonic() - started


def test_slow_answers_get_their_time_and_a_hang_still_falls_back(stack: RunningStack) -> None:
    # Given providers that take 25 s to answer whole, 25 s to a thinking model's first token, and forever
    stack.behaviour(SLOW_DIRECT, {"latency_ms": SLOW_SECONDS * 1000})
    stack.behaviour("anthropic/claude-opus-4-5-20251101", {"latency_ms": SLOW_SECONDS * 1000})
    stack.behaviour(HANGING, {"fault": "hang", "hang_seconds": 120})
    client = stack.client(timeout=120)
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            # When a client asks each of them, the hanging one with a fallback behind it
            direct = pool.submit(timed, lambda: client.chat.completions.create(model=SLOW_DIRECT, messages=USER))
            thinking = pool.submit(timed, lambda: list(client.chat.completions.create(
                model=THINKING, messages=USER, stream=True)))
            chain = pool.submit(timed, lambda: client.chat.completions.create(
                model=HANGING, messages=USER, extra_body={"models": [FALLBACK]}))
            (answer, direct_seconds), (chunks, thinking_seconds), (fell_back, chain_seconds) = (
                direct.result(), thinking.result(), chain.result())
    finally:
        stack.reset()
    # Then the slow direct answer arrives whole after its 25 s, past the old 20 s cut
    assert answer.model == SLOW_DIRECT and answer.choices[0].message.content and direct_seconds >= SLOW_SECONDS
    # And the thinking model streams after its 25 s of thought
    assert {c.model for c in chunks} == {THINKING} and thinking_seconds >= SLOW_SECONDS
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # And the hanging candidate was given up after its attempt timeout (20 s), not the request budget
    assert fell_back.model == FALLBACK and 20 <= chain_seconds < 40
