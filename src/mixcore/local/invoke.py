"""`mixcore invoke`: one function's real handler run on one event, as `sam local invoke` does, without Docker.

The function gets the environment `template.yaml` gives it (resolved against the local resource
names), the AWS it talks to is the local stack's embedded one when `AWS_ENDPOINT_URL` points at it,
else one started here with the template's resources, and providers without a key are answered by
the demo servers. The shipped events in `events/` authenticate as the key `mx-events-key`
(`key_events0000`); it is created where the handler runs if it is missing, with the default mixes.

As with `sam local invoke`, the function's logs (and EMF metrics) go to stderr between Lambda's
START, END and REPORT lines (request id, duration, billed duration, memory size, max memory used),
and its response to stdout: a buffered function's proxy response as JSON, the streaming chat
function's body as the web adapter streams it. A function error prints `{"errorType",
"errorMessage"}` and fails the command.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mixcore.local.aws import LOCAL_CREDENTIALS, EmbeddedAws, physical_names
from mixcore.local.template import FunctionDef, Template

EVENTS_KEY = "mx-events-key"
EVENTS_KEY_ID = "key_events0000"
# No X-Ray daemon here; everything else (log level, metrics) is as the template sets it.
INVOKE_DEFAULTS = {"POWERTOOLS_TRACE_DISABLED": "true"}


class InvokeError(Exception):
    """The invocation could not start (unknown function, unreadable event): exit status 2."""


@dataclass
class Invocation:
    """What one invocation produced: the response, or the function's error."""

    response: Any = None
    error: dict[str, str] | None = None
    streamed: bool = False
    request_id: str = ""


def read_event(source: str, stdin: TextIO) -> dict[str, Any]:
    """The event from a file, or from stdin for `-`."""
    try:
        text = stdin.read() if source == "-" else Path(source).read_text()
    except OSError as error:
        raise InvokeError(f"cannot read the event {source}: {error.strerror}") from error
    try:
        event = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise InvokeError(f"the event {source} is not JSON: {error}") from error
    if not isinstance(event, dict):
        raise InvokeError(f"the event {source} must be a JSON object")
    return event


def env_overrides(path: str | None, function_id: str) -> dict[str, str]:
    """`--env-vars` in SAM's format: {"<FunctionLogicalId>": {...}} and/or {"Parameters": {...}} for all."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InvokeError(f"cannot read --env-vars {path}: {error}") from error
    return {k: str(v) for section in ("Parameters", function_id) for k, v in (data.get(section) or {}).items()}


@contextlib.contextmanager
def function_environment(template: Template, function: FunctionDef, overrides: dict[str, str],
                         say: Callable[[str], None]) -> Iterator[None]:
    """The process environment as the function sees it on AWS, with the embedded AWS behind it; restored after.
    `say` hears what was started or created for it."""
    saved = dict(os.environ)
    aws: EmbeddedAws | None = None
    demo = None
    try:
        if os.environ.get("AWS_ENDPOINT_URL"):
            names = physical_names(template)
            say(f"using the AWS at {os.environ['AWS_ENDPOINT_URL']}")
        else:
            from mixcore.local.stack import free_port

            aws = EmbeddedAws(free_port()).start()
            os.environ.update(aws.environment())
            names = aws.create_resources(template)
            say(f"started an embedded AWS at {aws.endpoint} with the template's resources")
        for key, value in LOCAL_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        for key, value in template.resolve(function.environment, names, os.environ["AWS_DEFAULT_REGION"]).items():
            os.environ[key] = str(value)
        os.environ.update({**INVOKE_DEFAULTS, "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
                           "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout),
                           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb)})
        os.environ.update(overrides)
        from mixcore.local.stack import use_demo_providers

        _, demo, demo_providers = use_demo_providers()
        if demo_providers:
            say(f"providers without a key ({', '.join(demo_providers)}) are answered by demo servers")
        try:
            if ensure_events_key():
                say(f"created the events' key {EVENTS_KEY_ID} and the default mixes")
        except Exception as error:  # the function will meet the same store and report it as its own error
            say(f"could not check the events' key in the table: {type(error).__name__}: {error}")
        yield
    finally:
        if demo is not None:
            demo.stop()
        if aws is not None:
            aws.stop()
        os.environ.clear()
        os.environ.update(saved)
        forget_process_state()


def ensure_events_key() -> bool:
    """The key the shipped events carry, and the default mixes; True when they had to be created."""
    from mixcore.auth.keys import hash_key, new_key
    from mixcore.container import get_store
    from mixcore.mixes.defaults import seed_default_mixes

    store = get_store()
    if store.get_key(hash_key(EVENTS_KEY)) is not None:
        return False
    _, record = new_key("events")
    record.key_hash, record.key_id = hash_key(EVENTS_KEY), EVENTS_KEY_ID
    store.put_key(record)
    seed_default_mixes(store)
    return True


def forget_process_state() -> None:
    """Settings and clients read from the environment are rebuilt on the next use (tests invoke many times)."""
    from mixcore import container
    from mixcore.settings import get_settings

    get_settings.cache_clear()
    container.reset()


@contextlib.contextmanager
def lambda_report(context: Any, say: Callable[[str], None]) -> Iterator[None]:
    """Lambda's START, END and REPORT lines around an invocation, as `sam local invoke` prints them."""
    import math
    import resource
    import time

    request_id = context.aws_request_id
    say(f"START RequestId: {request_id} Version: $LATEST")
    started = time.perf_counter()
    try:
        yield
    finally:
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        max_memory_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # Linux reports KiB
        say(f"END RequestId: {request_id}")
        say(f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: "
            f"{math.ceil(duration_ms)} ms\tMemory Size: {context.memory_limit_in_mb} MB\t"
            f"Max Memory Used: {max_memory_mb} MB")


def run_function(template: Template, function_id: str, event: dict[str, Any], *, out: TextIO,
                 overrides: dict[str, str] | None = None, say: Callable[[str], None] = print) -> Invocation:
    """Run the function's handler on the event; the streamed body (if any) is written to `out` as it comes."""
    from mixcore import runtime
    from mixcore.local.rest_api import LambdaContext, is_web_adapter_function, load_asgi_app, load_handler
    from mixcore.local.web_adapter import invoke_asgi

    functions = template.functions()
    if function_id not in functions:
        raise InvokeError(f"no function {function_id!r} in {template.path.name}; "
                          f"the functions are: {', '.join(sorted(functions))}")
    function = functions[function_id]
    context = LambdaContext(function_name=function_id, timeout_seconds=function.timeout,
                            memory_limit_in_mb=function.memory_mb)
    result = Invocation(request_id=context.aws_request_id)
    with function_environment(template, function, overrides or {}, say), lambda_report(context, say):
        try:
            if is_web_adapter_function(function):
                app = load_asgi_app(template.root, function)

                def write(piece: bytes) -> None:
                    out.write(piece.decode("utf-8", "replace"))
                    out.flush()

                result.streamed = True
                result.response = runtime.run(invoke_asgi(app, event, on_body=write))
            else:
                result.response = load_handler(template.root, function)(event, context)
        except Exception as error:  # the function's error, reported as Lambda reports it
            traceback.print_exc(file=sys.stderr)
            result.error = {"errorType": type(error).__name__, "errorMessage": str(error)}
    return result
