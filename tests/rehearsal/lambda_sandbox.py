"""Lambda's execution environment, rebuilt around `sam build`'s output so the built functions start as AWS starts them.

What Lambda gives a Python function, and what this reproduces:
- the function's code at `/var/task` (the working directory) and the layer at `/opt`, both read-only;
- the runtime's interpreter at `/var/lang/bin`, with no packages of its own (here a venv of the template's
  Python without pip: the layer must bring everything), and the runtime client at `/var/runtime`;
- only the variables Lambda sets (AWS docs, "Defined runtime environment variables") plus the template's;
- the Runtime API at `AWS_LAMBDA_RUNTIME_API`, from which the runtime client takes events (`RuntimeApi`).

The layout is built in a private mount namespace (`unshare --mount`): a tmpfs over `/var`, bind mounts, and
`env -i`. The host's `/opt` and `/var` are untouched outside it. Network is the host's, so the function reaches
the embedded AWS and the demo providers on loopback as a deployed one reaches AWS and the providers.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import queue
import shlex
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import REPO

TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
LANG_DIR = "/var/lang"


def runtime_python() -> str:
    """The interpreter of the runtime template.yaml names (the Makefile finds it, as `make build` does)."""
    found = subprocess.run(["make", "-s", "--no-print-directory", "runtime-python"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.strip()
    if not found:
        raise RuntimeError("the runtime's Python (python3.12) is not on this machine")
    return found


def sam_build(build_dir: Path, arch: str = "x86_64") -> Path:
    """`make build` (sam build) into build_dir; the folder of built functions and the layer."""
    result = subprocess.run(["make", "-s", "--no-print-directory", "build", f"BUILD_DIR={build_dir}", f"ARCH={arch}"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"sam build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return build_dir


def bare_runtime(python: str, folder: Path) -> Path:
    """/var/lang: the runtime's interpreter with an empty site-packages (a venv without pip)."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(folder)], check=True)
    return folder


def runtime_client(python: str, version: str, folder: Path) -> Path:
    """/var/runtime: AWS's runtime interface client for Python (awslambdaric), its Linux wheel for this machine."""
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(folder),
                    "--platform", f"manylinux2014_{platform.machine()}", "--implementation", "cp",
                    "--only-binary=:all:", "--python-version", version, "awslambdaric>=3,<5"],
                   check=True, capture_output=True)
    return folder


def lambda_variables(function: str, handler: str, *, runtime: str, memory_mb: int, timeout_s: int,
                     runtime_api: str, region: str = "us-east-1") -> dict[str, str]:
    """The variables Lambda sets for a Python function (AWS docs, "Defined runtime environment variables")."""
    return {
        "_HANDLER": handler, "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}", "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region, "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_s), "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}", "AWS_LAMBDA_LOG_STREAM_NAME": "rehearsal",
        "AWS_LAMBDA_RUNTIME_API": runtime_api, "LAMBDA_TASK_ROOT": TASK_ROOT, "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "LANG": "en_US.UTF-8", "TZ": ":UTC", "PATH": f"{LANG_DIR}/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LD_LIBRARY_PATH": f"{LANG_DIR}/lib:/lib64:/usr/lib64:{RUNTIME_DIR}:{RUNTIME_DIR}/lib:{TASK_ROOT}:"
                           f"{TASK_ROOT}/lib:/opt/lib",
        # Tracing is Active: X-Ray's daemon is on loopback here (Lambda's is at a link-local address).
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": "2000", "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
    }


@dataclass
class Sandbox:
    """The built layer and one built function, mounted where Lambda mounts them."""

    layer: Path
    function: Path
    lang: Path
    runtime: Path

    def start(self, command: list[str], environment: dict[str, str]) -> subprocess.Popen[bytes]:
        """Run command at /var/task in the layout, with exactly `environment` (env -i)."""
        mounts = [(self.function, TASK_ROOT), (self.layer, "/opt"), (self.lang, LANG_DIR), (self.runtime, RUNTIME_DIR)]
        script = ["set -e", "mount -t tmpfs tmpfs /var"]
        for source, target in mounts:
            script += [f"mkdir -p {target}", f"mount --bind {shlex.quote(str(source))} {target}",
                       f"mount -o remount,bind,ro {target}"]
        variables = [f"{k}={v}" for k, v in sorted(environment.items())]
        script.append(f"cd {TASK_ROOT} && exec env -i {shlex.join(variables)} {shlex.join(command)}")
        unshare = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
        return subprocess.Popen([*unshare, "bash", "-c", "\n".join(script)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> str:
    """End the sandboxed process and everything it started; what it printed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=10)
    return output.decode("utf-8", "replace")


@dataclass
class Outcome:
    """What the function posted back for one invocation: its response, or its error (init or invocation)."""

    response: Any = None
    error: dict[str, Any] | None = None


@dataclass
class RuntimeApi:
    """Lambda's Runtime API (2018-06-01) on loopback: one event at a time for the runtime client to take."""

    events: queue.Queue[tuple[str, dict[str, Any]]] = field(default_factory=queue.Queue)
    outcomes: dict[str, queue.Queue[Outcome]] = field(default_factory=dict)
    init_errors: queue.Queue[Outcome] = field(default_factory=queue.Queue)
    server: ThreadingHTTPServer | None = None

    def start(self) -> RuntimeApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if not self.path.endswith("/runtime/invocation/next"):
                    self._reply(404)
                    return
                request_id, event = api.events.get()
                deadline = str(int((time.time() + 60) * 1000))
                self._reply(200, json.dumps(event).encode(), {
                    "Lambda-Runtime-Aws-Request-Id": request_id, "Lambda-Runtime-Deadline-Ms": deadline,
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:rehearsal",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                    "Content-Type": "application/json"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.strip("/").split("/")
                payload = json.loads(body or b"null")
                if parts[-2:] == ["init", "error"]:
                    api.init_errors.put(Outcome(error=payload))
                elif parts[-1] in ("response", "error") and len(parts) >= 2:
                    outcome = Outcome(response=payload) if parts[-1] == "response" else Outcome(error=payload)
                    api.outcomes.setdefault(parts[-2], queue.Queue()).put(outcome)
                self._reply(202)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event: dict[str, Any], timeout: float = 90.0) -> Outcome:
        """Hand the event to the function; its response or error (an init error counts as one)."""
        request_id = str(uuid.uuid4())
        answers = self.outcomes.setdefault(request_id, queue.Queue())
        self.events.put((request_id, event))
        waited = 0.0
        while waited < timeout:
            try:
                return answers.get(timeout=0.5)
            except queue.Empty:
                waited += 0.5
            if not self.init_errors.empty():
                return self.init_errors.get()
        raise TimeoutError(f"the function did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
