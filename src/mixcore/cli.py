"""The `mixcore` command: run the local stack, manage keys, refresh leaderboards, read costs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mixcore.catalog.models import Overrides
    from mixcore.store.base import Store


def _print_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) if rows else len(c) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


def cmd_serve(args: argparse.Namespace) -> int:
    from mixcore.local.stack import LocalStack, StackOptions

    stack = LocalStack(StackOptions(port=args.port, aws_port=args.aws_port, demo_latency_ms=args.demo_latency_ms,
                                    demo_chunk_ms=args.demo_chunk_ms,
                                    dev_key=args.dev_key or os.environ.get("MIXCORE_DEV_KEY"),
                                    template=Path(args.template) if args.template else None,
                                    access_log=args.access_log,
                                    state_dir=Path(args.state_dir) if args.state_dir else None, fresh=args.fresh))
    stop = threading.Event()
    # Both set here: a shell's background job starts with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt, so Ctrl-C (or a test's SIGINT) would not stop the stack.
    for stopping in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stopping, lambda *_: stop.set())
    try:
        stack.start()
        print(stack.banner(), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        print("\nStopping the local stack...", flush=True)
        stack.stop()
    return 0


def _store() -> Store:
    from mixcore.container import get_store

    return get_store()


def cmd_keys(args: argparse.Namespace) -> int:
    from mixcore.auth.keys import new_key

    store = _store()
    if args.action == "create":
        key, record = new_key(args.name, monthly_budget_usd=args.budget, requests_per_minute=args.rpm,
                              allow_unpriced=args.allow_unpriced)
        store.put_key(record)
        print(f"Created key {record.key_id} ({record.name}). It is shown once; store it now:\n{key}")
        return 0
    if args.action == "list":
        rows = [k.public() for k in store.list_keys()]
        _print_table(rows, ["key_id", "name", "created_at", "revoked", "monthly_budget_usd", "requests_per_minute",
                            "allow_unpriced"])
        return 0
    if not args.key_id:
        print("mixcore keys revoke: give the key id (see `mixcore keys list`)", file=sys.stderr)
        return 2
    if not store.revoke_key(args.key_id):
        print(f"No key {args.key_id}.", file=sys.stderr)
        return 1
    print(f"Revoked {args.key_id}.")
    if args.no_flush:
        print(f"The authorizer cache was not flushed: the key keeps working until its cached answer expires {_TTL}.")
        return 0
    return _flush_authorizer_cache()


_TTL = "(AuthorizerCacheSeconds, 300 s by default)"


def _flush_authorizer_cache() -> int:
    """API Gateway's FlushStageAuthorizersCache for the stack's stage, so a revocation holds from the next request."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from mixcore.settings import get_settings

    settings = get_settings()
    if not settings.api_id:
        print(f"Set MIXCORE_API_ID (the stack's ApiId output) to flush the authorizer cache; until it expires {_TTL} "
              "the key keeps working.", file=sys.stderr)
        return 0
    try:
        boto3.client("apigateway").flush_stage_authorizers_cache(restApiId=settings.api_id,
                                                                 stageName=settings.api_stage)
    except (BotoCoreError, ClientError) as error:
        print(f"Could not flush the authorizer cache of API {settings.api_id} stage {settings.api_stage}: {error}. "
              f"The key keeps working until its cached answer expires {_TTL}.", file=sys.stderr)
        return 1
    print(f"Flushed the authorizer cache of API {settings.api_id} stage {settings.api_stage}: the key is refused "
          "from the next request.")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    import asyncio

    from mixcore.leaderboards.fetch import open_fetcher
    from mixcore.leaderboards.indexer import Report, refresh
    from mixcore.leaderboards.service import refresh_prices

    sources = [args.source] if args.source else None
    if args.snapshot and not args.from_path:
        print("mixcore refresh --snapshot needs --from (e.g. tests/fixtures/leaderboards)", file=sys.stderr)
        return 2
    if args.snapshot:
        from mixcore.store.memory import MemoryStore

        store: Store = MemoryStore()
    else:
        store = _store()

    async def run() -> Report:
        async with open_fetcher(Path(args.from_path) if args.from_path else None, sources) as fetcher:
            return await refresh(store, fetcher, sources)

    where = args.from_path or "the network"
    print(f"Refreshing {', '.join(sources or ['every source'])} from {where}...", file=sys.stderr, flush=True)
    report = asyncio.run(run())
    for outcome in report.outcomes:
        print(outcome.line())
    if args.snapshot:
        return write_snapshot(store)
    print(f"{report.count('stored')} stored, {report.count('unchanged')} unchanged, "
          f"{report.count('rejected')} rejected" + (f"; failed sources: {', '.join(report.failed_sources)}"
                                                    if report.failed_sources else ""))
    for source in report.failed_sources:
        for reason in report.reasons(source) or ["no reason recorded"]:
            print(f"  {source} failed: {reason}")
    # Saved leaderboards come with saved price tables or none: an offline refresh never reaches the network.
    prices = Path(args.prices_from) if args.prices_from else None
    fetch = prices is not None or not args.from_path
    print(f"Refreshing the catalog from {prices or ('the network' if fetch else 'the stored price tables')}...",
          file=sys.stderr, flush=True)
    catalog = asyncio.run(refresh_prices(store, prices, fetch=fetch))
    for line in catalog.lines():
        print(line)
    bad_tables = [t for t in catalog.tables if t.action in ("failed", "rejected")]
    return 1 if report.failed_sources or bad_tables else 0


def write_snapshot(store: Store) -> int:
    """The package's leaderboard snapshot: the default index mixes' categories, from what was just read."""
    from datetime import UTC, datetime

    from mixcore.leaderboards import snapshot
    from mixcore.mixes.definitions import default_index_categories

    categories = default_index_categories()
    built_at = datetime.now(UTC).isoformat(timespec="seconds")
    data = snapshot.snapshot_of(store.list_latest(), categories, built_at)
    target = Path(snapshot.__file__).parent / snapshot.SNAPSHOT_FILE
    target.write_text(json.dumps(data, indent=None, separators=(",", ":")) + "\n")
    missing = sorted(f"{s}/{c}" for s, c in categories - {(r["source"], r["category"]) for r in data["rankings"]})
    print(f"Wrote {len(data['rankings'])} rankings to {target}" + (f"; missing: {', '.join(missing)}" if missing
                                                                   else ""))
    return 1 if missing else 0


def cmd_mixes(args: argparse.Namespace) -> int:
    from mixcore.container import get_gateway
    from mixcore.mixes.defaults import seed_default_mixes
    from mixcore.mixes.definitions import parse_mix

    store = _store()
    if args.action == "seed":
        print(f"Wrote {seed_default_mixes(store, overwrite=args.overwrite)} default mixes.")
        return 0
    if args.action == "put":
        if not args.file:
            print("mixcore mixes put FILE.json", file=sys.stderr)
            return 2
        raw = json.loads(Path(args.file).read_text())
        for item in raw if isinstance(raw, list) else [raw]:
            mix = parse_mix(item)
            store.put_mix(mix.model_dump(mode="json"))
            print(f"Stored {mix.id} ({mix.kind}). A new mix answers at once; a change to an existing one reaches "
                  "running containers within MIXCORE_CACHE_TTL_SECONDS (60 s by default).")
        return 0
    registry = get_gateway().registry
    if args.action == "show":
        print(json.dumps(registry.describe(args.mix_id), indent=2))
        return 0
    rows = []
    for mix in registry.mixes().values():
        row = {"id": mix.id, "kind": mix.kind, "resolves_to": ""}
        if mix.kind == "index":
            view = registry.describe(mix.id).get("resolution", {})
            candidates, skipped = view.get("candidates") or [], view.get("skipped") or []
            if candidates:
                row["resolves_to"] = candidates[0]["model"]
            elif skipped:
                row["resolves_to"] = f"{skipped[0]['model'] or skipped[0]['name']} ({skipped[0]['reason']})"
            else:
                row["resolves_to"] = view.get("error", "nothing ranked")[:80]
        elif mix.kind == "route":
            view = registry.describe(mix.id).get("resolution", {})
            row["resolves_to"] = (f"strong {view['strong']}, weak {view['weak']}" if "strong" in view
                                  else view.get("error", "")[:80])
        rows.append(row)
    _print_table(rows, ["id", "kind", "resolves_to"])
    return 0


def cost_records(bucket: str | None) -> list[dict[str, Any]]:
    """Every cost record in the bucket (default: MIXCORE_COST_BUCKET_NAME), saying where it reads them from."""
    import boto3

    from mixcore.costs.report import read_records
    from mixcore.settings import get_settings

    name = bucket or get_settings().cost_bucket_name
    print(f"Reading cost records from s3://{name}/ ...", file=sys.stderr, flush=True)
    return list(read_records(boto3.client("s3"), name))


def cmd_costs(args: argparse.Namespace) -> int:
    from mixcore.costs.report import summarise

    records = cost_records(args.bucket)
    rows = summarise(records, args.by, args.since)
    for row in rows:
        row["cost_usd"] = f"{row['cost_usd']:.6f}"
    columns = [args.by, "requests", "calls", "prompt_tokens", "completion_tokens", "cost_usd"]
    if args.by == "model":
        columns.remove("requests")
    _print_table(rows, columns)
    total = sum(r["cost_usd"] for r in records if not args.since or r["time"][:10] >= args.since)
    print(f"total: {len([r for r in records if not args.since or r['time'][:10] >= args.since])} requests, "
          f"${total:.6f}")
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    if args.action == "build":
        from mixcore.catalog.build import write_catalog

        summary = write_catalog(Path(args.fixtures), Path(args.out) if args.out else None)
        print(json.dumps(summary, indent=2))
        return 0
    from mixcore.catalog.live import apply_overrides, live_file, stored_overrides

    store = _store()
    if args.action == "accept":
        return accept_prices(store, args.source)
    head = store.catalog_head()
    current = stored_overrides(head)
    if args.action == "show":
        file = apply_overrides(live_file(store, head), current)
        state = head.get("state") or {}
        print(f"live catalog {file.version}: {len(file.models)} models"
              + (f", built {state['built_at']}" if state.get("built_at") else " (the packaged seed)"))
        for source, stamp in file.tables.items():
            print(f"  {source}: {stamp.models} models from {stamp.origin}"
                  + (f", fetched {stamp.fetched_at}" if stamp.fetched_at else ""))
        if not current.is_empty():
            print("operator overrides:\n" + current.model_dump_json(indent=2, exclude_defaults=True))
        history = store.catalog_history(10)
        if history:
            _print_table(history, ["version", "built_at", "models"])
        for source, moves in sorted((state.get("refused_prices") or {}).items()):
            print(f"  {source}: {len(moves)} price move(s) refused, unconfirmed (mixcore catalog accept {source})")
        runs = {k: n for k, n in (state.get("leader_unmapped_runs") or {}).items() if n}
        for key, count in sorted(runs.items()):
            print(f"  {key}: #1 unmapped for {count} refresh(es)")
        return 0
    if args.reset:
        store.put_catalog_overrides({})
        print("Dropped every operator override; running containers follow within MIXCORE_CACHE_TTL_SECONDS.")
        return 0
    try:
        added = overrides_from_args(args)
    except ValueError as error:
        print(f"mixcore catalog put: {error}", file=sys.stderr)
        return 2
    if added.is_empty():
        print("mixcore catalog put: give --file or at least one of --alias, --unmapped, --exclude, --price",
              file=sys.stderr)
        return 2
    merged = current.merged(added)
    known = {m.id for m in live_file(store, head).models} | {m.id for m in merged.models}
    unknown = sorted({*merged.aliases.values(), *merged.prices} - known)
    if unknown:
        print(f"mixcore catalog put: not in the live catalog (add them with \"models\" in --file): "
              f"{', '.join(unknown)}", file=sys.stderr)
        return 2
    store.put_catalog_overrides(merged.model_dump(mode="json", exclude_defaults=True))
    print(f"Stored the catalog overrides ({len(merged.aliases)} aliases, {len(merged.unmapped)} unmapped, "
          f"{len(merged.exclude)} excluded, {len(merged.prices)} prices, {len(merged.models)} models). Running "
          "containers use them within MIXCORE_CACHE_TTL_SECONDS (60 s by default).")
    return 0


def accept_prices(store: Any, source: str | None) -> int:
    """`mixcore catalog accept SOURCE`: print the refused price moves, accept them, rebuild the catalog."""
    from mixcore.catalog.prices import PRICE_SOURCES
    from mixcore.catalog.refresh import accept_refused
    from mixcore.leaderboards.service import refresh_prices

    if source not in PRICE_SOURCES:
        print(f"mixcore catalog accept: name a price source: {', '.join(PRICE_SOURCES)}", file=sys.stderr)
        return 2
    moves = accept_refused(store, source)
    if not moves:
        print(f"No price moves from {source} are waiting: nothing to accept.")
        return 0
    for move in moves:
        print(f"  {move['model']}: {'; '.join(move['rates'])}")
    report = asyncio.run(refresh_prices(store, None, fetch=False))
    print(f"Accepted {len(moves)} price move(s) from {source}; they are the new anchors. Catalog version "
          f"{report.version}; running containers follow within MIXCORE_CACHE_TTL_SECONDS.")
    return 0


def overrides_from_args(args: argparse.Namespace) -> Overrides:
    from mixcore.catalog.models import Overrides, Price

    raw: dict[str, Any] = json.loads(Path(args.file).read_text()) if args.file else {}
    overrides = Overrides.model_validate(raw)
    for item in args.alias or []:
        name, _, model_id = item.partition("=")
        if not name or not model_id:
            raise ValueError(f"--alias wants NAME=PROVIDER/MODEL, not {item!r}")
        overrides.aliases[name] = model_id
    for item in args.unmapped or []:
        name, _, reason = item.partition("=")
        if not name or not reason:
            raise ValueError(f"--unmapped wants NAME=REASON, not {item!r}")
        overrides.unmapped[name] = reason
    overrides.exclude += args.exclude or []
    for item in args.price or []:
        model_id, _, rates = item.partition("=")
        parts = rates.split(",")
        try:
            if not model_id or len(parts) != 2:
                raise ValueError
            overrides.prices[model_id] = Price(input=float(parts[0]), output=float(parts[1]))
        except ValueError:  # pydantic's ValidationError is one: a rate that is NaN, infinite or below 0
            raise ValueError(f"--price wants PROVIDER/MODEL=INPUT,OUTPUT in USD per 1M tokens (finite, 0 or more), "
                             f"not {item!r}") from None
    return overrides


LAMBDA_LINES = ("START RequestId", "END RequestId", "REPORT RequestId")  # printed as Lambda prints them


MIN_CALIBRATION_PROMPTS = 20


def cmd_route(args: argparse.Namespace) -> int:
    """`mixcore route ...`: routing data, a router's scores, its figures, a cascade's and the categories' (routing/)."""
    from mixcore.routing.datasets import DataError

    try:
        return route_action(args)
    except (DataError, OSError, UnicodeDecodeError) as error:  # the user's data, or a file that cannot be read
        print(f"mixcore route {args.action}: {error}", file=sys.stderr)
        return 2


def route_action(args: argparse.Namespace) -> int:
    from mixcore.routing.datasets import from_routellm, read_jsonl_file, read_prompts, write_jsonl

    if args.action == "convert":
        sys.stdout.writelines(write_jsonl(from_routellm(Path(args.routellm))))
        return 0
    if args.action == "calibrate":
        return calibrate_route(args)
    if args.action == "score":
        from mixcore.routing.router import shipped_router

        for prompt_id, prompt in read_prompts(sys.stdin):
            score = shipped_router().score(prompt) if args.router == "ngram" else float(len(prompt))
            print(json.dumps({"id": prompt_id, "score": round(score, 6)}), flush=True)
        return 0
    if args.action == "cascade":
        return cascade_eval(args)
    if args.action == "categories":
        from mixcore.routing.category_checks import category_scores, category_table

        hand = Path(args.routellm).parent / "categories"
        print("\n".join(category_table(category_scores(hand, from_routellm(Path(args.routellm))))))
        return 0
    from mixcore.routing.experiments import evaluate, goals_table, table

    examples = read_jsonl_file(Path(args.data)) if args.data else from_routellm(Path(args.routellm))
    shipped, shipped_on = None, frozenset[str]()
    if args.data and args.router == "ngram":
        from mixcore.routing.router import shipped_router

        # The shipped router was trained on RouteLLM's prompts: it is read on a user's data, never on those.
        vendored = Path(args.routellm)
        shipped_on = frozenset(e.prompt for e in from_routellm(vendored)) if vendored.is_dir() else frozenset()
        shipped = lambda rows: shipped_router().scores([e.prompt for e in rows])  # noqa: E731
    prices = pair_prices(args.pair)
    rows = evaluate(examples, args.router, labels=args.labels, draws=args.draws, bootstrap=args.bootstrap,
                    shipped=shipped, shipped_on=shipped_on, prices=prices,
                    progress=lambda text: print(f"... {text}", file=sys.stderr, flush=True))
    print("\n".join(table(rows)))
    print(f"\nStrong/weak pair for the dollar column: {args.pair}; prompts at 4 characters a token, answers "
          "300 tokens.\n")
    judged = goals_table(rows)
    if len(judged) > 2:  # a header and rows: a user's own data has no goals
        print("\n".join(judged))
    return 0


def cascade_eval(args: argparse.Namespace) -> int:
    """`mixcore route cascade`: the AutoMix cascade's figures on RouteLLM's recorded GSM8K answers, every call's
    cost counted, with the stand-in verifier (routing/cascade.py)."""
    from mixcore.mixes.definitions import RouteMix
    from mixcore.routing.cascade import answered_gsm8k, cascade_table, evaluate_cascade

    prices = pair_prices(args.pair)
    if prices is None:
        print(f"mixcore route cascade: the catalog has no prices for {args.pair}", file=sys.stderr)
        return 2
    samples = args.samples or RouteMix.model_fields["verify_samples"].default
    print(f"... scoring {samples}-verdict cascades on RouteLLM's GSM8K answers", file=sys.stderr, flush=True)
    found = evaluate_cascade(answered_gsm8k(Path(args.routellm) / "gsm8k"), prices, samples=samples,
                             draws=args.draws // 5)
    print("\n".join(cascade_table(found, args.pair)))
    return 0


def calibrate_route(args: argparse.Namespace) -> int:
    """`mixcore route calibrate --key ID`: fit the share → threshold table to the scores in the key's cost records."""
    from mixcore.routing.thresholds import quantile_table, threshold_for

    if not args.key:
        print("mixcore route calibrate: give --key (the key id whose traffic to calibrate on)", file=sys.stderr)
        return 2
    scores = [float(r["route"]["score"]) for r in cost_records(args.bucket)
              if r.get("key_id") == args.key and isinstance(r.get("route"), dict)
              and r["route"].get("router") == args.router and r["route"].get("score") is not None]
    if len(scores) < MIN_CALIBRATION_PROMPTS:
        print(f"mixcore route calibrate: {len(scores)} routed requests of key {args.key} with the {args.router} "
              f"router; at least {MIN_CALIBRATION_PROMPTS} are needed.", file=sys.stderr)
        return 2
    table = quantile_table(scores)
    _store().put_route_table(args.key, args.router, {"quantiles": table, "prompts": len(scores),
                                                      "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                 time.gmtime())})
    print(f"Calibrated the {args.router} router on {len(scores)} of key {args.key}'s prompts:")
    for share in (0.1, 0.3, 0.5, 0.7, 0.9):
        print(f"  strong_share {share:.0%}: score ≥ {threshold_for(table, share):g}")
    print("Its route mixes use these within MIXCORE_CACHE_TTL_SECONDS.")
    return 0


def pair_prices(pair: str) -> tuple[float, float, float, float] | None:
    """--pair STRONG,WEAK priced by the catalog."""
    from mixcore.routing.cascade import pair_prices as priced

    strong_id, _, weak_id = pair.partition(",")
    return priced(strong_id, weak_id)


def cmd_invoke(args: argparse.Namespace) -> int:
    from mixcore.local.invoke import InvokeError, env_overrides, read_event, run_function
    from mixcore.local.template import Template, find_template

    out = sys.stdout
    try:
        template = Template.load(Path(args.template) if args.template else find_template())
        event = read_event(args.event, sys.stdin)
        overrides = env_overrides(args.env_vars, args.function)
        print(f"Invoking {args.function} with {args.event if args.event != '-' else 'the event on stdin'}...",
              file=sys.stderr, flush=True)
        # The function's logs and metrics go to stderr, as `sam local invoke` prints them; stdout is the answer.
        with contextlib.redirect_stdout(sys.stderr):
            result = run_function(template, args.function, event, out=out, overrides=overrides,
                                  say=lambda note: print(note if note.startswith(LAMBDA_LINES) else f"  {note}",
                                                         file=sys.stderr, flush=True))
    except (InvokeError, FileNotFoundError) as error:
        print(f"mixcore invoke: {error}", file=sys.stderr)
        return 2
    if result.error is not None:
        print(json.dumps(result.error), file=out)
        return 1
    response = result.response
    if result.streamed:
        out.write("\n")
        print(f"{args.function} answered {response['statusCode']} "
              f"({response['headers'].get('content-type', '')}), streamed above", file=sys.stderr)
    else:
        print(json.dumps(response), file=out)
    status = response.get("statusCode") if isinstance(response, dict) else None
    return 1 if isinstance(status, int) and status >= 500 else 0


def usd(text: str) -> float:
    """An amount of US dollars: finite and not negative (a NaN budget would compare false with every spend)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of USD") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: an amount of USD is a finite number, 0 or more")
    return value


def count_from(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number, `least` or more."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{text!r}: give {least} or more")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixcore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the local stack (handlers, embedded AWS, demo providers)")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--aws-port", type=int, default=0, help="embedded AWS port (default: a free port)")
    serve.add_argument("--demo-latency-ms", type=float, default=200.0, help="latency of the demo providers")
    serve.add_argument("--demo-chunk-ms", type=float, default=40.0,
                       help="interval between the pieces of a demo provider's streamed answer")
    serve.add_argument("--dev-key", help="use this dev key instead of a random one (or MIXCORE_DEV_KEY)")
    serve.add_argument("--template", help="path to template.yaml")
    serve.add_argument("--access-log", action="store_true")
    serve.add_argument("--state-dir", help="keep keys, costs, mixes, overrides and rankings here across restarts "
                                           "(make run: .mixcore-state); without it, all is in memory")
    serve.add_argument("--fresh", action="store_true", help="with --state-dir: begin empty (the old state is "
                                                            "replaced when the stack stops)")
    serve.set_defaults(func=cmd_serve)

    keys = sub.add_parser("keys", help="create, list and revoke client API keys")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("key_id", nargs="?")
    keys.add_argument("--name", default="default")
    keys.add_argument("--budget", type=usd, help="monthly budget in USD")
    keys.add_argument("--rpm", type=count_from(1), help="requests per minute")
    keys.add_argument("--no-flush", action="store_true",
                      help="with revoke: leave API Gateway's authorizer cache (the key works until it expires)")
    keys.add_argument("--allow-unpriced", action="store_true",
                      help="let a budgeted key call models the catalog has no price for (their cost is not counted)")
    keys.set_defaults(func=cmd_keys)

    refresh = sub.add_parser("refresh", help="one indexer run: fetch, parse, check and store leaderboards")
    refresh.add_argument("--source", choices=["lmsys", "seal", "bigcodebench"])
    refresh.add_argument("--from", dest="from_path", help="a saved file, or a folder with source/ sub-folders")
    refresh.add_argument("--prices-from", help="a folder of saved price tables (LiteLLM, OpenRouter, models.dev); "
                                               "without it, --from leaves the catalog's tables as stored")
    refresh.add_argument("--snapshot", action="store_true",
                         help="write the package's leaderboard snapshot (what a fresh stack answers from) instead "
                              "of storing")
    refresh.set_defaults(func=cmd_refresh)

    mixes = sub.add_parser("mixes", help="list, show, add or seed mix definitions")
    mixes.add_argument("action", choices=["list", "show", "put", "seed"], nargs="?", default="list")
    mixes.add_argument("mix_id", nargs="?", help="with show: the mix id")
    mixes.add_argument("--file", help="with put: a JSON mix definition (or a list of them)")
    mixes.add_argument("--overwrite", action="store_true", help="with seed: replace stored defaults")
    mixes.set_defaults(func=cmd_mixes)

    costs = sub.add_parser("costs", help="summarise the cost records in S3")
    costs.add_argument("--since", help="YYYY-MM-DD")
    costs.add_argument("--by", choices=["day", "key", "mix", "model"], default="day")
    costs.add_argument("--bucket", help="the cost bucket (default: MIXCORE_COST_BUCKET_NAME)")
    costs.set_defaults(func=cmd_costs)

    catalog = sub.add_parser("catalog", help="show the live model catalog, add operator overrides, accept refused "
                                             "price moves, or rebuild the packaged one")
    catalog.add_argument("action", choices=["show", "put", "build", "accept"], nargs="?", default="show")
    catalog.add_argument("source", nargs="?", help="with accept: the price source whose refused moves to accept "
                                                   "(litellm, openrouter, models.dev)")
    catalog.add_argument("--file", help="with put: overrides JSON ({aliases, unmapped, exclude, prices, models})")
    catalog.add_argument("--alias", action="append", metavar="NAME=ID", help="with put: a leaderboard name → model")
    catalog.add_argument("--unmapped", action="append", metavar="NAME=REASON",
                         help="with put: a leaderboard name no index mix may call, and why")
    catalog.add_argument("--exclude", action="append", metavar="ID", help="with put: a model id to leave out")
    catalog.add_argument("--price", action="append", metavar="ID=IN,OUT",
                         help="with put: the price to charge, USD per 1M input and output tokens")
    catalog.add_argument("--reset", action="store_true", help="with put: drop every operator override")
    catalog.add_argument("--fixtures", default="tests/fixtures", help="folder with pricing/ and leaderboards/")
    catalog.add_argument("--out", help="output path (default: the package's catalog.json)")
    catalog.set_defaults(func=cmd_catalog)

    route = sub.add_parser("route", help="prompt routing: convert evaluation data, score prompts, evaluate a "
                                         "router with RouteLLM's metrics, calibrate a key's thresholds, evaluate "
                                         "the AutoMix cascade on recorded answers, check index/auto's categories "
                                         "on labelled prompts")
    route.add_argument("action", choices=["convert", "score", "eval", "calibrate", "cascade", "categories"])
    route.add_argument("--key", help="with calibrate: the key id whose logged scores to fit the thresholds to")
    route.add_argument("--bucket", help="with calibrate: the cost bucket (default: MIXCORE_COST_BUCKET_NAME)")
    route.add_argument("--router", choices=["ngram", "length"], default="ngram")
    route.add_argument("--data", help="with eval: unified JSONL ({id, prompt, strong, weak, benchmark, group})")
    route.add_argument("--routellm", default="tests/fixtures/routing/routellm",
                       help="RouteLLM's evals folder (mmlu/, gsm8k/): what convert reads, and eval without --data")
    route.add_argument("--labels", type=count_from(0), default=0,
                       help="with eval: also train on this many in-domain prompts and score the rest (\"with your "
                            "own logs\")")
    route.add_argument("--pair", default="openai/gpt-4-1106-preview,"
                                         "fireworks/accounts/fireworks/models/mixtral-8x7b-instruct",
                       help="with eval and cascade: STRONG,WEAK catalog ids priced in the dollar column")
    route.add_argument("--samples", type=count_from(1),
                       help="with cascade: verdicts per verification (k; default: the route cascade mixes')")
    route.add_argument("--draws", type=count_from(1), default=1_000, help="with eval: random-router draws")
    route.add_argument("--bootstrap", type=count_from(0), default=200, help="with eval: bootstrap resamples")
    route.set_defaults(func=cmd_route)

    invoke = sub.add_parser("invoke", help="run one function's handler on an event, like `sam local invoke` "
                                           "without Docker")
    invoke.add_argument("function", help="the function's logical id in template.yaml (e.g. ChatFunction)")
    invoke.add_argument("--event", "-e", default="-", help="the event file (events/*.json), or - for stdin")
    invoke.add_argument("--env-vars", "-n", help="JSON overrides in SAM's format: {\"ChatFunction\": {...}}")
    invoke.add_argument("--template", "-t", help="path to template.yaml")
    invoke.set_defaults(func=cmd_invoke)
    return parser


LOCAL_HINT = ("for the local stack, paste the export line its banner prints; for a deployment, "
              "set AWS_PROFILE (or AWS credentials) and AWS_DEFAULT_REGION")


def aws_problem(error: Exception) -> str | None:
    """One line saying what is missing for a command that needs AWS, or None when the error is not about that."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(error, NoRegionError):
        return f"no AWS region is set: {LOCAL_HINT}."
    if isinstance(error, NoCredentialsError):
        return f"no AWS credentials were found: {LOCAL_HINT}."
    if isinstance(error, EndpointConnectionError):
        endpoint = error.kwargs.get("endpoint_url", "?")
        return f"cannot reach AWS at {endpoint} (is the local stack running?): {LOCAL_HINT}."
    if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in (
            "ResourceNotFoundException", "NoSuchBucket"):
        return (f"{error.response['Error'].get('Message', 'a resource is missing')}: set MIXCORE_TABLE_NAME, "
                f"MIXCORE_COST_BUCKET_NAME (the stack's outputs) or {LOCAL_HINT}.")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    if os.environ.get("AWS_ENDPOINT_URL"):
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except Exception as error:
        problem = aws_problem(error)
        if problem is None:
            raise
        print(f"mixcore {args.command}: {problem}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
