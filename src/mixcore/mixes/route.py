"""Route mixes: a router scores the prompt, and the strong or the weak side answers it.

The decision is made before any call: the router's score against the threshold that gives the mix's
strong share (routing/thresholds.py), or the request's own share or threshold. Each side is a fallback
chain, as an index mix's candidates are. The weak side, unless named, is the cheapest model of the strong
side's ranking whose Elo-predicted win rate against that ranking's #1 is at least `min_win_rate`. The
answer says which side answered and why (`mix.route`), and the cost record keeps the score, so that
`mixcore route calibrate` and an offline evaluation can replay real traffic.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from mixcore.costs.pricing import call_bounds
from mixcore.errors import BudgetExceeded, InvalidRequest, MixcoreError, MixUnavailable
from mixcore.mixes.chain import complete_first
from mixcore.mixes.composite import single_call_stream
from mixcore.mixes.definitions import IndexMix, MixDefinition, RouteMix
from mixcore.mixes.index import Resolution, effective_constraints
from mixcore.mixes.plans import Plan
from mixcore.mixes.upstream import Candidate, RequestContext, Upstream
from mixcore.providers.types import Completion, last_user_text, message_text
from mixcore.routing.router import shipped_router
from mixcore.routing.thresholds import shipped_tables, threshold_for
from mixcore.routing.verification import verification_prompt, verified_fraction
from mixcore.schemas import ChatCompletionRequest, MixOverrides

WEAK_POOL = 50  # how deep the strong side's ranking is searched for the weak side
TYPICAL_ANSWER_TOKENS = 512  # the answer an estimate assumes when the request sets no cap


class RouteResolver(Protocol):
    def get(self, mix_id: str) -> MixDefinition: ...
    def member_candidates(self, model: str, overrides: MixOverrides | None = None) -> list[Candidate]: ...
    def resolve_index(self, mix: IndexMix, overrides: MixOverrides | None = None) -> Resolution: ...


def score(router: str, text: str) -> float:
    return shipped_router().score(text) if router == "ngram" else float(len(text))


def win_rate(rating: float, against: float) -> float:
    """The Elo-predicted chance that a model rated `rating` beats one rated `against`."""
    return 1 / (1 + 10 ** ((against - rating) / 400))


def blended_price(candidate: Candidate, upstream: Upstream) -> float:
    model = upstream.catalog.get(candidate.model_id)
    price = model.price if model is not None else None
    return price.input + price.output if price is not None else float("inf")


def sides(mix: RouteMix, resolver: RouteResolver, upstream: Upstream,
          overrides: MixOverrides | None = None) -> tuple[list[Candidate], list[Candidate]]:
    """The strong and the weak side's candidates, under the request's `mix` constraints (providers, prices,
    context, modalities) on both. Without a named weak side, one resolution of the strong side's ranking (deep
    enough to search) gives both: its top (what the index mix answers with) and, cheapest first, the models close
    enough to its leader."""
    if mix.weak:
        return resolver.member_candidates(mix.strong, overrides), resolver.member_candidates(mix.weak, overrides)
    strong = resolver.get(mix.strong)
    if not isinstance(strong, IndexMix):
        raise MixUnavailable(f"{mix.id}: name a weak side, or make the strong side an index mix to choose one from")
    top_n, _ = effective_constraints(strong, overrides)
    deep = (overrides or MixOverrides()).model_copy(update={"top_n": max(WEAK_POOL, top_n)})
    pool = resolver.resolve_index(strong, deep).candidates
    return pool[:top_n], cheapest_close(pool, mix.min_win_rate, upstream)


def cheapest_close(pool: list[Candidate], min_win_rate: float, upstream: Upstream) -> list[Candidate]:
    """The weak side by default: of a ranking's candidates, the models close enough to its leader, cheapest
    first."""
    ranked = [c for c in pool if c.score is not None]
    if not ranked:
        return []
    leader = ranked[0]
    close = [c for c in ranked[1:] if win_rate(float(c.score or 0), float(leader.score or 0)) >= min_win_rate
             and c.same_model != leader.same_model]
    return sorted(close, key=lambda c: (blended_price(c, upstream), c.rank or 0))


def estimated_cost(candidates: list[Candidate], params: dict[str, Any], upstream: Upstream) -> float | None:
    """What the side's first candidate would cost for this prompt and a typical (or the capped) answer."""
    if not candidates:
        return None
    model = upstream.catalog.get(candidates[0].model_id)
    if model is None or model.price is None:
        return None
    capped = params if params.get("max_tokens") or params.get("max_completion_tokens") else {
        **params, "max_tokens": TYPICAL_ANSWER_TOKENS}
    return round(call_bounds(capped, model, upstream.settings.max_tokens_cap).max_cost(model.price), 8)


def no_weak_side(mix: RouteMix) -> str:
    """Why the strong side answers when the ranking offers no weak side."""
    return f"no model of the ranking is callable and predicted to win {mix.min_win_rate:.0%}"


def route_plan(mix: RouteMix, request: ChatCompletionRequest, resolver: RouteResolver, upstream: Upstream,
               key_table: list[float] | None = None) -> Plan:
    """The side the prompt goes to; `key_table` is the key's own score quantiles, else the shipped ones."""
    strong, weak = sides(mix, resolver, upstream, request.mix)
    if not strong:
        raise MixUnavailable(f"{mix.id}: no callable candidate for its strong side"
                             f"{' under the request’s mix constraints' if request.mix else ''}.")
    if mix.router == "self-verify":
        return cascade_plan(mix, request, strong, weak, upstream)
    no_weak = not weak
    if no_weak:  # nothing close enough is callable: every prompt goes to the strong side, and the answer says so
        weak = strong
    params = request.upstream_params()
    asked = request.route
    share = asked.strong_share if asked is not None and asked.strong_share is not None else mix.strong_share
    if asked is not None and asked.threshold is not None:
        threshold = asked.threshold
    else:
        threshold = threshold_for(key_table or shipped_tables()[mix.router], share)
    # The question asked now, not an app's system prompt or earlier turns: RouteLLM's controller routes on the last
    # turn, and the shipped quantiles were fitted on single questions.
    prompt_score = score(mix.router, last_user_text(params.get("messages") or []))
    costs = {"strong": estimated_cost(strong, params, upstream), "weak": estimated_cost(weak, params, upstream)}
    side, why = ("strong", "the score reaches the threshold") if prompt_score >= threshold else (
        "weak", "the score is below the threshold")
    if no_weak:
        side, why = "strong", no_weak_side(mix)
    limit = asked.max_cost_usd if asked is not None else None
    if side == "strong" and limit is not None and (costs["strong"] or 0.0) > limit:
        side, why = "weak", f"the strong side's estimate passes max_cost_usd ({limit})"
    chosen = strong if side == "strong" else weak
    info = {"route": {"router": mix.router, "score": round(prompt_score, 6),
                      "threshold": None if abs(threshold) == float("inf") else round(threshold, 6),
                      "strong_share": None if asked is not None and asked.threshold is not None else share,
                      "calibration": "this key's traffic" if key_table else "the vendored evaluation prompts",
                      "side": side, "why": why, "strong": strong[0].model_id, "weak": weak[0].model_id,
                      "chosen": chosen[0].model_id, "estimated_cost_usd": costs}}
    return Plan(kind="route", mix_id=mix.id, candidates=chosen, info=info, defaults=dict(mix.defaults))


VERIFY_MAX_TOKENS = 64  # a verdict: a line of evaluation and the decision
VERIFY_CONTEXT_CHARS = 2_000  # the conversation before the question a verifier sees (it is paid on every request)


def cascade_plan(mix: RouteMix, request: ChatCompletionRequest, strong: list[Candidate], weak: list[Candidate],
                 upstream: Upstream) -> Plan:
    """AutoMix: the weak side answers, the model that answered verifies its answer `verify_samples` times, and the
    strong side answers instead when the verified fraction is below the threshold. Every call is charged and
    recorded (layer 1 the weak answer, 2 the verification, 3 the strong answer)."""
    asked = request.route
    if asked is not None and asked.strong_share is not None:
        raise InvalidRequest(f"{mix.id} escalates by self-verification, not by a share of prompts: set "
                             "route.threshold (the verified fraction below which the strong side answers).",
                             param="route.strong_share")
    threshold = asked.threshold if asked is not None and asked.threshold is not None else mix.verify_threshold
    params = request.upstream_params()
    costs = {"strong": estimated_cost(strong, params, upstream), "weak": estimated_cost(weak, params, upstream)}
    route: dict[str, Any] = {"router": "self-verify", "score": None, "threshold": threshold, "strong_share": None,
                             "samples": mix.verify_samples, "side": "strong", "strong": strong[0].model_id,
                             "weak": (weak or strong)[0].model_id, "chosen": strong[0].model_id,
                             "estimated_cost_usd": costs}
    limit = asked.max_cost_usd if asked is not None else None

    async def strong_answer(ctx: RequestContext, params: dict[str, Any], refuted: Candidate | None = None,
                            ) -> tuple[Candidate, Completion]:
        # Escalating never asks the model whose answer was just refuted again (the strong side's fallbacks may
        # reach down the ranking to it).
        others = [c for c in strong if refuted is None or c.same_model != refuted.same_model]
        if not others:
            raise MixUnavailable(f"{mix.id}: no strong-side candidate other than {refuted and refuted.model_id}")
        return await complete_first(upstream, ctx, others, params, what=f"{mix.id} strong side", layer=3)

    async def run(ctx: RequestContext, params: dict[str, Any]) -> tuple[Candidate, Completion]:
        if not weak:
            route["why"] = no_weak_side(mix)
            return await strong_answer(ctx, params)
        try:
            candidate, answer = await complete_first(upstream, ctx, weak, params, what=f"{mix.id} weak side",
                                                     layer=1)
        except BudgetExceeded:
            raise
        except MixcoreError as error:  # a weak side that is down does not stop the cascade
            route["why"] = f"the weak side failed ({error.message[:120]})"
            return await strong_answer(ctx, params)
        route.update(weak=candidate.model_id, side="weak", chosen=candidate.model_id)
        try:
            verdicts = await self_verify(mix, upstream, ctx, params, candidate, answer)
        except BudgetExceeded:
            route["why"] = "the budget left no room to verify the weak answer, so it stands"
            return candidate, answer
        fraction, valid = verified_fraction(verdicts)
        route.update(score=round(fraction, 6), verdicts=valid)
        if fraction >= threshold:
            route["why"] = f"{valid} of {mix.verify_samples} verdicts parsed; verified {fraction:.0%} ≥ {threshold:g}"
            return candidate, answer
        if limit is not None and (costs["strong"] or 0.0) > limit:
            route["why"] = f"verified {fraction:.0%} < {threshold:g}, but the strong side's estimate passes " \
                           f"max_cost_usd ({limit})"
            return candidate, answer
        try:
            chosen, final = await strong_answer(ctx, params, candidate)
        except MixcoreError as error:  # the weak answer is kept rather than lost
            route["why"] = f"verified {fraction:.0%} < {threshold:g}; the strong side failed ({error.message[:120]})"
            return candidate, answer
        route.update(side="strong", chosen=chosen.model_id,
                     why=f"{valid} of {mix.verify_samples} verdicts parsed; verified {fraction:.0%} < {threshold:g}")
        return chosen, final

    return Plan(kind="route", mix_id=mix.id, candidates=[], info={"route": route}, defaults=dict(mix.defaults),
                runner=run, stream_runner=single_call_stream(run))


async def self_verify(mix: RouteMix, upstream: Upstream, ctx: RequestContext, params: dict[str, Any],
                      candidate: Candidate, answer: Completion) -> list[str]:
    """The verdicts of the model that answered on its own answer: one call asking for `n` samples, and single
    calls for what a provider that ignores `n` did not return. A failed verification call gives no verdict."""
    messages = params.get("messages") or []
    context = message_text(messages[:-1])[-VERIFY_CONTEXT_CHARS:]
    prompt = verification_prompt(context, message_text(messages[-1:]), answer.text)
    asked = {"messages": [{"role": "user", "content": prompt}], "temperature": mix.verify_temperature,
             "max_tokens": VERIFY_MAX_TOKENS, "stop": ["---"]}

    async def verdicts(n: int) -> list[str]:
        _, completion = await complete_first(upstream, ctx, [candidate], {**asked, "n": n} if n > 1 else asked,
                                             what=f"{mix.id} verification", layer=2, role="verify")
        return [str((c.get("message") or {}).get("content") or "") for c in completion.body.get("choices") or []
                if isinstance(c, dict)][:n]

    try:
        found = await verdicts(mix.verify_samples)
    except BudgetExceeded:
        raise
    except MixcoreError:
        found = []
    missing = mix.verify_samples - len(found)
    if missing > 0 and found:
        more = await asyncio.gather(*(verdicts(1) for _ in range(missing)), return_exceptions=True)
        found += [text for result in more if isinstance(result, list) for text in result]
    return found


def check_route_request(request: ChatCompletionRequest, mix: MixDefinition | None) -> None:
    """`route` settings belong to route mixes: anywhere else (another mix, a direct model) they are a 400."""
    if request.route is not None and not isinstance(mix, RouteMix):
        where = f"{mix.id} is a {mix.kind} mix" if mix is not None else f"{request.model} is a model, not a mix"
        raise InvalidRequest(f"`route` settings apply to route mixes only; {where}.", param="route")
