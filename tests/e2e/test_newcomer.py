"""A newcomer's first hour: the stack stops however it was started, CLI commands say what AWS setting is missing,
and a change shows on the next request of a stack started as `make run` starts it."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mixcore.local.stack import free_port
from mixcore.local.template import Template
from tests.conftest import FIXTURES, REPO
from tests.e2e.conftest import DEV_KEY, RunningStack, cli, create_key, running_stack

pytestmark = pytest.mark.e2e
TEMPLATE = Template.load(REPO / "template.yaml")
USER = [{"role": "user", "content": "hi"}]
# No region, credentials or endpoint; and boto never asks the instance metadata service (not on loopback).
NO_AWS = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MIXCORE_"))},
          "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE":
          "/nonexistent"}


@pytest.mark.parametrize(("args", "env", "missing"), [
    (("keys", "list"), {}, "no AWS region"),
    (("catalog", "show"), {}, "no AWS region"),
    (("costs",), {"AWS_DEFAULT_REGION": "us-east-1"}, "no AWS credentials"),
    (("keys", "list"), {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}, "cannot reach AWS"),
])
def test_a_command_that_needs_aws_says_in_one_line_what_is_missing(args: tuple[str, ...], env: dict[str, str],
                                                                    missing: str) -> None:
    result = subprocess.run([sys.executable, "-m", "mixcore.cli", *args], cwd=REPO, env={**NO_AWS, **env},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("mixcore ")]
    assert len(lines) == 1 and missing in lines[0] and "export line its banner prints" in lines[0]


def test_a_stack_started_with_sigint_ignored_still_stops_on_sigint() -> None:
    # Given `mixcore serve` started as a shell's background job starts it: SIGINT ignored
    process = subprocess.Popen(
        [sys.executable, "-m", "mixcore.cli", "serve", "--port", str(free_port()), "--dev-key", DEV_KEY],
        cwd=REPO, env={**NO_AWS, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while "Ctrl-C stops everything" not in (line := process.stdout.readline()):
            assert line and time.monotonic() < deadline, "the stack did not start"
        # When it gets SIGINT (Ctrl-C, or a test's stop)
        process.send_signal(signal.SIGINT)
        # Then it stops, and says so
        remaining = process.communicate(timeout=20)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0 and "Stopping the local stack" in remaining


def ranking_fetched_at(stack: RunningStack) -> str:
    mix = httpx.get(f"{stack.base_url}/mixes/index/lmsys-coding", headers={"authorization": f"Bearer {DEV_KEY}"},
                    timeout=30).json()
    fetched_at: str = mix["resolution"]["ranking"]["fetched_at"]
    return fetched_at


def test_a_price_put_and_a_refresh_show_on_the_next_request_of_a_stack_started_as_make_run_does() -> None:
    model = "openai/gpt-4o-mini"
    with running_stack(local_defaults=True) as stack:
        # Given a fresh stack, whose index mixes rank from the packaged snapshot
        snapshot_time = ranking_fetched_at(stack)
        # When the leaderboards are refreshed, the very next request ranks from what was just stored
        refreshed = cli(stack, "refresh", "--from", str(FIXTURES / "leaderboards"))
        assert refreshed.returncode == 0, refreshed.stderr
        assert ranking_fetched_at(stack) > snapshot_time  # stored now, not the snapshot's time
        assert ranking_fetched_at(stack)[:10] == datetime.now(UTC).strftime("%Y-%m-%d")
        # Given an operator's price for the model (USD per million input and output tokens)
        put = cli(stack, "catalog", "put", "--price", f"{model}=100,200")
        assert put.returncode == 0, put.stderr
        # When the very next request asks the model
        answer = stack.client().chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    # Then it is charged at that price: tokens × $100 and $200 per million
    usage = answer.usage
    assert usage is not None
    expected = (usage.prompt_tokens * 100 + usage.completion_tokens * 200) / 1_000_000
    assert (usage.model_extra or {})["cost"] == pytest.approx(expected)


def test_local_cost_records_land_where_and_how_firehose_puts_them(stack: RunningStack) -> None:
    # Given the template's delivery settings: a prefix with a date expression, GZIP
    destination = TEMPLATE.resources()["CostStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    assert destination["Prefix"] == "records/dt=!{timestamp:yyyy-MM-dd}/" and destination["CompressionFormat"] == "GZIP"
    # When a request is answered
    answer = stack.client().chat.completions.create(model="openai/gpt-4o-mini",
                                                    messages=[{"role": "user", "content": "hi"}])
    stack.records_for({answer.id})
    # Then a plain boto3 reader finds it under records/dt=<today, UTC>/, as a .gz object of JSON lines
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    s3 = stack.s3()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="mixcore-costbucket", Prefix="records/").get("Contents", [])]
    name = re.compile(rf"^records/dt={today}/mixcore-coststream-\d+-{today}-\d\d-\d\d-\d\d-[0-9a-f-]{{36}}\.gz$")
    assert keys and all(name.match(k) for k in keys), keys
    request_ids = set()
    for key in keys:
        body = s3.get_object(Bucket="mixcore-costbucket", Key=key)["Body"].read()
        request_ids |= {json.loads(line)["request_id"] for line in gzip.decompress(body).splitlines()}
    assert answer.id in request_ids


def banner_key(stack: RunningStack) -> str:
    return next(line.split(":", 1)[1].strip() for line in stack.output if line.strip().startswith("API key"))


def test_a_restarted_stack_keeps_its_dev_key_keys_and_costs(tmp_path: Path) -> None:
    state = ("--state-dir", str(tmp_path / "state"))
    # Given a stack that kept its state in a folder (as make run does): a key created, a request answered
    with running_stack(extra_args=state, dev_key=None) as first:
        dev_key = banner_key(first)
        key_id, key = create_key(first, "kept")
        answer = first.client(api_key=dev_key).chat.completions.create(model="openai/gpt-4o-mini", messages=USER)
        first.records_for({answer.id})
    # When it is started again
    with running_stack(extra_args=state, dev_key=None) as second:
        # Then it says so, prints the same dev key, which still works, and so does the key created before
        assert any("restored" in line for line in second.output if "state" in line)
        assert banner_key(second) == dev_key
        again = second.client(api_key=dev_key).chat.completions.create(model="openai/gpt-4o-mini", messages=USER)
        assert second.client(api_key=key).models.list().data
        listed = cli(second, "keys", "list")
        # And the costs recorded before the restart are still read
        costs = second.records_for({answer.id, again.id})
    assert key_id in listed.stdout and {answer.id, again.id} <= set(costs)
    # And --fresh begins empty
    with running_stack(extra_args=(*state, "--fresh"), dev_key=None) as fresh:
        assert banner_key(fresh) != dev_key
        assert key_id not in cli(fresh, "keys", "list").stdout

