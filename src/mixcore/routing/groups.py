"""A router for "your own logs": prompts labelled with a group (an MMLU subject, an app's feature) teach it each
group's words and how much the strong model gains there; a new prompt's score is the gain of the groups it
resembles (similarity-weighted, softmax over the groups' TF-IDF centroids). It needs in-domain labels, so it is
reported only under that protocol.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from mixcore.routing.datasets import Example

_WORD = re.compile(r"[a-z]+")
SHARPNESS = 20.0  # softmax temperature over cosine similarities to the group centroids
SHRINK = 10.0  # a group's gain is pulled toward the overall mean as if it had this many more prompts
TERMS_PER_GROUP = 3_000


def _words(prompt: str) -> set[str]:
    return set(_WORD.findall(prompt.lower()))


@dataclass
class GroupRouter:
    idf: dict[str, float]
    centroids: dict[str, dict[str, float]]
    gains: dict[str, float]

    def vector(self, prompt: str) -> dict[str, float]:
        found = {w: self.idf[w] for w in _words(prompt) if w in self.idf}
        norm = math.sqrt(sum(v * v for v in found.values())) or 1.0
        return {w: v / norm for w, v in found.items()}

    def score(self, prompt: str) -> float:
        vector = self.vector(prompt)
        sims = {g: sum(vector[w] * c.get(w, 0.0) for w in vector) for g, c in self.centroids.items()}
        top = max(sims.values(), default=0.0)
        weights = {g: math.exp(SHARPNESS * (s - top)) for g, s in sims.items()}
        total = sum(weights.values()) or 1.0
        return sum(weights[g] * self.gains[g] for g in weights) / total

    def scores(self, prompts: Sequence[str]) -> list[float]:
        return [self.score(p) for p in prompts]


def train_groups(examples: Sequence[Example]) -> GroupRouter:
    documents = [_words(e.prompt) for e in examples]
    frequency: Counter[str] = Counter(w for words in documents for w in words)
    idf = {w: math.log((1 + len(documents)) / (1 + n)) for w, n in frequency.items() if n < len(documents)}
    router = GroupRouter(idf, {}, {})
    sums: dict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    gains: dict[str, list[float]] = defaultdict(list)
    for example in examples:
        for word, value in router.vector(example.prompt).items():
            sums[example.group][word] += value
        gains[example.group].append(example.strong - example.weak)
    prior = sum(sum(v) for v in gains.values()) / max(1, len(examples))
    for group, total in sums.items():
        kept = dict(sorted(total.items(), key=lambda item: -item[1])[:TERMS_PER_GROUP])
        norm = math.sqrt(sum(v * v for v in kept.values())) or 1.0
        router.centroids[group] = {w: v / norm for w, v in kept.items()}
        router.gains[group] = (sum(gains[group]) + SHRINK * prior) / (len(gains[group]) + SHRINK)
    return router
