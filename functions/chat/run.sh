#!/bin/bash
# Started by the Lambda Web Adapter's wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap), which runs
# $LAMBDA_TASK_ROOT/$_HANDLER instead of the Python runtime's bootstrap. That bootstrap is what puts the layer
# (/opt/python) on the path, so this script must: without it every import of the layer fails on Lambda
# (tests/rehearsal starts this script from sam build's output as Lambda does). The adapter turns each invocation
# into an HTTP request to this server and streams the answer back. One process: a Lambda execution environment
# serves one request at a time. The loop, protocol and interface are named, not detected: "auto" tries to import
# uvloop, httptools and two websocket libraries the layer does not have.
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}/opt/python"
exec python -m uvicorn --app-dir "$(dirname "$0")" --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" \
  --no-access-log --no-server-header --lifespan off --loop asyncio --http h11 --ws none --interface asgi3 app:app
