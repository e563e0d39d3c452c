#!/bin/bash
# Started by the Lambda Web Adapter's wrapper (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap). The adapter turns
# each invocation into an HTTP request to this server and streams the answer back. One process: a Lambda
# execution environment serves one request at a time. The loop, protocol and interface are named, not
# detected: "auto" tries to import uvloop, httptools and two websocket libraries the layer does not have.
exec python -m uvicorn --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" --no-access-log --no-server-header \
  --lifespan off --loop asyncio --http h11 --ws none --interface asgi3 app:app
