"""Self-verification for cascades (AutoMix, Madaan et al. 2023): the weak model checks its own answer.

The verification prompt follows AutoMix's few-shot format (context, question, "AI Generated Answer", an
evaluation, and "Verification Decision: The AI generated answer is Correct/Incorrect"), with our own short
examples and the instruction said once: the prompt is paid on every cascaded request, so it is kept small. The
model is sampled k times at a high temperature (AutoMix: k = 8 at temperature 1); the verified fraction is the
share of parseable verdicts that say Correct, as AutoMix computes it. A cascade escalates when that fraction
is below its threshold.

`checked_fraction` is the offline stand-in verifier used to evaluate a cascade on recorded answers (no model can
be called offline): it re-does the answer's arithmetic and checks its form (routing/cascade.py says how it is
reported).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Sequence

VERIFY_INSTRUCTION = ("Evaluate if each AI Generated Answer is correct, based on its context and question. Give a "
                      "one-line evaluation, then the decision: Correct or Incorrect.")
_EXAMPLES = [
    ("", "Pens cost $2 each. Tom pays for 4 pens with a $10 note. How much change does he get?",
     "4 * 2 = $8, so Tom gets 10 - 8 = $2.", "4 pens cost $8 and 10 - 8 = 2.", "Correct"),
    ("", "A train leaves at 9:40 and the trip takes 85 minutes. When does it arrive?",
     "85 minutes is 1 hour 15 minutes, so 10:55.", "85 minutes is 1 hour 25 minutes: it arrives at 11:05.",
     "Incorrect"),
    ("", "Which planet is closest to the Sun?", "Venus.", "Mercury is the closest.", "Incorrect"),
]
DECISION = "the ai generated answer is"


def _block(context: str, question: str, answer: str) -> str:
    lead = f"Context: {context}\n" if context else ""
    return f"{lead}Question: {question}\nAI Generated Answer: {answer}\nEvaluation:"


def _verdict(evaluation: str, decision: str) -> str:
    return f" {evaluation}\nVerification Decision: The AI generated answer is {decision}."


VERIFY_PROMPT = VERIFY_INSTRUCTION + "\n\n" + "".join(f"{_block(c, q, a)}{_verdict(e, d)}\n---\n"
                                                       for c, q, a, e, d in _EXAMPLES)
# What a verdict costs: the longest of the examples' evaluations and decisions (characters).
VERDICT_CHARS = max(len(_verdict(e, d)) for *_, e, d in _EXAMPLES)


def verification_prompt(context: str, question: str, answer: str) -> str:
    """The few-shot prompt asking whether `answer` answers `question` (given the conversation before it)."""
    return VERIFY_PROMPT + _block(context.strip(), question.strip(), answer.strip())


def verified_fraction(verdicts: Sequence[str]) -> tuple[float, int]:
    """The share of parseable verdicts that say Correct, and how many were parseable (AutoMix: 0 when none)."""
    valid = [v.lower() for v in verdicts if DECISION in v.lower()]
    if not valid:
        return 0.0, 0
    return sum(1 for v in valid if f"{DECISION} correct" in v) / len(valid), len(valid)


# The offline stand-in ------------------------------------------------------------------------------------

_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?%?"
_CALCULATOR = re.compile(r"<<([^=<>]+)=([^<>]+)>>")  # GSM8K's calculator annotations: <<4*2=8>>
_EQUATION = re.compile(rf"((?:{_NUMBER}\s*[-+*/x×÷]\s*)+{_NUMBER})\s*=\s*({_NUMBER})")
_FINAL = re.compile(r"(?:####|answer is:?)\s*\$?(-?[\d,]*\.?\d+)", re.IGNORECASE)
_QUESTION_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_HEDGE = re.compile(r"\b(however|assum\w*|approximately|cannot|can't|not possible|unclear)\b", re.IGNORECASE)


def _value(text: str) -> float | None:
    try:
        return float(text.replace(",", "").replace("$", "").replace("%", ""))
    except ValueError:
        return None


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _evaluate(expression: str) -> float | None:
    """An arithmetic expression's value (numbers, + - * / and parentheses only), or None."""
    cleaned = re.sub(r"[,$%]", "", expression).replace("x", "*").replace("×", "*").replace("÷", "/")
    try:
        return _node_value(ast.parse(cleaned.strip(), mode="eval").body)
    except (SyntaxError, ZeroDivisionError, RecursionError):  # a chain of thousands of terms is no calculation
        return None


def _node_value(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _node_value(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _node_value(node.left), _node_value(node.right)
        return None if left is None or right is None else float(_OPERATORS[type(node.op)](left, right))
    return None


def checked_fraction(question: str, answer: str) -> float:
    """The stand-in verifier: the share of checks an answer to a word problem passes. The checks: it states a
    final answer; that answer is a whole number (GSM8K's always are); every calculation it writes re-computes to
    the value it states; it uses every number the question gives; it does not hedge."""
    checks: list[bool] = []
    for expression, stated in _CALCULATOR.findall(answer) + _EQUATION.findall(answer):
        computed, claimed = _evaluate(expression), _value(stated)
        if computed is not None and claimed is not None:
            checks.append(abs(computed - claimed) <= 1e-6 * max(1.0, abs(claimed)) or round(computed, 2) == claimed)
    final = _FINAL.findall(answer)
    value = _value(final[-1]) if final else None
    checks.append(value is not None)
    checks.append(value is not None and value.is_integer())
    given = {n.replace(",", "") for n in _QUESTION_NUMBER.findall(question)}
    used = {n.replace(",", "") for n in _QUESTION_NUMBER.findall(answer)}
    checks.append(given <= used)
    checks.append(_HEDGE.search(answer) is None)
    return sum(checks) / len(checks)
