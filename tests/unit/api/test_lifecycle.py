"""The request lifecycle: a key's spend is written before the request's costs go out, even when the client
hangs up while the last byte is being sent (CI once saw a record in S3 whose spend was not yet counted)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from mixcore import container
from mixcore.api.chat import RequestLifecycle
from mixcore.api.streaming import REQUEST_CONTEXT_HEADER
from mixcore.costs.sink import MemorySink
from mixcore.mixes.gateway import Gateway
from mixcore.settings import get_settings
from mixcore.store.memory import MemoryStore

SETTLE_SECONDS = 0.3


class SlowSettleStore(MemoryStore):
    """A store whose spend write takes a while, noting when it has finished."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def settle_spend(self, key_id: str, period: str, **settle: Any) -> bool:
        time.sleep(SETTLE_SECONDS)
        counted = super().settle_spend(key_id, period, **settle)
        self.events.append("spend written")
        return counted


class LostAnswerStore(MemoryStore):
    """A store whose first settle is written but whose answer is lost (boto then raises): the write is retried."""

    def __init__(self) -> None:
        super().__init__()
        self.tries = 0

    def settle_spend(self, key_id: str, period: str, **settle: Any) -> bool:
        self.tries += 1
        counted = super().settle_spend(key_id, period, **settle)
        if self.tries == 1:
            raise ConnectionError("read timeout on the answer to a write that happened")
        return counted


class NotingSink(MemorySink):
    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def flush(self) -> dict[str, int]:
        self.events.append("costs delivered")
        return super().flush()


@pytest.fixture
def events(gateway: Gateway) -> Iterator[list[str]]:
    noted: list[str] = []
    container.set_store(SlowSettleStore(noted))
    container.set_cost_sink(NotingSink(noted))
    container.set_gateway(gateway)
    yield noted
    container.set_store(None)
    container.set_cost_sink(None)
    container.set_gateway(None)


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


def budgeted_scope() -> Scope:
    authorizer = {"key_id": "key_budgeted", "budget_usd": "5"}
    return {"type": "http", "path": "/v1/chat/completions", "method": "POST",
            "headers": [(REQUEST_CONTEXT_HEADER, json.dumps({"authorizer": authorizer}).encode())]}


@pytest.mark.anyio
async def test_a_client_hanging_up_on_the_last_byte_still_has_its_spend_written_before_the_costs_go_out(
        events: list[str]) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    request = asyncio.ensure_future(RequestLifecycle(answer)(budgeted_scope(), receive, send))
    await asyncio.sleep(SETTLE_SECONDS / 3)  # the spend write is under way: the server tears the request down
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert events == ["spend written", "costs delivered"]
    assert sent[0]["status"] == 200


@pytest.mark.anyio
async def test_an_answer_sent_to_the_end_writes_the_spend_once_then_delivers_once(events: list[str]) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    await RequestLifecycle(answer)(budgeted_scope(), receive, send)
    assert events == ["spend written", "costs delivered"]
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"data: [DONE]\n\n"
    assert sent[-1].get("more_body", False) is False


@pytest.mark.anyio
async def test_the_client_has_the_last_byte_before_the_spend_is_written_and_the_response_ends_after(
        events: list[str]) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message.get("body"):
            events.append("last byte sent")
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            events.append("response ended")

    await RequestLifecycle(answer)(budgeted_scope(), receive, send)
    assert events == ["last byte sent", "spend written", "costs delivered", "response ended"]


@pytest.mark.anyio
async def test_a_settle_whose_answer_was_lost_is_retried_and_counts_once(gateway: Gateway) -> None:
    store = LostAnswerStore()
    container.set_store(store)
    container.set_cost_sink(MemorySink())
    container.set_gateway(gateway)
    try:
        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            return None

        await RequestLifecycle(answer)(budgeted_scope(), receive, send)
    finally:
        container.set_store(None)
        container.set_cost_sink(None)
        container.set_gateway(None)
    assert store.tries == 2
    assert [c["requests"] for c in store.usage.values()] == [1]


@pytest.mark.anyio
async def test_a_client_that_stops_reading_ends_the_request_and_its_answer_is_closed(
        events: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXCORE_CLIENT_WRITE_TIMEOUT_SECONDS", "0.2")
    get_settings.cache_clear()
    produced: list[int] = []
    closed = asyncio.Event()

    async def endless(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            for n in range(10_000):
                produced.append(n)
                await send({"type": "http.response.body", "body": b"data: x\n\n", "more_body": True})
        finally:
            closed.set()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and len(produced) > 3:
            await asyncio.Event().wait()  # the client's window is full: the write never completes

    try:
        # wait_for is the test's guard against a hang: the write timeout ends the request long before.
        await asyncio.wait_for(RequestLifecycle(endless)(budgeted_scope(), receive, send), timeout=10)
    finally:
        get_settings.cache_clear()
    assert closed.is_set() and len(produced) == 4
    assert events == ["spend written", "costs delivered"]  # what was spent is still counted
