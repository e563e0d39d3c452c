"""The evaluation protocols a router's figures are reported under, and the table `mixcore route eval` prints.

Never is a benchmark scored by a router trained on it: the headline is leave one benchmark out (train on
GSM8K, score MMLU, and the reverse), and MMLU again with whole subjects held out (k folds of subjects).
"With your own logs" (a documented option, reported apart) trains on `labels` prompts of the benchmark
and scores the rest. Each row is read again without the groups whose labels measure an answer's format rather
than its knowledge (`datasets.format_failures`), as the data's provenance asks. A user's own logs (one benchmark,
nothing else to train on) are cross-validated in 5 folds, and read by the shipped router where it never trained.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mixcore.routing.datasets import Example, format_failures
from mixcore.routing.evaluation import Figures, figures, length_scores, oracle_scores, random_band
from mixcore.routing.groups import train_groups
from mixcore.routing.router import train

Trainer = Callable[[Sequence[Example]], Callable[[Sequence[Example]], list[float]]]


def ngram_trainer(examples: Sequence[Example]) -> Callable[[Sequence[Example]], list[float]]:
    router = train(examples)
    return lambda rows: router.scores([e.prompt for e in rows])


def length_trainer(examples: Sequence[Example]) -> Callable[[Sequence[Example]], list[float]]:
    return length_scores


def groups_trainer(examples: Sequence[Example]) -> Callable[[Sequence[Example]], list[float]]:
    router = train_groups(examples)
    return lambda rows: router.scores([e.prompt for e in rows])


ROUTERS: dict[str, Trainer] = {"ngram": ngram_trainer, "length": length_trainer}
IN_DOMAIN_ROUTERS: dict[str, Trainer] = {**ROUTERS, "groups": groups_trainer}
# RouteLLM's best published routers (tests/fixtures/routing/README.md): APGR and CPT(50%), trained with in-domain
# labels (MMLU: ~1,500 validation labels; GSM8K: judge labels).
PUBLISHED = {"mmlu": (0.603, 0.354), "gsm8k": (0.622, 0.3364)}
# Issue 29's goals: APGR trained on other data, and with in-domain labels APGR and CPT(50%) at most.
GOALS = {"mmlu": 0.60, "gsm8k": 0.62}
IN_DOMAIN_GOAL = (0.63, 0.32)


@dataclass
class Row:
    benchmark: str
    protocol: str
    router_name: str
    prompts: int
    router: Figures
    length: Figures
    random_mean: float
    random_low: float
    random_high: float
    oracle: float
    strong_share_cost: tuple[float, float]  # USD per 1,000 prompts: all weak, all strong
    dropped: tuple[str, ...] = ()  # groups left out as format failures (datasets.format_failures)
    judged: bool = True  # reported against issue 29's goals: not a user's own data, nor a row without failures


def held_out_scores(trainer: Trainer, folds: list[list[Example]], train_pool: Sequence[Example]) -> dict[str, float]:
    """Scores for every example of `folds`, each fold scored by a router trained on the pool without it."""
    scores: dict[str, float] = {}
    for fold in folds:
        held = {e.id for e in fold}
        scorer = trainer([e for e in train_pool if e.id not in held])
        scores.update(zip((e.id for e in fold), scorer(fold), strict=True))
    return scores


def subject_folds(examples: Sequence[Example], folds: int, seed: int = 0) -> list[list[Example]]:
    groups = sorted({e.group for e in examples})
    random.Random(seed).shuffle(groups)
    held = [set(groups[i::folds]) for i in range(folds)]
    return [[e for e in examples if e.group in fold] for fold in held]


OWN_FOLDS = 5


@dataclass
class Plan:
    """One protocol's scores for one benchmark, before its figures."""
    benchmark: str
    protocol: str
    router_name: str
    examples: list[Example]
    scores: dict[str, float]
    judged: bool = True  # reported against issue 29's goals


def evaluate(examples: Sequence[Example], router: str, *, labels: int = 0, in_domain_router: str = "groups",
             subject_fold_count: int = 4, shipped: Callable[[Sequence[Example]], list[float]] | None = None,
             shipped_on: frozenset[str] = frozenset(),
             draws: int = 1_000, bootstrap: int = 200, prices: tuple[float, float, float, float] | None = None,
             answer_tokens: int = 300, progress: Callable[[str], None] = lambda _: None) -> list[Row]:
    """Every benchmark under every protocol the data allows, with its figures."""
    found = plans(examples, router, labels=labels, in_domain_router=in_domain_router,
                  subject_fold_count=subject_fold_count, shipped=shipped, shipped_on=shipped_on, progress=progress)
    return _rows(found, format_failures(examples), draws, bootstrap, prices, answer_tokens, progress)


def plans(examples: Sequence[Example], router: str, *, labels: int = 0, in_domain_router: str = "groups",
          subject_fold_count: int = 4, shipped: Callable[[Sequence[Example]], list[float]] | None = None,
          shipped_on: frozenset[str] = frozenset(), progress: Callable[[str], None] = lambda _: None) -> list[Plan]:
    """Every benchmark under every protocol the data allows, scored. `shipped` scores prompts with the router as
    shipped, trained on the prompts `shipped_on`: it is read only on the others (a user's own data)."""
    trainer = ROUTERS[router]
    found: list[Plan] = []
    for benchmark in sorted({e.benchmark for e in examples}):
        target = [e for e in examples if e.benchmark == benchmark]
        others = [e for e in examples if e.benchmark != benchmark]
        before = len(found)
        if others:
            progress(f"{benchmark}: training on the other benchmarks")
            found.append(Plan(benchmark, "other benchmarks", router, target, _scored(trainer(others), target)))
        groups = {e.group for e in target}
        if len(groups) >= subject_fold_count:
            progress(f"{benchmark}: {subject_fold_count} folds of whole groups held out")
            found.append(Plan(benchmark, f"{len(groups)} groups, {subject_fold_count} folds held out", router, target,
                              held_out_scores(trainer, subject_folds(target, subject_fold_count), examples)))
        if labels and len(target) > labels:
            progress(f"{benchmark}: {labels} in-domain labels")
            seen, rest = _split(target, labels)
            for name in dict.fromkeys((router, in_domain_router)):
                found.append(Plan(benchmark, f"{labels} in-domain labels", name, rest,
                                  _scored(IN_DOMAIN_ROUTERS[name](seen), rest)))
        if len(found) == before and len(target) >= 2 * OWN_FOLDS:
            # One benchmark of one's own logs: nothing else to train on, so cross-validate on it.
            progress(f"{benchmark or 'your data'}: {OWN_FOLDS} folds of its own prompts")
            found.append(Plan(benchmark, f"{OWN_FOLDS} folds of its own prompts", router, target,
                              held_out_scores(trainer, _folds(target, OWN_FOLDS), target), judged=False))
        unseen = [e for e in target if e.prompt not in shipped_on]
        if shipped is not None and unseen:
            progress(f"{benchmark or 'your data'}: the shipped router")
            found.append(Plan(benchmark, "the shipped router", router, unseen, _scored(shipped, unseen),
                              judged=False))
    return found


def _scored(scorer: Callable[[Sequence[Example]], list[float]], examples: list[Example]) -> dict[str, float]:
    return dict(zip((e.id for e in examples), scorer(examples), strict=True))


def _shuffled(examples: Sequence[Example]) -> list[Example]:
    shuffled = list(examples)
    random.Random(0).shuffle(shuffled)
    return shuffled


def _split(examples: Sequence[Example], first: int) -> tuple[list[Example], list[Example]]:
    shuffled = _shuffled(examples)
    return shuffled[:first], shuffled[first:]


def _folds(examples: Sequence[Example], count: int) -> list[list[Example]]:
    shuffled = _shuffled(examples)
    return [shuffled[i::count] for i in range(count)]


def _rows(scored: Sequence[Plan], failed: set[str], draws: int, bootstrap: int,
          prices: tuple[float, float, float, float] | None, answer_tokens: int,
          progress: Callable[[str], None]) -> list[Row]:
    rows: list[Row] = []
    for plan in scored:
        progress(f"{plan.benchmark or 'your data'}, {plan.protocol}: figures")
        rows.append(_row(plan, plan.protocol, plan.examples, (), draws, bootstrap, prices, answer_tokens))
        dropped = tuple(sorted(failed & {e.group for e in plan.examples}))
        kept = [e for e in plan.examples if e.group not in dropped]
        if dropped and kept:
            # The same scores, read without the groups whose labels measure the answer's format.
            protocol = f"{plan.protocol}, without {', '.join(dropped)}"
            progress(f"{plan.benchmark}, {protocol}: figures")
            rows.append(_row(plan, protocol, kept, dropped, draws, bootstrap, prices, answer_tokens))
    return rows


def _row(plan: Plan, protocol: str, rows_of: Sequence[Example], dropped: tuple[str, ...], draws: int, bootstrap: int,
         prices: tuple[float, float, float, float] | None, answer_tokens: int) -> Row:
    ordered = [plan.scores[e.id] for e in rows_of]
    mean, low, high = random_band(rows_of, draws)
    return Row(plan.benchmark, protocol, plan.router_name, len(rows_of), figures(ordered, rows_of, bootstrap=bootstrap),
               figures(length_scores(rows_of), rows_of, bootstrap=bootstrap), mean, low, high,
               figures(oracle_scores(rows_of), rows_of).apgr, cost_per_thousand(rows_of, prices, answer_tokens),
               dropped, plan.judged and not dropped)


def cost_per_thousand(examples: Sequence[Example], prices: tuple[float, float, float, float] | None,
                      answer_tokens: int) -> tuple[float, float]:
    """USD per 1,000 prompts sent all to the weak model and all to the strong one: prompts at 4 characters a
    token, answers at `answer_tokens`; prices (strong in, strong out, weak in, weak out) per 1M tokens."""
    if prices is None or not examples:
        return (0.0, 0.0)
    prompt = sum(len(e.prompt) for e in examples) / len(examples) / 4
    strong_in, strong_out, weak_in, weak_out = prices
    return ((prompt * weak_in + answer_tokens * weak_out) / 1_000, (prompt * strong_in + answer_tokens * strong_out)
            / 1_000)


@dataclass(frozen=True)
class Goal:
    what: str
    met: bool


def goal_of(row: Row) -> Goal | None:
    """The goal a row is reported against: above the length baseline and the random band, and at least the goal's
    APGR (with in-domain labels, also CPT(50%) at most the goal's). None for a benchmark without a goal, for the
    rows read without format failures (the goals are set on the data as published) and for a user's own data."""
    if not row.judged:
        return None
    beats = row.router.apgr > row.length.apgr and row.router.apgr > row.random_high
    if "in-domain" in row.protocol:
        apgr_goal, cpt_goal = IN_DOMAIN_GOAL
        return Goal(f"APGR ≥ {apgr_goal:.2f}, CPT50 ≤ {cpt_goal:.0%}, above length and random",
                    beats and row.router.apgr >= apgr_goal and row.router.cpt50 <= cpt_goal)
    if row.benchmark not in GOALS:
        return None
    return Goal(f"APGR ≥ {GOALS[row.benchmark]:.2f}, above length and random", beats and row.router.apgr >=
                GOALS[row.benchmark])


def goals_table(rows: Sequence[Row]) -> list[str]:
    """Each row against its goal, met or not, beside RouteLLM's best published router."""
    lines = ["| benchmark | protocol | router | APGR / CPT50 | goal | | published best (APGR / CPT50) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        goal = goal_of(r)
        if goal is None:
            continue
        published = PUBLISHED.get(r.benchmark)
        lines.append(f"| {r.benchmark} | {r.protocol} | {r.router_name} | {r.router.apgr:.3f} / {r.router.cpt50:.1%} "
                     f"| {goal.what} | {'met' if goal.met else '**not met**'} | "
                     f"{f'{published[0]:.3f} / {published[1]:.1%}' if published else '–'} |")
    return lines


def table(rows: Sequence[Row]) -> list[str]:
    lines = ["| benchmark | protocol | router | prompts | APGR (95% CI) | CPT50 | CPT80 | length APGR | random "
             "(95% band) | oracle | $ / 1k prompts at a 50% share (all weak → all strong) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        weak, strong = r.strong_share_cost
        interval = f" ({r.router.low:.3f}–{r.router.high:.3f})" if r.router.low is not None else ""  # --bootstrap 0
        lines.append(f"| {r.benchmark or '–'} | {r.protocol} | {r.router_name} | {r.prompts} | {r.router.apgr:.3f}"
                     f"{interval} | {r.router.cpt50:.1%} | {r.router.cpt80:.1%} | {r.length.apgr:.3f} | "
                     f"{r.random_mean:.3f} ({r.random_low:.3f}–{r.random_high:.3f}) | {r.oracle:.3f} | "
                     f"{(weak + strong) / 2:.2f} ({weak:.2f} → {strong:.2f}) |")
    return lines
