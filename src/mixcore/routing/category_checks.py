"""How often `index/auto`'s rules (routing/categories.py) name the right category, on labelled prompts that ship
with the project: a hand-labelled set covering every category (tests/fixtures/routing/categories/, ours), and
labels the vendored RouteLLM data implies (every GSM8K problem is math; MMLU's mathematics subjects are math;
its humanities and social-science subjects are neither code nor math, so `overall`, or `hard` when long).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixcore.routing.categories import categorise
from mixcore.routing.datasets import Example, jsonl_lines

MATH_SUBJECTS = frozenset({"elementary_mathematics", "high_school_mathematics", "abstract_algebra"})
PLAIN_SUBJECTS = frozenset({  # no code and no calculation: history, law, philosophy, society, religion
    "high_school_european_history", "high_school_us_history", "high_school_world_history", "prehistory",
    "philosophy", "world_religions", "jurisprudence", "international_law", "logical_fallacies", "sociology",
    "public_relations", "security_studies", "human_sexuality", "marketing", "management", "business_ethics",
    "high_school_geography", "professional_psychology"})


@dataclass
class CategoryScore:
    name: str
    prompts: int
    right: int
    wrong: Counter[str]  # what the wrong ones were called

    @property
    def accuracy(self) -> float:
        return self.right / self.prompts if self.prompts else 0.0


Conversation = list[dict[str, Any]]


def score(name: str, rows: Iterable[tuple[str | Conversation, frozenset[str]]]) -> CategoryScore:
    """`rows`: (a prompt or a whole conversation, the categories that are right for it)."""
    found = CategoryScore(name, 0, 0, Counter())
    for prompt, accepted in rows:
        got = categorise([{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt).name
        found.prompts += 1
        if got in accepted:
            found.right += 1
        else:
            found.wrong[got] += 1
    return found


def labelled(path: Path) -> list[tuple[str | Conversation, frozenset[str]]]:
    """A labelled set: one `{"prompt"}` or `{"messages"}` a line, with its `category` (or a list of those a
    reader would accept)."""
    rows = [json.loads(line) for line in jsonl_lines(path) if line.strip()]
    return [(r["messages"] if "messages" in r else str(r["prompt"]),
             frozenset([r["category"]] if isinstance(r["category"], str) else r["category"])) for r in rows]


def category_scores(folder: Path, examples: list[Example]) -> list[CategoryScore]:
    """`folder`: tests/fixtures/routing/categories (the hand-labelled sets)."""
    math = frozenset({"math"})
    return [score("hand-labelled, every category", labelled(folder / "labelled_prompts.jsonl")),
            score("hand-labelled conversations: system prompts, turns, length",
                  labelled(folder / "held_out_prompts.jsonl")),
            score("GSM8K → math", ((e.prompt, math) for e in examples if e.benchmark == "gsm8k")),
            score("MMLU mathematics subjects → math", ((e.prompt, math) for e in examples
                                                        if e.group in MATH_SUBJECTS)),
            score("MMLU humanities and social subjects → overall or hard",
                  ((e.prompt, frozenset({"overall", "hard"})) for e in examples if e.group in PLAIN_SUBJECTS))]


def category_table(scores: list[CategoryScore]) -> list[str]:
    lines = ["| labelled prompts | prompts | right | wrong ones were called |", "|---|---|---|---|"]
    for s in scores:
        wrong = ", ".join(f"{name} {count}" for name, count in s.wrong.most_common(4)) or "–"
        lines.append(f"| {s.name} | {s.prompts} | {s.accuracy:.1%} | {wrong} |")
    return lines
