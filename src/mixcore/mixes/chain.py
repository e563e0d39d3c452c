"""Fallback chains: try ordered candidates until one answers, recording every attempt and call.

A candidate is skipped (with the reason, and without a call) when its provider is not
configured or cooling down, or when the request's time budget is spent. Timeouts, connection
errors, 408/409/429/5xx, context-length and invalid responses move on to the next candidate; the
client's own errors (a bad request) stop the chain at once. For streams, fallback happens only
before the first chunk; after that an error ends the stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from mixcore.costs.pricing import CallBounds, beyond_bounds, call_bounds, call_cost, catalog_price
from mixcore.costs.records import CallLine, CallOutcome
from mixcore.errors import AllCandidatesFailed, InvalidRequest, MixcoreError, ModelNotFound
from mixcore.mixes.parameters import fit_parameters, names_mixcore_choice, with_output_cap
from mixcore.mixes.upstream import Candidate, RequestContext, Upstream
from mixcore.observability import upstream_subsegment
from mixcore.providers.errors import (
    ContextLengthExceeded,
    ProviderCoolingDown,
    ProviderNotConfigured,
    RequestBudgetExhausted,
    UnpricedForBudget,
    UnsupportedParameter,
    UpstreamBadRequest,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamModelNotFound,
    UpstreamTimeout,
    client_safe,
)
from mixcore.providers.tokens import estimated_usage, unbounded_parts
from mixcore.providers.types import Completion, StreamState, Usage

# Below this much time left, a call could not even connect: the candidate is skipped, not called.
MIN_ATTEMPT_SECONDS = 0.05
# A failure of a request with a prompt past this (or several choices) may be the request's own doing: it cools the
# model down for its key only, never for everyone.
ORDINARY_PROMPT_TOKENS = 8_000
# A budget lowers an output cap to what it can pay, but not below this: a shorter answer is rarely of use.
MIN_USEFUL_ANSWER_TOKENS = 16


def record_call(upstream: Upstream, ctx: RequestContext, candidate: Candidate, *, usage: Usage | None,
                latency_ms: float, outcome: CallOutcome, error: str | None = None, layer: int = 0,
                role: str = "answer", retries: int = 0, bounds: CallBounds | None = None) -> None:
    """One upstream call in the request's cost record, charged the usage its provider reported."""
    price, note = catalog_price(upstream.catalog.get(candidate.model_id))
    usage = usage or Usage()
    cost = call_cost(price, usage) if (usage.prompt_tokens or usage.completion_tokens) else 0.0
    ctx.calls.append(CallLine(provider=candidate.provider, model=candidate.model_id, layer=layer, role=role,
                              outcome=outcome, error=error, prompt_tokens=usage.prompt_tokens,
                              completion_tokens=usage.completion_tokens, cached_tokens=usage.cached_tokens,
                              cache_write_tokens=usage.cache_write_tokens, reasoning_tokens=usage.reasoning_tokens,
                              estimated=usage.estimated, beyond_bounds=beyond_bounds(usage, bounds),
                              price=price, cost_usd=cost,
                              cost_note=note if cost is None else None, latency_ms=round(latency_ms, 2),
                              retries=retries))


def skip_reason(upstream: Upstream, ctx: RequestContext, candidate: Candidate) -> UpstreamError | None:
    """Why a candidate must not be called now, or None."""
    if ctx.remaining() <= MIN_ATTEMPT_SECONDS:
        return RequestBudgetExhausted("request time budget exhausted")
    provider = upstream.providers.get(candidate.provider)
    if provider is None or not provider.configured:
        return ProviderNotConfigured(f"provider {candidate.provider!r} is not configured")
    left = upstream.cooldowns.cooling(candidate.provider, candidate.model_id, ctx.key_id)
    gone = upstream.cooldowns.gone(candidate.model_id) if left > 0 else None
    if gone is not None:  # still a 404 for a direct call, without paying for the call again
        return UpstreamModelNotFound(f"{gone} (not called again for {left:.0f}s)")
    if left > 0:
        return ProviderCoolingDown(f"{candidate.model_id} is cooling down for {left:.0f}s more")
    if ctx.may_not_call_unpriced() and catalog_price(upstream.catalog.get(candidate.model_id))[0] is None:
        return UnpricedForBudget(f"the catalog has no price for {candidate.model_id}, so this key's budget could "
                                 "not count its cost")
    return None


async def hold_budget(upstream: Upstream, ctx: RequestContext, candidate: Candidate,
                      sent: dict[str, Any]) -> tuple[CallBounds, dict[str, Any]]:
    """The call's bounds, with the most it can cost reserved against the key's budget, and the fields to send
    (with exactly the output cap reserved). When the budget cannot pay the cap asked for (or the model's own),
    the cap is lowered to what it can pay and the answer says so; below a useful answer, 402."""
    model = upstream.catalog.get(candidate.model_id)
    bounds = call_bounds(sent, model, upstream.settings.max_tokens_cap)
    spending = ctx.spending
    price = model.price if model else None
    if spending is None or price is None:
        return bounds, sent
    if kinds := unbounded_parts(sent):
        raise InvalidRequest(f"A key with a budget cannot send {' or '.join(kinds)} parts: what a provider bills "
                             "for them cannot be bounded before the call. Send the text, or use a key without a "
                             "budget.", param="messages", code="unbounded_for_budget")
    committed = await spending.try_reserve(bounds.max_cost(price))
    if committed is not None:  # refused: the cap the room left can pay
        cap = bounds.affordable_cap(price, spending.budget_usd - committed)
        useful = min(MIN_USEFUL_ANSWER_TOKENS, bounds.cap)
        what = (f"a call to {candidate.model_id} with this prompt (up to {bounds.prompt_tokens} tokens) and "
                f"{useful} answer tokens")
        if cap < useful:
            raise spending.refusal(bounds.with_cap(useful).max_cost(price), committed, what)
        lowered = bounds.with_cap(cap)
        committed = await spending.try_reserve(lowered.max_cost(price))
        if committed is not None:
            raise spending.refusal(lowered.max_cost(price), committed, what)
        ctx.budget_notes.append({"model": candidate.model_id, "max_tokens_asked": bounds.cap,
                                 "max_tokens_sent": cap, "reason": "the key's remaining budget pays no more"})
        bounds = lowered
    return bounds, with_output_cap(sent, bounds.cap, candidate.rules)


def callable_candidates(upstream: Upstream, ctx: RequestContext, candidates: list[Candidate],
                        params: dict[str, Any], attempts: list[dict[str, Any]], errors: list[UpstreamError],
                        ) -> Iterator[tuple[Candidate, dict[str, Any]]]:
    """The candidates to call, in order, each with the fields fitted to it (mixes/parameters.py); every other one
    is written into `attempts` as skipped, uncalled."""
    for candidate in candidates:
        skip = skip_reason(upstream, ctx, candidate)
        if skip is None:
            try:
                yield candidate, fit_parameters(params, candidate.rules, ctx.client_fields, candidate.model_id)
                continue
            except UnsupportedParameter as refused:
                skip = refused
        attempts.append({**candidate.describe(), "outcome": "skipped", "error": skip.kind, "reason": skip.message})
        errors.append(skip)


def failure(errors: list[UpstreamError], attempts: list[dict[str, Any]], what: str) -> MixcoreError:
    """The client-facing error once every candidate failed."""
    if errors and all(isinstance(e, UnsupportedParameter) for e in errors):
        refused = [e for e in errors if isinstance(e, UnsupportedParameter)]
        return InvalidRequest("; ".join(e.message for e in refused) + ". Leave the field out, or choose a model "
                              "that takes it.", param=refused[0].field, code="unsupported_parameter")
    if errors and all(isinstance(e, UnpricedForBudget) for e in errors):
        models = ", ".join(a["model"] for a in attempts)
        return InvalidRequest(f"The catalog has no price for {models}, so a key with a budget cannot call it (its "
                              "cost could not be counted). Use a priced model, or a key created with "
                              "--allow-unpriced.", param="model", code="model_price_unknown")
    called = [e for e in errors if not isinstance(e, ProviderNotConfigured | ProviderCoolingDown | UnpricedForBudget)]
    if called and all(isinstance(e, UpstreamModelNotFound) for e in called) and len(attempts) == 1:
        return ModelNotFound(f"The model {attempts[0]['model']!r} does not exist at its provider: "
                             f"{called[0].message}", param="model")
    if called and all(isinstance(e, ContextLengthExceeded) for e in called):
        return InvalidRequest("The messages exceed the context window of every candidate.", param="messages",
                              code="context_length_exceeded")
    if called and all(isinstance(e, UpstreamTimeout) for e in called):
        status = 504
    elif not called or any(e.client_status == 503 for e in errors):
        status = 503
    else:
        status = 502
    summary = "; ".join(f"{a['model']}: {a.get('error') or a.get('outcome')}" for a in attempts) or "none"
    return AllCandidatesFailed(f"Every candidate for {what} failed ({summary}).", status=status, attempts=attempts)


def counts_against_provider(error: UpstreamError, *, stream: bool) -> bool:
    """Whether a failure says the provider is unwell, rather than something about this request.

    A whole-answer timeout may be a long generation the client asked for (providers send nothing
    until the end), so only a stream's missing first token counts as the provider's timeout.
    """
    if isinstance(error, UpstreamBadRequest | UpstreamModelNotFound | ContextLengthExceeded):
        return False
    return stream or not isinstance(error, UpstreamTimeout)


def attempt_failed(upstream: Upstream, ctx: RequestContext, candidate: Candidate, error: UpstreamError,
                   started: float, attempts: list[dict[str, Any]], *, sent: dict[str, Any], layer: int = 0,
                   role: str = "answer", stream: bool = False, bounds: CallBounds | None = None) -> None:
    """Record a failed attempt; the client's own error ends the chain, a provider's counts toward a cool-down.
    A 400 that names a field Mixcore chose (not the client) is Mixcore's mistake: the next candidate answers. A
    timed-out call is charged its prompt: the provider bills the generation it was cut from."""
    latency = (time.monotonic() - started) * 1000
    # A provider bills a generation it was running when the call was cut: at least the prompt it read.
    billed = estimated_usage(sent, candidate.api_model, []) if isinstance(error, UpstreamTimeout) else None
    record_call(upstream, ctx, candidate, usage=billed, latency_ms=latency, outcome="error", error=error.kind,
                layer=layer, role=role, bounds=bounds)
    attempts.append({**candidate.describe(), "outcome": "error", "error": error.kind, "status": error.status,
                     "message": client_safe(error.message), "latency_ms": round(latency)})
    if isinstance(error, UpstreamBadRequest) and names_mixcore_choice(error.message, ctx.client_fields, sent):
        return
    if isinstance(error, UpstreamBadRequest):
        raise InvalidRequest(f"The provider rejected the request: {client_safe(error.message, 500)}",
                             code="upstream_bad_request") from error
    if isinstance(error, UpstreamModelNotFound):
        upstream.cooldowns.model_gone(candidate.model_id, upstream.settings.model_not_found_cooldown_seconds,
                                      f"its provider answered 404 model_not_found: {client_safe(error.message, 120)}")
    elif counts_against_provider(error, stream=stream):
        upstream.cooldowns.failed(candidate.provider, candidate.model_id, ctx.key_id,
                                  whole_provider=isinstance(error, UpstreamConnectionError),
                                  ordinary=bounds is None or (bounds.prompt_tokens <= ORDINARY_PROMPT_TOKENS
                                                              and bounds.choices == 1))


def attempt_deadline(upstream: Upstream, ctx: RequestContext, attempt_timeout: float | None, candidate: Candidate,
                     *, last: bool) -> float:
    """When a candidate's answer (a stream's first token) must have come.

    The last candidate of a chain may use the whole time left: a direct call runs to the request budget. One with
    fallbacks behind it gets at most half the time left, so a hang always leaves the next candidate its share, and
    no more than the mix's attempt timeout, else the gateway's, or for a reasoning model the minutes its first
    token may take (catalog/data/parameter_rules.json)."""
    if last:
        return ctx.deadline
    settings = upstream.settings
    thinking = candidate.rules.first_token_seconds if candidate.rules else None
    if thinking is not None:
        thinking = settings.thinking_attempt_timeout_seconds or thinking
    limit = attempt_timeout or thinking or settings.attempt_timeout_seconds
    return time.monotonic() + min(ctx.remaining() / 2, limit)


async def complete_first(upstream: Upstream, ctx: RequestContext, candidates: list[Candidate],
                         params: dict[str, Any], *, what: str, layer: int = 0, role: str = "answer",
                         attempts: list[dict[str, Any]] | None = None,
                         attempt_timeout: float | None = None) -> tuple[Candidate, Completion]:
    """The first candidate's completion that succeeds; raises the client-facing error if none does."""
    attempts = ctx.attempts if attempts is None else attempts
    errors: list[UpstreamError] = []
    for candidate, sent in callable_candidates(upstream, ctx, candidates, params, attempts, errors):
        bounds, sent = await hold_budget(upstream, ctx, candidate, sent)
        started = time.monotonic()
        try:
            async with upstream_subsegment(candidate.provider, candidate.model_id, role):
                completion = await upstream.client.complete(upstream.providers[candidate.provider],
                                                            candidate.api_model, sent,
                                                            reasoning=candidate.settings,
                                                            deadline=attempt_deadline(
                                                                upstream, ctx, attempt_timeout, candidate,
                                                                last=candidate is candidates[-1]))
        except UpstreamError as error:
            attempt_failed(upstream, ctx, candidate, error, started, attempts, sent=sent, layer=layer, role=role,
                           bounds=bounds)
            errors.append(error)
            continue
        upstream.cooldowns.succeeded(candidate.provider, candidate.model_id)
        record_call(upstream, ctx, candidate, usage=completion.usage, latency_ms=completion.latency_ms,
                    outcome="ok", layer=layer, role=role, retries=completion.retries, bounds=bounds)
        attempts.append({**candidate.describe(), "outcome": "ok", "latency_ms": round(completion.latency_ms)})
        return candidate, completion
    raise failure(errors, attempts, what)


@dataclass
class OpenStream:
    candidate: Candidate
    chunks: AsyncGenerator[dict[str, Any], None]
    state: StreamState
    started: float
    recorded: bool = False  # a replayed answer whose call is already in the cost record
    layer: int = 0
    role: str = "answer"
    sent: dict[str, Any] = field(default_factory=dict)  # what the provider received: to estimate usage when cut off
    bounds: CallBounds | None = None  # the most the call could be billed for: usage beyond it is flagged

    def usage(self) -> Usage:
        """What the call is billed for: the provider's usage, else (cut off before it came) an estimate from
        everything sent and streamed."""
        if self.state.usage is not None:
            return self.state.usage
        return estimated_usage(self.sent, self.candidate.api_model, self.state.output_parts)


async def stream_first(upstream: Upstream, ctx: RequestContext, candidates: list[Candidate],
                       params: dict[str, Any], *, what: str, attempt_timeout: float | None = None,
                       layer: int = 0, role: str = "answer") -> OpenStream:
    """Open the first candidate stream that yields a chunk; the chunk is put back in front."""
    errors: list[UpstreamError] = []
    for candidate, sent in callable_candidates(upstream, ctx, candidates, params, ctx.attempts, errors):
        bounds, sent = await hold_budget(upstream, ctx, candidate, sent)
        state = StreamState()
        started = time.monotonic()
        chunks = upstream.client.stream(upstream.providers[candidate.provider], candidate.api_model, sent,
                                        deadline=ctx.deadline, state=state, reasoning=candidate.settings,
                                        first_chunk_deadline=attempt_deadline(upstream, ctx, attempt_timeout,
                                                                              candidate,
                                                                              last=candidate is candidates[-1]),
                                        between_tokens=candidate.rules.between_tokens_seconds
                                        if candidate.rules else None)
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = None
        except UpstreamError as error:
            attempt_failed(upstream, ctx, candidate, error, started, ctx.attempts, sent=sent, layer=layer,
                           role=role, stream=True, bounds=bounds)
            errors.append(error)
            continue
        upstream.cooldowns.succeeded(candidate.provider, candidate.model_id)
        ctx.attempts.append({**candidate.describe(), "outcome": "ok"})
        return OpenStream(candidate, _prepend(first, chunks), state, started, layer=layer, role=role,
                          sent=sent, bounds=bounds)
    raise failure(errors, ctx.attempts, what)


async def _prepend(first: dict[str, Any] | None,
                   rest: AsyncGenerator[dict[str, Any], None]) -> AsyncGenerator[dict[str, Any], None]:
    async with aclosing(rest):  # closing this stream closes the provider's at once
        if first is not None:
            yield first
        async for chunk in rest:
            yield chunk
