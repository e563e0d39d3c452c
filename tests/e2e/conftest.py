"""The local stack started as a subprocess (`mixcore serve`), reached with the official openai SDK."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import boto3
import httpx
import openai
import pytest

from mixcore.costs.report import read_records
from tests.conftest import FIXTURES, REPO
from tests.integration.conftest import free_port

DEV_KEY = "mx-e2e-dev-key"
COST_BUCKET = "mixcore-costbucket"


@dataclass
class RunningStack:
    base_url: str
    aws_endpoint: str
    demo_url: str
    process: subprocess.Popen[str]
    output: list[str]
    # Cost record files already read (S3 key → its records): files are written once, so a later look reads only
    # the new ones, however many requests the session has made.
    delivered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def client(self, **kwargs: object) -> openai.OpenAI:
        options: dict[str, Any] = {"max_retries": 0, "timeout": 30, **kwargs}
        return openai.OpenAI(base_url=self.base_url, api_key=str(options.pop("api_key", DEV_KEY)), **options)

    def behaviour(self, target: str, behaviour: dict[str, object] | None) -> None:
        response = httpx.post(f"{self.demo_url}/_control/behaviour", json={"target": target, "behaviour": behaviour})
        response.raise_for_status()

    def reset(self) -> None:
        httpx.post(f"{self.demo_url}/_control/reset").raise_for_status()

    def provider_calls(self) -> dict[str, Any]:
        """What the demo providers received: every call (with its progress) and the streams abandoned mid-way."""
        answer: dict[str, Any] = httpx.get(f"{self.demo_url}/_control/calls").json()
        return answer

    def s3(self) -> Any:
        return boto3.client("s3", endpoint_url=self.aws_endpoint, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")

    def records_for(self, request_ids: set[str], wait_seconds: float = 10.0) -> dict[str, dict[str, Any]]:
        """Every cost record in the embedded S3, once those of `request_ids` have landed.

        Records are delivered after the answer's last byte, so the newest may land a moment after the
        client has its answer; this waits a bounded time for them, then fails naming the missing ones.
        """
        deadline = time.monotonic() + wait_seconds
        s3 = self.s3()
        while True:
            records = {r["request_id"]: r for r in read_records(s3, COST_BUCKET, self.delivered)}
            missing = request_ids - set(records)
            if not missing:
                return records
            assert time.monotonic() < deadline, f"no cost record for {sorted(missing)}"
            time.sleep(0.1)


@contextlib.contextmanager
def running_stack(*, extra_args: tuple[str, ...] = (), local_defaults: bool = False, dev_key: str | None = DEV_KEY,
                  **env: str) -> Iterator[RunningStack]:
    """`mixcore serve` in a subprocess with these MIXCORE_* settings (and serve's extra_args); stopped with SIGTERM
    (and waited for) on exit. With local_defaults, only `env` is set, as after `make run`; else the tests' short
    attempt timeout, cool-down and cache TTL are too."""
    port, aws_port = free_port(), free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MIXCORE_", "AWS_"))}
    tests_defaults = {} if local_defaults else {"MIXCORE_ATTEMPT_TIMEOUT_SECONDS": "2",
                                                "MIXCORE_THINKING_ATTEMPT_TIMEOUT_SECONDS": "2",
                                                "MIXCORE_CACHE_TTL_SECONDS": "0", "MIXCORE_COOLDOWN_SECONDS": "1"}
    environment.update({"PYTHONUNBUFFERED": "1", **tests_defaults, **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "mixcore.cli", "serve", "--port", str(port), "--aws-port", str(aws_port),
         *(("--dev-key", dev_key) if dev_key else ()), "--demo-latency-ms", "20", "--demo-chunk-ms", "0",
         *extra_args],
        cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if "Ctrl-C stops everything" in line:
            break
    banner = "".join(output)
    assert "Mixcore local stack is up." in banner, banner
    demo_url = next(line.split(" at ")[1].split(" ")[0] for line in output if "local demo servers at" in line)
    # Keep reading what the stack prints (logs, EMF metrics): a full pipe would block its handlers.
    def keep_reading(stream: IO[str]) -> None:
        for line in stream:
            output.append(line)

    threading.Thread(target=keep_reading, args=(process.stdout,), name="stack-output", daemon=True).start()
    try:
        yield RunningStack(base_url=f"http://127.0.0.1:{port}/v1", aws_endpoint=f"http://127.0.0.1:{aws_port}",
                           demo_url=demo_url, process=process, output=output)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    with running_stack() as running:
        yield running


def banner_exports(stack: RunningStack) -> dict[str, str]:
    """The variables the banner's "CLI against it" line tells a user to export."""
    line = next(line for line in stack.output if "CLI against it" in line)
    return dict(item.split("=", 1) for item in line.split("export", 1)[1].split())


def cli(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    """`mixcore …` as a user runs it after pasting the banner's exports (and nothing else of the stack's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIXCORE_", "AWS_"))}
    env.update(banner_exports(stack))
    return subprocess.run([sys.executable, "-m", "mixcore.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def create_key(stack: RunningStack, name: str) -> tuple[str, str]:
    """`mixcore keys create` as a user runs it: (key id, the key shown once)."""
    created = cli(stack, "keys", "create", "--name", name)
    assert created.returncode == 0, created.stderr
    return created.stdout.split("Created key ")[1].split(" ")[0], created.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def indexed(stack: RunningStack) -> RunningStack:
    """The stack with every fixture leaderboard stored (through `mixcore refresh --from`)."""
    result = cli(stack, "refresh", "--from", str(FIXTURES / "leaderboards"))
    assert result.returncode == 0, result.stdout + result.stderr
    return stack


@pytest.fixture
def clean_stack(stack: RunningStack) -> Iterator[RunningStack]:
    stack.reset()
    yield stack
    stack.reset()
