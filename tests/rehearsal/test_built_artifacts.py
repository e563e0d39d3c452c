"""The deploy rehearsal: `sam build`'s artifacts started the way Lambda starts them, each answering its shipped event
(and the chat function each kind of route mix, whose router and categories are package data).

The local stack runs the handlers from the source tree with the developer's packages; this runs what deploys:
the built layer at /opt and each built function at /var/task, read-only, under the runtime's bare interpreter,
with only Lambda's variables and the template's (tests/rehearsal/lambda_sandbox.py). Zip functions are loaded by
AWS's runtime client from a Runtime API; the chat function is started through its handler script, as the web
adapter's wrapper does (`exec $LAMBDA_TASK_ROOT/$_HANDLER`), and sent requests in the adapter's shape.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mixcore.local.aws import EmbeddedAws
from mixcore.local.invoke import forget_process_state, function_environment
from mixcore.local.stack import free_port
from mixcore.local.template import FunctionDef, Template
from tests.conftest import REPO
from tests.rehearsal import lambda_sandbox as sandbox

TEMPLATE = Template.load(REPO / "template.yaml")
RUNTIME = str(TEMPLATE.body["Globals"]["Function"]["Runtime"])  # e.g. python3.12
RUNTIME_VERSION = RUNTIME.removeprefix("python")
# Which function each shipped event is for (the same map as tests/e2e/test_invoke.py).
ZIP_EVENTS = {"authorizer.json": "AuthorizerFunction", "models.json": "CatalogFunction",
              "leaderboard.json": "CatalogFunction", "indexer_schedule.json": "IndexerFunction"}
ADAPTER_EVENTS = ("chat_completion.json", "chat_completion_stream.json")
# The indexer reads the saved leaderboard pages instead of the network (there is none here).
OFFLINE = {"IndexerFunction": {"MIXCORE_SOURCES_MIRROR": str(REPO / "tests" / "fixtures")}}
READY_WITHIN_SECONDS = 60.0


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sandbox.sam_build(tmp_path_factory.mktemp("sam") / "build")


@pytest.fixture(scope="module")
def interpreter(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """/var/lang (the bare runtime) and /var/runtime (the runtime client)."""
    python = sandbox.runtime_python()
    folder = tmp_path_factory.mktemp("runtime")
    return (sandbox.bare_runtime(python, folder / "lang"),
            sandbox.runtime_client(python, RUNTIME_VERSION, folder / "runtime"))


def function_variables(function: FunctionDef, runtime_api: str) -> dict[str, str]:
    """Lambda's variables, the template's (resolved against the embedded AWS) and where that AWS and the demo
    providers are: what `sam local invoke --env-vars` would add. Read inside function_environment."""
    template_names = set(function.environment)
    passed = {k: v for k, v in os.environ.items()
              if k in template_names or k.startswith("MIXCORE_PROVIDER_") or k == "AWS_ENDPOINT_URL"}
    memory = int(TEMPLATE.resources()[function.logical_id]["Properties"].get(
        "MemorySize", TEMPLATE.body["Globals"]["Function"]["MemorySize"]))
    return {**sandbox.lambda_variables(function.logical_id, function.handler, runtime=RUNTIME, memory_mb=memory,
                                       timeout_s=function.timeout, runtime_api=runtime_api),
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
            **passed, **OFFLINE.get(function.logical_id, {})}


@pytest.fixture(scope="module", autouse=True)
def embedded_aws() -> Iterator[None]:
    """An AWS of the rehearsal's own, with the template's resources: moto's server in a process of its own (moto's
    state is per process, and other tests change theirs). Each test's function_environment finds it through
    AWS_ENDPOINT_URL, as `mixcore invoke` finds a running stack's."""
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = dict(os.environ)
    try:
        aws = EmbeddedAws(port)  # its client only: the server is the process above
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(aws.endpoint, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "moto's server did not start"
                time.sleep(0.1)
        os.environ.update(aws.environment())
        forget_process_state()  # a store or settings built earlier in this process point at another AWS
        aws.create_resources(TEMPLATE)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        forget_process_state()
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def runtime_api() -> Iterator[sandbox.RuntimeApi]:
    api = sandbox.RuntimeApi().start()
    yield api
    api.stop()


def in_lambda(built: Path, interpreter: tuple[Path, Path], function: FunctionDef) -> sandbox.Sandbox:
    lang, runtime = interpreter
    return sandbox.Sandbox(layer=built / "MixcoreLayer", function=built / function.logical_id, lang=lang,
                           runtime=runtime)


def read_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((REPO / "events" / name).read_text())
    return event


@pytest.mark.parametrize("event_name", sorted(ZIP_EVENTS))
def test_every_zip_function_built_by_sam_answers_its_event_as_lambda_runs_it(
        event_name: str, built: Path, interpreter: tuple[Path, Path], runtime_api: sandbox.RuntimeApi) -> None:
    function = TEMPLATE.functions()[ZIP_EVENTS[event_name]]
    with function_environment(TEMPLATE, function, {}, say=lambda _: None):
        # Given the built function and layer in Lambda's layout, started by the runtime client on its handler
        process = in_lambda(built, interpreter, function).start(
            [f"{sandbox.LANG_DIR}/bin/python3", "-m", "awslambdaric", function.handler],
            {**function_variables(function, runtime_api.address),
             "PYTHONPATH": f"{sandbox.RUNTIME_DIR}:/opt/python/lib/{RUNTIME}/site-packages:/opt/python"})
        try:
            # When Lambda hands it the shipped event
            outcome = runtime_api.invoke(read_event(event_name))
        finally:
            log = sandbox.stop(process)
    # Then it answers as the same event answers through `mixcore invoke`
    assert outcome.error is None, f"{outcome.error}\n{log[-3000:]}"
    answer = outcome.response
    if event_name == "authorizer.json":
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        assert answer["context"]["key_id"] == "key_events0000"
    elif event_name == "indexer_schedule.json":
        assert answer["stored"] > 0 and answer["failed_sources"] == 0
    else:
        assert answer["statusCode"] == 200
        body = json.loads(answer["body"])
        assert body["entries"] if event_name == "leaderboard.json" else body["data"]


def adapter_request(event: dict[str, Any], port: int) -> httpx.Request:
    """The HTTP request the web adapter makes of an API Gateway event: the request context in a header."""
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "host"}
    headers["x-amzn-request-context"] = json.dumps(event["requestContext"])
    return httpx.Request(event["httpMethod"], f"http://127.0.0.1:{port}{event['path']}", headers=headers,
                         content=(event.get("body") or "").encode())


def wait_until_ready(port: int, path: str, process: subprocess.Popen[bytes]) -> httpx.Response | None:
    """Poll the readiness path as the adapter does, until it answers or the process dies."""
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    return None


# (model, prompt): a prompt far above the shipped length router's median, one far below, a coding request, and a
# question for the AutoMix cascade.
ROUTED = (("route/auto", "Work out, step by step, the expected weight of a week's parcels, then write the code. " * 40),
          ("route/auto", "hi"),
          ("index/auto", "Write a Python function that merges two sorted lists without using sort()."),
          ("route/cascade/math", "What is 17 * 23? Show the multiplication."))


def ask_mix(model: str, content: str) -> dict[str, Any]:
    """The shipped chat event, asking `model` for `content`."""
    event = read_event("chat_completion.json")
    event["body"] = json.dumps({"model": model, "messages": [{"role": "user", "content": content}]})
    return event


def test_the_built_chat_function_starts_through_its_handler_script_and_streams(
        built: Path, interpreter: tuple[Path, Path], runtime_api: sandbox.RuntimeApi) -> None:
    function = TEMPLATE.functions()["ChatFunction"]
    port = free_port()  # the template's AWS_LWA_PORT (8080) may be taken on this machine by a local stack
    with function_environment(TEMPLATE, function, {}, say=lambda _: None):
        # Given the built chat function started as the adapter's wrapper starts it: exec $LAMBDA_TASK_ROOT/$_HANDLER
        variables = {**function_variables(function, runtime_api.address), "AWS_LWA_PORT": str(port)}
        process = in_lambda(built, interpreter, function).start(
            [f"{sandbox.TASK_ROOT}/{function.handler}"], variables)
        try:
            # When the adapter's readiness check passes and it forwards both shipped chat events
            ready = wait_until_ready(port, variables["AWS_LWA_READINESS_CHECK_PATH"], process)
            assert ready is not None and ready.status_code == 200, sandbox.stop(process)[-3000:]
            with httpx.Client(timeout=60) as client:
                whole = client.send(adapter_request(read_event("chat_completion.json"), port))
                streamed = client.send(adapter_request(read_event("chat_completion_stream.json"), port), stream=True)
                pieces = [piece.decode() for piece in streamed.iter_raw()]
                # and the route mixes, whose router and categories are package data read from the layer
                routed = {content: client.send(adapter_request(ask_mix(model, content), port))
                          for model, content in ROUTED}
        finally:
            log = sandbox.stop(process)
    # Then a whole answer and a stream come back as the events ask, each with its request id
    assert whole.status_code == 200, log[-3000:]
    assert "capital of France" in whole.json()["choices"][0]["message"]["content"]
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in "".join(pieces).split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert whole.headers["x-request-id"] and streamed.headers["x-request-id"]
    # and the route mixes decide as they do on the local stack: the long prompt to the strong side, "hi" to the
    # weak one, the coding prompt to the coding index, the cascade through its three calls
    assert all(answer.status_code == 200 for answer in routed.values()), log[-3000:]
    mixes = {content: answer.json()["mix"] for content, answer in routed.items()}
    long, short, coding, sum_ = (content for _, content in ROUTED)
    assert (mixes[long]["route"]["side"], mixes[short]["route"]["side"]) == ("strong", "weak")
    assert mixes[long]["route"]["chosen"] != mixes[short]["route"]["chosen"]
    assert mixes[coding]["auto"]["category"] == "coding"
    # the demo model's answer carries no verdict, so its self-verification finds nothing correct: escalated
    assert (mixes[sum_]["route"]["side"], mixes[sum_]["route"]["score"]) == ("strong", 0.0)


ELF_MACHINES = {62: "x86_64", 183: "aarch64"}


def elf_machine(path: Path) -> str:
    header = path.read_bytes()[:20]
    return ELF_MACHINES.get(struct.unpack("<H", header[18:20])[0], "other")


def test_the_layer_built_for_arm64_holds_only_aarch64_or_pure_python_code(tmp_path: Path) -> None:
    # Given the layer built as `make build ARCH=arm64` builds it (src/Makefile, LAYER_ARCH=arm64)
    subprocess.run(["make", "-s", "-C", str(REPO / "src"), "build-MixcoreLayer", f"ARTIFACTS_DIR={tmp_path}",
                    "LAYER_ARCH=arm64", f"PYTHON={sandbox.runtime_python()}"], check=True, capture_output=True)
    layer = tmp_path / "python"
    # Then every compiled extension is for aarch64, and every wheel it came from is for aarch64 or any platform
    extensions = [p for p in layer.rglob("*.so*") if p.is_file()]
    assert extensions, "the layer has compiled extensions (pydantic-core, lxml): the check below means something"
    assert {p.name: elf_machine(p) for p in extensions if elf_machine(p) != "aarch64"} == {}
    tags = [line.split(":", 1)[1].strip() for wheel in layer.glob("*.dist-info/WHEEL")
            for line in wheel.read_text().splitlines() if line.startswith("Tag:")]
    assert tags and all(t.endswith("-any") or "aarch64" in t for t in tags), sorted(set(tags))
