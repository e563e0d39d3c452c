"""functions/chat/run.sh, the command the Lambda Web Adapter starts: it serves the chat app on AWS_LWA_PORT."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import REPO
from tests.integration.conftest import free_port

READY_WITHIN_SECONDS = 30.0


def test_run_sh_serves_the_chat_app_where_the_adapter_checks_readiness() -> None:
    # Given the start script, with the layer's code on the path as /opt/python is on Lambda
    port = free_port()
    environment = {**os.environ, "AWS_LWA_PORT": str(port), "AWS_DEFAULT_REGION": "us-east-1",
                   "PYTHONPATH": str(REPO / "src"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    server = subprocess.Popen(["bash", "run.sh"], cwd=REPO / "functions" / "chat", env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        # When the adapter polls its readiness path
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        ready = None
        while ready is None and time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.TransportError:
                time.sleep(0.1)
        # Then the app answers it, and a chat request without the authorizer's context is refused in OpenAI's shape
        assert ready is not None, server.stderr.read().decode() if server.poll() is not None else "not ready in time"
        assert (ready.status_code, ready.json()) == (200, {"ok": True})
        refused = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "x"}, timeout=5)
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stderr:
            server.stderr.close()
