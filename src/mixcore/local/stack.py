"""`mixcore serve`: the embedded AWS, demo providers and the real functions behind a local REST API."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.types import ASGIApp

from mixcore.local.aws import EmbeddedAws, put_provider_secret
from mixcore.local.demo_providers import DemoProviderServer, catalog_output_limits
from mixcore.local.rest_api import API_ID, LocalRestApi
from mixcore.local.state import SavedState, restore_state, save_state
from mixcore.local.template import Template, find_template

LOCAL_DEFAULTS = {
    # No X-Ray daemon locally, and EMF metrics would only flood the terminal.
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    # Locally a `catalog put`, `mixes put` or refresh shows on the next request; deployed containers keep what
    # they read for 60 s (the setting's default) so that every request does not read the table.
    "MIXCORE_CACHE_TTL_SECONDS": "0",
}
# The key the local stack stores for a provider its demo servers answer. Whoever reads the stack's secret
# (`mixcore invoke` with the banner's exports) knows from it that the provider is a demo, not a real host.
DEMO_KEY_PREFIX = "demo-key-"


@dataclass
class StackOptions:
    port: int = 8080
    aws_port: int = 0
    demo_port: int = 0
    demo_latency_ms: float = 0.0
    demo_chunk_ms: float = 0.0
    dev_key: str | None = None
    template: Path | None = None
    host: str = "127.0.0.1"
    access_log: bool = False
    state_dir: Path | None = None  # where state is kept across restarts (None: in memory only)
    fresh: bool = False  # with state_dir: do not restore what is there


@dataclass
class LocalStack:
    options: StackOptions
    aws: EmbeddedAws | None = None
    demo: DemoProviderServer | None = None
    http: LocalServer | None = None
    dev_key: str = ""
    demo_providers: list[str] = field(default_factory=list)
    real_providers: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    restored: SavedState | None = None
    template: Template | None = None

    def start(self) -> LocalStack:
        options = self.options
        template = Template.load(options.template or find_template())
        aws_port = options.aws_port or free_port()
        self.aws = EmbeddedAws(aws_port).start()
        os.environ.update(self.aws.environment())
        for key, value in LOCAL_DEFAULTS.items():
            os.environ.setdefault(key, value)
        self.names = self.aws.create_resources(template)
        self.template = template
        if options.state_dir is not None and not options.fresh:
            self.restored = restore_state(self.aws, options.state_dir)
            options.dev_key = options.dev_key or self.restored.dev_key
        for fn in template.functions().values():
            for key, value in template.resolve(fn.environment, self.names, "us-east-1").items():
                os.environ.setdefault(key, str(value))
        self._configure_providers()
        self._seed()
        api = LocalRestApi(template)
        api.load_all()
        self.http = LocalServer(api, host=options.host, port=options.port, access_log=options.access_log).start()
        return self

    def _configure_providers(self) -> None:
        self.real_providers, self.demo, self.demo_providers = use_demo_providers(
            self.options.demo_port, latency_ms=self.options.demo_latency_ms, chunk_ms=self.options.demo_chunk_ms)
        secret = self.names.get("ProviderKeysSecret")
        if self.demo_providers and secret and self.aws is not None:
            # The demo keys go where a deployment keeps provider keys, so the CLI (`mixcore mixes list`) sees
            # the providers this stack can call, as a deployed stack's CLI sees the secret's.
            put_provider_secret(self.aws, secret,
                                {name.upper(): DEMO_KEY_PREFIX + name for name in self.demo_providers})

    def _seed(self) -> None:
        from mixcore.auth.keys import hash_key, key_id_for, new_key
        from mixcore.container import get_store

        store = get_store()
        if self.options.dev_key:
            _, record = new_key("local-dev")
            record.key_hash = hash_key(self.options.dev_key)
            record.key_id = key_id_for(record.key_hash)
            self.dev_key = self.options.dev_key
        else:
            self.dev_key, record = new_key("local-dev")
        store.put_key(record)
        from mixcore.mixes.defaults import seed_default_mixes

        seed_default_mixes(store)

    @property
    def base_url(self) -> str:
        assert self.http is not None
        return self.http.url + "/v1"

    def banner(self) -> str:
        assert self.aws is not None
        lines = [
            "Mixcore local stack is up.",
            f"  OpenAI base_url : {self.base_url}",
            f"  API key         : {self.dev_key}",
            f"  embedded AWS    : {self.aws.endpoint}  (moto; tables, bucket, stream and secret from template.yaml)",
            f"  CLI against it  : export AWS_ENDPOINT_URL={self.aws.endpoint} AWS_ACCESS_KEY_ID=local "
            "AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1"
            + (f" MIXCORE_PROVIDER_SECRET_ID={self.names['ProviderKeysSecret']}"
               if self.names.get("ProviderKeysSecret") else "")
            + f" MIXCORE_API_ID={API_ID} AWS_ENDPOINT_URL_API_GATEWAY={self.http.url if self.http else ''}",
        ]
        if self.options.state_dir is None:
            lines.append("  state           : in memory only, gone at stop (make run keeps it: --state-dir)")
        elif self.restored is None:
            lines.append(f"  state           : begun empty (--fresh); kept in {self.options.state_dir} at stop")
        else:
            lines.append(f"  state           : kept in {self.options.state_dir} (restored {self.restored.items} items, "
                         f"{self.restored.objects} objects); --fresh begins empty")
        if self.real_providers:
            lines.append(f"  real providers  : {', '.join(self.real_providers)}")
        if self.demo_providers and self.demo is not None:
            lines += [
                "",
                "  !!! DEMO PROVIDERS: no API key is set for " + ", ".join(self.demo_providers) + ".",
                f"  !!! Their models are answered by local demo servers at {self.demo.url} (no real LLM).",
                "  !!! Set MIXCORE_PROVIDER_<NAME>_API_KEY (e.g. MIXCORE_PROVIDER_OPENAI_API_KEY) for real answers.",
            ]
        lines += ["", "  try: curl -s " + self.base_url + "/chat/completions -H 'Authorization: Bearer "
                  + self.dev_key + "' -H 'content-type: application/json' "
                  "-d '{\"model\":\"openai/gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'",
                  "  Ctrl-C stops everything."]
        return "\n".join(lines)

    def _kept(self, resource_type: str) -> list[str]:
        assert self.template is not None
        return [self.names[n] for n in self.template.resources(resource_type) if n in self.names]

    def stop(self) -> None:
        if self.http is not None:
            self.http.stop()
        if self.options.state_dir is not None and self.aws is not None and self.template is not None:
            save_state(self.aws, self._kept("AWS::DynamoDB::Table"), self._kept("AWS::S3::Bucket"),
                       self.options.state_dir, self.dev_key)
        if self.demo is not None:
            self.demo.stop()
        if self.aws is not None:
            self.aws.stop()


def use_demo_providers(port: int = 0, *, latency_ms: float = 0.0, chunk_ms: float = 0.0,
                       ) -> tuple[list[str], DemoProviderServer | None, list[str]]:
    """Point every provider without a key at a local demo server (started here); the real providers, the
    server (None when every provider has a key) and the demo providers."""
    from mixcore.catalog import get_catalog
    from mixcore.providers.config import load_providers, provider_env_names

    configs = load_providers()
    missing = [c for c in configs.values()
               if not c.configured or (c.source == "secret" and c.api_key.startswith(DEMO_KEY_PREFIX))]
    real = sorted(n for n, c in configs.items() if c not in missing)
    if not missing:
        return real, None, []
    catalog = get_catalog()
    known = {c.name: {m.api_model for m in catalog.by_provider(c.name)} for c in missing}
    demo = DemoProviderServer(port, latency_ms=latency_ms, chunk_delay_ms=chunk_ms, known_models=known,
                              output_limits=catalog_output_limits(catalog.models.values())).start()
    for config in missing:
        base_env, key_env = provider_env_names(config.name)
        os.environ[base_env] = demo.base_url(config.name, config.protocol)
        os.environ[key_env] = DEMO_KEY_PREFIX + config.name
    return real, demo, [c.name for c in missing]


class LocalServer:
    """uvicorn serving an ASGI app from a daemon thread (the local REST API, with real streaming)."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 8080, access_log: bool = False) -> None:
        import uvicorn

        self.host = host
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    access_log=access_log, lifespan="off", timeout_keep_alive=75))
        self.thread = threading.Thread(target=self.server.run, name="local-rest-api", daemon=True)

    def start(self, timeout: float = 15.0) -> LocalServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local API server did not start (is the port in use?)")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
