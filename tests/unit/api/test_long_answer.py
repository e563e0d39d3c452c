"""LongAnswer, the response behind every chat answer: keep-alives while nothing flows, none while it does,
every write whole and in order, and the work stopped when the client goes away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

from starlette.types import Message

from mixcore.api.streaming import JSON_KEEPALIVE, SSE_KEEPALIVE, LongAnswer
from mixcore.mixes.gateway import ChatResult, StreamResult

QUIET = 0.05  # grace and keep-alive interval of these tests


class Client:
    """The ASGI side of one response: what was written, in order; `hang_up()` ends the connection."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.gone = asyncio.Event()

    async def receive(self) -> Message:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.messages.append(message)

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.messages if m["type"] == "http.response.body" and m["body"]]

    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])


def run(answer: LongAnswer, client: Client) -> None:
    asyncio.run(asyncio.wait_for(answer({"type": "http"}, client.receive, client.send), timeout=10))


def stream_of(*pieces: str | float) -> StreamResult:
    """SSE lines, with a pause where a number stands."""

    async def lines() -> AsyncGenerator[str, None]:
        for piece in pieces:
            if isinstance(piece, float):
                await asyncio.sleep(piece)
            else:
                yield piece

    return StreamResult(lines=lines(), headers={"x-mix-model": "openai/m"})


def test_a_quick_whole_answer_has_its_length_and_no_keep_alive() -> None:
    body = {"id": "chatcmpl-1", "choices": []}

    async def produce() -> ChatResult:
        return ChatResult(body=body, headers={"x-mix-model": "openai/m"})

    client = Client()
    run(LongAnswer(produce, stream=False, keepalive=QUIET, grace=QUIET), client)
    assert client.messages[0]["status"] == 200
    assert client.headers()[b"content-length"] == str(len(json.dumps(body))).encode()
    assert client.bodies() == [json.dumps(body).encode()]
    assert client.messages[-1]["more_body"] is False


def test_a_slow_whole_answer_is_kept_alive_with_whitespace_and_stays_json() -> None:
    async def produce() -> ChatResult:
        await asyncio.sleep(QUIET * 6)
        return ChatResult(body={"id": "chatcmpl-2"}, headers={})

    client = Client()
    run(LongAnswer(produce, stream=False, keepalive=QUIET, grace=QUIET), client)
    bodies = client.bodies()
    assert b"content-length" not in client.headers()  # committed before the length was known
    assert bodies[0] == JSON_KEEPALIVE and bodies.count(JSON_KEEPALIVE) == len(bodies) - 1
    assert json.loads(b"".join(bodies)) == {"id": "chatcmpl-2"}


def test_a_stream_is_kept_alive_between_tokens_only_while_none_flows() -> None:
    client = Client()
    answer = LongAnswer(lambda: _ready(stream_of("data: a\n\n", "data: b\n\n", QUIET * 6, "data: c\n\n",
                                                 "data: [DONE]\n\n")),
                        stream=True, keepalive=QUIET, grace=QUIET)
    run(answer, client)
    bodies = client.bodies()
    assert client.headers()[b"content-type"] == b"text/event-stream"
    assert client.headers()[b"x-mix-model"] == b"openai/m"
    # Then the tokens are in order, whole, with keep-alives only in the pause
    assert [b for b in bodies if b != SSE_KEEPALIVE] == [b"data: a\n\n", b"data: b\n\n", b"data: c\n\n",
                                                          b"data: [DONE]\n\n"]
    between = bodies[bodies.index(b"data: b\n\n") + 1:bodies.index(b"data: c\n\n")]
    assert between and set(between) == {SSE_KEEPALIVE}
    assert SSE_KEEPALIVE not in bodies[:bodies.index(b"data: b\n\n")]
    assert client.messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_a_client_that_hangs_up_stops_the_work_and_nothing_is_written_after() -> None:
    stopped: list[str] = []

    async def produce() -> ChatResult:
        try:
            await asyncio.sleep(30)
        finally:
            stopped.append("work cancelled")
        raise AssertionError("not reached")

    async def scenario() -> Client:
        client = Client()
        answer = LongAnswer(produce, stream=True, keepalive=QUIET, grace=QUIET)
        running = asyncio.ensure_future(answer({"type": "http"}, client.receive, client.send))
        await asyncio.sleep(QUIET * 3)  # kept alive meanwhile
        client.gone.set()
        await asyncio.wait_for(running, timeout=5)
        written = len(client.messages)
        await asyncio.sleep(QUIET * 3)
        assert len(client.messages) == written  # no keep-alive outlives the response
        return client

    client = asyncio.run(scenario())
    assert stopped == ["work cancelled"]
    assert SSE_KEEPALIVE in client.bodies()


async def _ready(result: Any) -> Any:
    return result
