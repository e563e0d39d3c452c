"""`mixcore invoke`: every shipped event through its function's real handler, as a user runs it (no Docker)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mixcore.local.template import Template
from tests.conftest import REPO
from tests.e2e.conftest import RunningStack, banner_exports, running_stack

pytestmark = pytest.mark.e2e

# Which function each shipped event is for: the route (or trigger) it stands for in template.yaml.
EVENT_FUNCTIONS = {
    "authorizer.json": "AuthorizerFunction",
    "chat_completion.json": "ChatFunction",
    "chat_completion_stream.json": "ChatFunction",
    "indexer_schedule.json": "IndexerFunction",
    "leaderboard.json": "CatalogFunction",
    "models.json": "CatalogFunction",
}
TEMPLATE = Template.load(REPO / "template.yaml")
OFFLINE_SOURCES = {"IndexerFunction": {"MIXCORE_SOURCES_MIRROR": "tests/fixtures"}}


def invoke(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MIXCORE_", "AWS_", "POWERTOOLS_"))}
    return subprocess.run([sys.executable, "-m", "mixcore.cli", "invoke", *args], cwd=REPO,
                          env={**clean, **(env or {})}, input=stdin, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def env_vars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("invoke") / "env.json"
    path.write_text(json.dumps(OFFLINE_SOURCES))
    return path


def test_every_shipped_event_has_its_function() -> None:
    assert sorted(p.name for p in (REPO / "events").glob("*.json")) == sorted(EVENT_FUNCTIONS)


LAMBDA_REPORT = re.compile(r"^REPORT RequestId: (\S+)\tDuration: ([\d.]+) ms\tBilled Duration: (\d+) ms\t"
                           r"Memory Size: (\d+) MB\tMax Memory Used: (\d+) MB$", re.MULTILINE)


@pytest.mark.parametrize("event", sorted(EVENT_FUNCTIONS))
def test_every_shipped_event_runs_as_shipped(event: str, env_vars: Path) -> None:
    result = invoke(EVENT_FUNCTIONS[event], "--event", f"events/{event}", "--env-vars", str(env_vars))
    check_answer(event, result)


@pytest.fixture(scope="module")
def own_stack() -> Iterator[RunningStack]:
    """A stack of this module's own: the indexer event refreshes its catalog, which the shared stack must not see."""
    with running_stack() as running:
        yield running


@pytest.mark.parametrize("event", sorted(EVENT_FUNCTIONS))
def test_every_shipped_event_runs_against_the_local_stack_with_the_banners_exports(
        event: str, env_vars: Path, own_stack: RunningStack) -> None:
    # The stack's secret holds demo keys: invoke answers those providers with demo servers, as the stack does
    result = invoke(EVENT_FUNCTIONS[event], "--event", f"events/{event}", "--env-vars", str(env_vars),
                    env=banner_exports(own_stack))
    assert f"using the AWS at {own_stack.aws_endpoint}" in result.stderr
    check_answer(event, result)


def check_answer(event: str, result: subprocess.CompletedProcess[str]) -> None:
    """What the event's function answers, and Lambda's START / END / REPORT lines around its logs."""
    assert result.returncode == 0, result.stderr[-3000:]
    report = LAMBDA_REPORT.search(result.stderr)
    assert report is not None, result.stderr[-2000:]
    request_id, duration, billed, memory, used = report.groups()
    assert f"START RequestId: {request_id} Version: $LATEST" in result.stderr
    assert f"END RequestId: {request_id}" in result.stderr
    assert int(billed) == math.ceil(float(duration)) and int(used) > 0
    template_memory = TEMPLATE.functions()[EVENT_FUNCTIONS[event]].memory_mb
    assert int(memory) == template_memory
    out = result.stdout
    if event == "authorizer.json":
        answer = json.loads(out)
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        assert answer["context"]["key_id"] == "key_events0000"
    elif event == "chat_completion.json":
        body = json.loads(out)
        assert body["object"] == "chat.completion" and body["model"] == "openai/gpt-4o"
        assert "capital of France" in body["choices"][0]["message"]["content"]
    elif event == "chat_completion_stream.json":
        events = [line[6:] for line in out.split("\n") if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        assert chunks[-1]["usage"]["completion_tokens"] > 0
    elif event == "indexer_schedule.json":
        report = json.loads(out)
        assert report["stored"] > 0 and report["failed_sources"] == 0
    else:
        response = json.loads(out)
        assert response["statusCode"] == 200
        body = json.loads(response["body"])
        assert body["entries"] if event == "leaderboard.json" else body["data"]
    # As with `sam local invoke`, the function's logs and metrics are on stderr, never in the answer.
    assert '"_aws"' not in out


def test_the_event_can_come_on_stdin() -> None:
    result = invoke("CatalogFunction", "--event", "-", stdin=(REPO / "events" / "models.json").read_text())
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["statusCode"] == 200


def test_an_unknown_function_names_the_real_ones() -> None:
    result = invoke("NoSuchFunction", "--event", "events/models.json")
    assert result.returncode == 2
    assert "ChatFunction" in result.stderr and "IndexerFunction" in result.stderr


def test_a_function_error_is_printed_as_lambda_does_and_fails_the_command(tmp_path: Path) -> None:
    broken = tmp_path / "env.json"
    broken.write_text(json.dumps({"AuthorizerFunction": {"MIXCORE_TABLE_NAME": "no-such-table"}}))
    result = invoke("AuthorizerFunction", "--event", "events/authorizer.json", "--env-vars", str(broken))
    assert result.returncode == 1
    error = json.loads(result.stdout)
    assert error["errorType"] == "ResourceNotFoundException" and "GetItem" in error["errorMessage"]


def test_a_5xx_answer_fails_the_command(stack: RunningStack) -> None:
    stack.behaviour("openai", {"status": 500})
    try:
        result = invoke("ChatFunction", "--event", "events/chat_completion.json",
                        env={**banner_exports(stack), "MIXCORE_PROVIDER_OPENAI_BASE_URL": f"{stack.demo_url}/openai/v1",
                             "MIXCORE_PROVIDER_OPENAI_API_KEY": "demo-key-openai"})
    finally:
        stack.reset()
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["type"]


def test_it_runs_against_the_local_stacks_aws(stack: RunningStack) -> None:
    result = invoke("CatalogFunction", "--event", "events/models.json", env=banner_exports(stack))
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"using the AWS at {stack.aws_endpoint}" in result.stderr
