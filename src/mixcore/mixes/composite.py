"""Synthesis (Mixture-of-Agents), cascade (FrugalGPT / AutoMix) and vote (self-consistency) mixes.

Each builds a Plan whose runner makes the intermediate calls and returns the final answer; every
call lands in the request's cost record with its layer and role.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from mixcore.errors import AllCandidatesFailed, BudgetExceeded, MixcoreError, MixUnavailable
from mixcore.mixes.chain import OpenStream, complete_first, record_call, stream_first
from mixcore.mixes.definitions import CascadeMix, Constraints, Member, MixDefinition, SynthesisMix, VoteMix
from mixcore.mixes.index import constrained
from mixcore.mixes.plans import MemberResolver, Plan, Runner, StreamRunner
from mixcore.mixes.upstream import Candidate, RequestContext, Upstream
from mixcore.providers.tokens import estimated_usage
from mixcore.providers.types import Completion, StreamState, message_text
from mixcore.schemas import ChatCompletionRequest, MixOverrides

# Together AI's Mixture-of-Agents aggregate-and-synthesise prompt (Wang et al., 2024).
MOA_PROMPT = (
    "You have been provided with a set of responses from various models to the latest user query. Your task is to "
    "synthesize these responses into a single, high-quality response. It is crucial to critically evaluate the "
    "information provided in these responses, recognizing that some of it may be biased or incorrect. Your "
    "response should not simply replicate the given answers but should offer a refined, accurate, and "
    "comprehensive reply to the instruction. Ensure your response is well-structured, coherent, and adheres to "
    "the highest standards of accuracy and reliability.\n\nResponses from models:")
JUDGE_PROMPT = (
    "You are grading an answer. Given the conversation and the candidate answer below, rate how correct, "
    "complete and helpful the answer is. Reply with only a number between 0 and 1.\n\nConversation:\n{question}"
    "\n\nCandidate answer:\n{answer}")


def with_references(messages: list[dict[str, Any]], prompt: str, answers: list[str]) -> list[dict[str, Any]]:
    """The MoA way: the synthesis instruction and the numbered answers join the system message."""
    references = prompt + "".join(f"\n{i}. {answer}" for i, answer in enumerate(answers, 1))
    system = [m for m in messages if m.get("role") in ("system", "developer")]
    rest = [m for m in messages if m.get("role") not in ("system", "developer")]
    if system:
        first = system[0]
        content = first.get("content")
        text = content if isinstance(content, str) else message_text([first])
        return [{**first, "content": f"{text}\n\n{references}"}, *system[1:], *rest]
    return [{"role": "system", "content": references}, *rest]


def member_params(params: dict[str, Any], member: Member, messages: list[dict[str, Any]] | None = None,
                  ) -> dict[str, Any]:
    result = {**params}
    if messages is not None:
        result["messages"] = messages
    if member.system:
        result["messages"] = [{"role": "system", "content": member.system},
                              *[m for m in result["messages"] if m.get("role") != "system"]]
    if member.temperature is not None:
        result["temperature"] = member.temperature
    if member.max_tokens is not None:
        result["max_tokens"] = member.max_tokens
    return result


@dataclass
class Call:
    """One member's answer inside a composite mix."""

    member: Member
    candidate: Candidate
    completion: Completion


async def run_member(upstream: Upstream, members: MemberResolver, ctx: RequestContext, member: Member,
                     params: dict[str, Any], *, layer: int, role: str, candidates: list[Candidate] | None = None,
                     ) -> Call:
    candidates = candidates if candidates is not None else members.member_candidates(member.model)
    # The member's own list decides its error message; the request's list (the `mix.attempts` the client
    # reads and `x-mix-attempts` counts) gets every try of every member, placed by layer and role.
    attempts: list[dict[str, Any]] = []
    try:
        candidate, completion = await complete_first(upstream, ctx, candidates, params, what=member.model,
                                                     layer=layer, role=role, attempts=attempts)
    finally:
        ctx.attempts.extend({**attempt, "layer": layer, "role": role} for attempt in attempts)
    return Call(member, candidate, completion)


def replay(call: Call) -> OpenStream:
    """A finished completion as a stream (cascade and vote decide on whole answers)."""

    async def chunks() -> AsyncGenerator[dict[str, Any], None]:
        yield {"choices": [{"index": 0, "delta": {"role": "assistant", "content": call.completion.text},
                            "finish_reason": None}]}
        finish = (call.completion.body.get("choices") or [{}])[0].get("finish_reason") or "stop"
        yield {"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}

    state = StreamState(usage=call.completion.usage, text_parts=[call.completion.text])
    return OpenStream(call.candidate, chunks(), state, time.monotonic(), recorded=True)


# Synthesis -----------------------------------------------------------------------------------------

def distinct_proposers(members: MemberResolver, proposers: list[Member],
                       notes: list[dict[str, Any]]) -> list[list[Candidate] | None]:
    """Each proposer's candidates, so that different positions of a layer never land on one model.

    When `index/lmsys-math#1` resolves to the model `index/lmsys-coding#1` already proposes (a reasoning
    variant counts as its base model), the next distinct model of that ranking proposes instead, and
    `notes` says so. The same position listed twice (Self-MoA's samples) is a deliberate repeat. A member
    that cannot be resolved gets None: it fails in its own task, as one proposer, not the whole layer.
    """
    taken: dict[str, str] = {}  # model → the member spec that proposes with it
    chosen: list[list[Candidate] | None] = []
    for member in proposers:
        try:
            candidates = members.member_candidates(member.model)
        except MixcoreError:
            chosen.append(None)
            continue
        if member.model.startswith("index/") and candidates:
            fresh = [c for c in candidates if taken.get(c.same_model, member.model) == member.model]
            if fresh and fresh[0] is not candidates[0]:
                notes.append({"member": member.model, "instead_of": candidates[0].model_id,
                              "model": fresh[0].model_id,
                              "reason": f"same model as {taken[candidates[0].same_model]}; the next distinct one "
                                        "of the ranking proposes"})
            candidates = fresh or candidates
        if candidates:
            taken.setdefault(candidates[0].same_model, member.model)
        chosen.append(candidates)
    return chosen


async def cancel_and_record(upstream: Upstream, chosen: dict[int, list[Candidate] | None], ctx: RequestContext,
                            pending: dict[asyncio.Task[Call], Member], params: dict[str, Any], *, started: float,
                            layer: int, role: str, reason: str) -> list[str]:
    """Cancel calls still running and record each as a cancelled call with an estimated prompt.

    The provider may bill the prompt of a call cut off mid-way: it is recorded, never dropped.
    """
    pending = {task: member for task, member in pending.items() if not task.done()}
    for task in pending:
        task.cancel()
    cancelled = []
    for task, member in pending.items():
        with contextlib.suppress(asyncio.CancelledError, MixcoreError):
            await task
        cancelled.append(member.model)
        candidates = chosen[id(member)]
        if not candidates:  # it never got as far as a call
            continue
        record_call(upstream, ctx, candidates[0], usage=estimated_usage(params, candidates[0].api_model, []),
                    latency_ms=(time.monotonic() - started) * 1000, outcome="cancelled", error=reason,
                    layer=layer, role=role)
    return cancelled


async def run_layer(upstream: Upstream, members: MemberResolver, ctx: RequestContext, mix: SynthesisMix,
                    proposers: list[Member], params: dict[str, Any], layer: int, min_proposers: int,
                    straggler: float, info: dict[str, Any]) -> list[Call]:
    """Proposers run concurrently; once the quorum answered, the rest get at most `straggler` seconds."""
    started = time.monotonic()
    notes: list[dict[str, Any]] = []
    chosen = {id(m): c for m, c in zip(proposers, distinct_proposers(members, proposers, notes), strict=True)}
    tasks = {asyncio.create_task(run_member(upstream, members, ctx, m, member_params(params, m), layer=layer,
                                            role="proposer", candidates=chosen[id(m)])): m for m in proposers}
    answered: list[Call] = []
    errors: list[str] = []
    refused: BudgetExceeded | None = None
    pending: set[asyncio.Task[Call]] = set(tasks)
    quorum_at: float | None = None
    try:
        while pending:
            remaining = ctx.remaining()
            timeout = remaining if quorum_at is None else min(remaining, quorum_at + straggler - time.monotonic())
            if timeout <= 0:
                break
            done, pending = await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                break
            for task in done:
                try:
                    answered.append(task.result())
                except (Exception, asyncio.CancelledError) as error:
                    errors.append(f"{tasks[task].model}: {getattr(error, 'message', error)}")
                    refused = error if isinstance(error, BudgetExceeded) else refused
            if quorum_at is None and len(answered) >= min_proposers:
                quorum_at = time.monotonic()
    except asyncio.CancelledError:
        # The client went away: stop every proposer still running, and keep what they cost.
        await asyncio.shield(cancel_and_record(upstream, chosen, ctx, {t: tasks[t] for t in pending}, params,
                                               started=started, layer=layer, role="proposer",
                                               reason="client_disconnected"))
        raise
    dropped = await cancel_and_record(upstream, chosen, ctx, {t: tasks[t] for t in pending}, params,
                                      started=started, layer=layer, role="proposer", reason="straggler")
    # Keep the members' order, not the order of arrival: answers are numbered for the next layer.
    order = {id(m): i for i, m in enumerate(proposers)}
    answered.sort(key=lambda c: order[id(c.member)])
    info.setdefault("layers", []).append({"layer": layer, "answered": [c.candidate.model_id for c in answered],
                                          "failed": errors, "dropped_stragglers": dropped,
                                          **({"substituted": notes} if notes else {})})
    if len(answered) < min_proposers:
        if refused is not None:  # the key's budget, not the providers, stopped the layer
            raise refused
        raise AllCandidatesFailed(f"{mix.id}: layer {layer} got {len(answered)} answers, fewer than the quorum of "
                                  f"{min_proposers} ({'; '.join(errors) or 'stragglers dropped'}).",
                                  status=503, attempts=[{"layer": layer, "errors": errors, "dropped": dropped}])
    return answered


def synthesis_runners(mix: SynthesisMix, request: ChatCompletionRequest, members: MemberResolver,
                      upstream: Upstream, info: dict[str, Any]) -> tuple[Runner, StreamRunner]:
    overrides = request.mix
    min_proposers = (overrides.min_proposers if overrides and overrides.min_proposers else mix.min_proposers)
    straggler = (overrides.straggler_seconds if overrides and overrides.straggler_seconds is not None
                 else mix.straggler_seconds)
    prompt = mix.synthesis_prompt or MOA_PROMPT

    async def proposals(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        # The aggregator's chain gets its share of the time left, whatever the proposers do.
        with ctx.leaving(1 / (len(mix.layers) + 1)):
            return await layers(ctx, params)

    async def layers(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        messages = params["messages"]
        layer_params = dict(params)
        for index, layer in enumerate(mix.layers, 1):
            quorum = min(layer.min_proposers or min_proposers, len(layer.proposers))
            calls = await run_layer(upstream, members, ctx, mix, layer.proposers, layer_params, index, quorum,
                                    straggler, info)
            answers = [c.completion.text for c in calls]
            if request.include_proposals:
                info.setdefault("proposals", []).extend(
                    {"layer": index, "model": c.candidate.model_id, "content": c.completion.text} for c in calls)
            layer_params = {**params, "messages": with_references(messages, prompt, answers)}
        return layer_params

    def aggregator_candidates() -> list[Candidate]:
        candidates: list[Candidate] = []
        unavailable: MixcoreError | None = None
        for member in mix.aggregator:
            try:
                candidates += [c for c in members.member_candidates(member.model) if c not in candidates]
            except MixcoreError as error:  # the next aggregator stands in
                unavailable = error
        if not candidates and unavailable is not None:
            raise MixUnavailable(f"{mix.id}: no aggregator can answer ({unavailable.message})")
        return candidates

    def aggregator_params(final: dict[str, Any]) -> dict[str, Any]:
        first = mix.aggregator[0]
        return member_params(final, Member(model=first.model, temperature=first.temperature,
                                           max_tokens=first.max_tokens))

    # The aggregators are resolved before any proposer is paid for: a mix that cannot aggregate spends nothing.
    async def run(ctx: RequestContext, params: dict[str, Any]) -> tuple[Candidate, Completion]:
        aggregators = aggregator_candidates()
        final = aggregator_params(await proposals(ctx, params))
        return await complete_first(upstream, ctx, aggregators, final, what=f"{mix.id} aggregator",
                                    layer=len(mix.layers) + 1, role="aggregator")

    async def run_stream(ctx: RequestContext, params: dict[str, Any]) -> OpenStream:
        aggregators = aggregator_candidates()
        final = aggregator_params(await proposals(ctx, params))
        return await stream_first(upstream, ctx, aggregators, final, what=f"{mix.id} aggregator",
                                  layer=len(mix.layers) + 1, role="aggregator")

    return run, run_stream


# Cascade -------------------------------------------------------------------------------------------

SCORE = re.compile(r"(?<![\d.])(1(?:\.0+)?|0(?:\.\d+)?|\.\d+)(?!\.?\d)")


def parse_score(text: str) -> float | None:
    found = SCORE.search(text.strip())
    return float(found.group(1)) if found else None


def cascade_runner(mix: CascadeMix, request: ChatCompletionRequest, members: MemberResolver, upstream: Upstream,
                   info: dict[str, Any]) -> Runner:
    async def judge(ctx: RequestContext, params: dict[str, Any], step_index: int, call: Call) -> float:
        judge_member = mix.judge or call.member
        question = message_text(params["messages"])
        prompt = [{"role": "user", "content": JUDGE_PROMPT.format(question=question, answer=call.completion.text)}]
        judge_params = {"messages": prompt, "temperature": judge_member.temperature if judge_member.temperature
                        is not None else (0.7 if mix.judge_samples > 1 else 0.0), "max_tokens": 10}
        results = await asyncio.gather(*(run_member(upstream, members, ctx, judge_member, judge_params,
                                                    layer=step_index, role="judge")
                                         for _ in range(mix.judge_samples)), return_exceptions=True)
        scores = [parse_score(r.completion.text) for r in results if isinstance(r, Call)]
        valid = [s for s in scores if s is not None]
        return sum(valid) / len(valid) if valid else 0.0

    def output_price(member: Member) -> float:
        try:
            candidate = members.member_candidates(member.model)[0]
        except MixcoreError:
            return 0.0
        model = upstream.catalog.get(candidate.model_id)
        return model.price.output if model and model.price else 0.0

    async def run(ctx: RequestContext, params: dict[str, Any]) -> tuple[Candidate, Completion]:
        decisions: list[dict[str, Any]] = info.setdefault("steps", [])
        last_error: MixcoreError | None = None
        for index, step in enumerate(mix.steps, 1):
            final = index == len(mix.steps)
            try:
                call = await run_member(upstream, members, ctx, step.model, member_params(params, step.model),
                                        layer=index, role="answer")
            except MixcoreError as error:
                decisions.append({"step": index, "model": step.model.model, "decision": "failed",
                                  "error": error.message[:200]})
                last_error = error
                continue
            if final:
                decisions.append({"step": index, "model": call.candidate.model_id, "decision": "accept (last step)"})
                return call.candidate, call.completion
            score = await judge(ctx, params, index, call)
            delta = max(0.0, output_price(mix.steps[index].model) - output_price(step.model))
            threshold = max(0.0, step.threshold - mix.cost_lambda * delta)
            accepted = score >= threshold
            decisions.append({"step": index, "model": call.candidate.model_id, "score": round(score, 4),
                              "threshold": round(threshold, 4), "decision": "accept" if accepted else "escalate"})
            if accepted:
                return call.candidate, call.completion
        raise last_error or AllCandidatesFailed(f"{mix.id}: no step answered", status=502, attempts=decisions)

    return run


# Vote ----------------------------------------------------------------------------------------------

ANSWER_IS = re.compile(r"(?:final answer|answer)\s*(?:is|:)\s*\**\s*([^\n]+)", re.I)
CHOICE = re.compile(r"^\(?([A-Ea-e])[\).:]?$")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def normalise_answer(text: str) -> str:
    """The comparable final answer: after 'answer is', else the last line; numbers and choices canonical."""
    found = ANSWER_IS.findall(text)
    candidate = found[-1] if found else (text.strip().splitlines() or [""])[-1]
    candidate = re.sub(r"\\boxed\{([^}]*)\}", r"\1", candidate).strip().strip("*").strip()
    candidate = candidate.rstrip(".!").strip()
    choice = CHOICE.match(candidate)
    if choice:
        return choice.group(1).upper()
    numbers = NUMBER.findall(candidate)
    if len(numbers) == 1 and len(candidate) <= len(numbers[0]) + 12:
        value = float(numbers[0].replace(",", ""))
        return str(int(value)) if value.is_integer() else repr(value)
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", candidate.lower())).strip()


def vote_runner(mix: VoteMix, request: ChatCompletionRequest, members: MemberResolver, upstream: Upstream,
                info: dict[str, Any]) -> Runner:
    samples = request.mix.n if request.mix and request.mix.n else mix.samples

    async def run(ctx: RequestContext, params: dict[str, Any]) -> tuple[Candidate, Completion]:
        voters = [mix.voters[i % len(mix.voters)] for i in range(samples)]
        results = await asyncio.gather(*(run_member(upstream, members, ctx, v, member_params(params, v), layer=1,
                                                    role="voter") for v in voters), return_exceptions=True)
        calls = [(i, r) for i, r in enumerate(results) if isinstance(r, Call)]
        if not calls:
            refused = next((r for r in results if isinstance(r, BudgetExceeded)), None)
            if refused is not None:
                raise refused
            errors = [getattr(r, "message", str(r)) for r in results]
            raise AllCandidatesFailed(f"{mix.id}: every voter failed ({'; '.join(errors)[:300]})", status=502,
                                      attempts=[{"errors": errors}])
        normalised = [(i, call, normalise_answer(call.completion.text)) for i, call in calls]
        counts = Counter(answer for _, _, answer in normalised)
        best = max(counts.values())
        # Ties go to the answer of the highest-ranked voter (the voters' order in the definition).
        rank = {id(v): r for r, v in enumerate(mix.voters)}
        _, winner, answer = min(((i, c, a) for i, c, a in normalised if counts[a] == best),
                                           key=lambda item: (rank[id(item[1].member)], item[0]))
        info.update(votes=[{"model": c.candidate.model_id, "answer": a} for _, c, a in normalised],
                    winner=answer, agreement=round(best / len(normalised), 4), samples=samples,
                    answered=len(normalised))
        return winner.candidate, winner.completion

    return run


def single_call_stream(runner: Runner) -> StreamRunner:
    async def run_stream(ctx: RequestContext, params: dict[str, Any]) -> OpenStream:
        candidate, completion = await runner(ctx, params)
        return replay(Call(Member(model=candidate.model_id), candidate, completion))

    return run_stream


@dataclass
class ConstrainedMembers:
    """A composite mix's members under the request's `mix` constraints: a member that breaks them has no
    candidates and fails as any one member does (a proposer is dropped, a cascade step passed, a voter missing)."""

    members: MemberResolver
    overrides: MixOverrides

    def member_candidates(self, model: str, overrides: MixOverrides | None = None) -> list[Candidate]:
        found = self.members.member_candidates(model, overrides or self.overrides)
        if not found:
            raise MixUnavailable(f"{model} breaks the request's mix constraints")
        return found


def composite_plan(mix: MixDefinition, request: ChatCompletionRequest, members: MemberResolver,
                   upstream: Upstream) -> Plan:
    info: dict[str, Any] = {}
    if request.mix is not None and constrained(Constraints(), request.mix) != Constraints():
        members = ConstrainedMembers(members, request.mix)
    run: Runner
    if isinstance(mix, SynthesisMix):
        run, run_stream = synthesis_runners(mix, request, members, upstream, info)
    elif isinstance(mix, CascadeMix):
        run = cascade_runner(mix, request, members, upstream, info)
        run_stream = single_call_stream(run)
    elif isinstance(mix, VoteMix):
        run = vote_runner(mix, request, members, upstream, info)
        run_stream = single_call_stream(run)
    else:  # pragma: no cover - index mixes never reach here
        raise TypeError(mix.kind)
    return Plan(kind=mix.kind, mix_id=mix.id, candidates=[], info=info, defaults=dict(mix.defaults), runner=run,
                stream_runner=run_stream)

