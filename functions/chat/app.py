"""ChatFunction: POST /v1/chat/completions, an ASGI app that the Lambda Web Adapter serves (see run.sh)."""

from mixcore.api.chat import build_chat_app

app = build_chat_app()
