"""Routing evaluation data in one format, and converters from RouteLLM's evaluation files.

The unified format is JSONL, one prompt a line: `{"id", "prompt", "strong", "weak", "benchmark", "group"}` where
`strong` and `weak` are each model's quality on that prompt (1/0 correctness, or a judge's score in [0, 1]),
`benchmark` names the data set (the unit of leave-one-benchmark-out) and `group` a part of it (an MMLU subject).
RouteLLM's files (tests/fixtures/routing/routellm, Apache-2.0) give, per prompt, whether GPT-4 (strong) and
Mixtral 8x7B (weak) answered correctly; the prompts RouteLLM lists as contaminated (seen in its training data)
are left out, as its paper does.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STRONG_COLUMN = "gpt-4-1106-preview"
WEAK_COLUMN = "mistralai/Mixtral-8x7B-Instruct-v0.1"


@dataclass(frozen=True)
class Example:
    id: str
    prompt: str
    strong: float
    weak: float
    benchmark: str = ""
    group: str = ""

    @property
    def needs_strong(self) -> bool:
        """The strong model did better than the weak one: what a router should learn to see."""
        return self.strong > self.weak


class DataError(ValueError):
    """A line of routing data that cannot be read; the message names the line and what is wrong with it."""


def _objects(lines: Iterable[str], required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line's JSON object with its line number, once it has the `required` fields."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"line {number}: not JSON ({error.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"line {number}: not a JSON object")
        missing = [name for name in required if name not in row]
        if missing:
            raise DataError(f"line {number}: no {', '.join(repr(m) for m in missing)}")
        yield number, row


def _quality(row: dict[str, Any], name: str, number: int) -> float:
    value = row[name]  # true/false read as 1/0
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"line {number}: {name!r} is a quality, a number (1/0 or a judge's score), not {value!r}")
    return float(value)


def read_jsonl(lines: Iterable[str]) -> list[Example]:
    return [Example(id=str(row.get("id", number)), prompt=str(row["prompt"]), strong=_quality(row, "strong", number),
                    weak=_quality(row, "weak", number), benchmark=str(row.get("benchmark", "")),
                    group=str(row.get("group", "")))
            for number, row in _objects(lines, ("prompt", "strong", "weak"))]


def jsonl_lines(path: Path) -> list[str]:
    """A JSONL file's lines, split at newlines only: JSON leaves U+2028, U+0085 and the like raw inside strings,
    where str.splitlines would cut a line."""
    return path.read_text(encoding="utf-8").split("\n")


def read_jsonl_file(path: Path) -> list[Example]:
    return read_jsonl(jsonl_lines(path))


def read_prompts(lines: Iterable[str]) -> Iterator[tuple[Any, str]]:
    """`{"id", "prompt"}` lines, one (id, prompt) at a time: a scorer answers each line as it comes."""
    for _, row in _objects(lines, ("prompt",)):
        yield row.get("id"), str(row["prompt"])


def write_jsonl(examples: Iterable[Example]) -> Iterator[str]:
    for example in examples:
        yield json.dumps(asdict(example), ensure_ascii=False) + "\n"


def _contaminated(path: Path) -> set[str]:
    found: set[str] = set()
    if path.exists():
        for line in jsonl_lines(path):
            if line.strip():
                found.add(str(json.loads(line).get("eval_prompt")))
    return found


def _rows(path: Path) -> Iterator[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="") as handle:
        yield from csv.DictReader(handle)


def from_routellm_mmlu(folder: Path) -> list[Example]:
    """RouteLLM's MMLU responses (`mmlu/responses/mmlu_<subject>.csv`), one group per subject."""
    dropped = _contaminated(folder / "contaminated_prompts.jsonl")
    examples: list[Example] = []
    for path in sorted((folder / "responses").glob("mmlu_*.csv")):
        subject = path.stem.removeprefix("mmlu_")
        for number, row in enumerate(_rows(path)):
            if row["prompt"] not in dropped:
                examples.append(Example(f"mmlu/{subject}/{number}", row["prompt"], _score(row[STRONG_COLUMN]),
                                        _score(row[WEAK_COLUMN]), "mmlu", subject))
    return examples


def from_routellm_gsm8k(folder: Path) -> list[Example]:
    """RouteLLM's GSM8K responses (`gsm8k_responses.csv`)."""
    dropped = _contaminated(folder / "contaminated_prompts.jsonl")
    return [Example(f"gsm8k/{number}", row["prompt"], _score(row[STRONG_COLUMN]), _score(row[WEAK_COLUMN]),
                    "gsm8k", "gsm8k")
            for number, row in enumerate(_rows(folder / "gsm8k_responses.csv")) if row["prompt"] not in dropped]


def gsm8k_answers(folder: Path) -> dict[str, tuple[str, str]]:
    """Each GSM8K prompt's recorded answers, (weak, strong), by the ids `from_routellm_gsm8k` gives."""
    dropped = _contaminated(folder / "contaminated_prompts.jsonl")
    return {f"gsm8k/{number}": (row[f"{WEAK_COLUMN}_response"], row[f"{STRONG_COLUMN}_response"])
            for number, row in enumerate(_rows(folder / "gsm8k_responses.csv")) if row["prompt"] not in dropped}


def from_routellm(root: Path) -> list[Example]:
    """Both benchmarks from a copy of RouteLLM's `routellm/evals` layout (mmlu/, gsm8k/)."""
    return from_routellm_mmlu(root / "mmlu") + from_routellm_gsm8k(root / "gsm8k")


def format_failures(examples: Sequence[Example], chance: float = 0.25) -> set[str]:
    """Groups the strong model answers right less often than a guess would (`chance`: one of MMLU's four options)
    while the weak model does better: failures of the answer's format, not of knowledge. RouteLLM scored MMLU by an
    answer's first character, so GPT-4 scores 3% on high_school_mathematics there; figures are reported with and
    without such groups."""
    totals: dict[str, list[float]] = {}
    for e in examples:
        strong, weak, count = totals.setdefault(e.group, [0.0, 0.0, 0.0])
        totals[e.group] = [strong + e.strong, weak + e.weak, count + 1]
    return {group for group, (strong, weak, count) in totals.items() if strong / count < chance and weak > strong}


def _score(value: str) -> float:
    return 1.0 if value.strip().lower() == "true" else 0.0
