"""Self-verification verdicts, the offline stand-in verifier, and a cascade's figures against cost (routing/
verification.py, routing/cascade.py). Expected values are worked out by hand in the comments."""

from __future__ import annotations

import pytest

from mixcore.routing.cascade import Answered, cost_apgr, cost_cpt, evaluate_cascade, spend
from mixcore.routing.datasets import Example
from mixcore.routing.verification import checked_fraction, verification_prompt, verified_fraction


def test_the_verified_fraction_counts_parseable_verdicts_as_automix_does() -> None:
    verdicts = ["Sound.\nVerification Decision: The AI generated answer is Correct.",
                "Off by one.\nVerification Decision: The AI generated answer is Incorrect.", "I am not sure."]
    assert verified_fraction(verdicts) == (0.5, 2)  # the unparseable third is left out
    assert verified_fraction(["no decision"]) == (0.0, 0)


def test_the_verification_prompt_ends_with_the_question_and_the_answer_to_judge() -> None:
    prompt = verification_prompt("We talked about eggs.", "How many eggs in 3 boxes of 12?", "36")
    assert prompt.endswith("Context: We talked about eggs.\nQuestion: How many eggs in 3 boxes of 12?\n"
                           "AI Generated Answer: 36\nEvaluation:")
    assert prompt.count("Verification Decision:") == 3  # the three few-shot examples


QUESTION = "Tom has 3 apples and buys 4 more. How many apples does he have?"


@pytest.mark.parametrize(("answer", "passed"), [
    ("He has 3 + 4 = <<3+4=7>>7 apples.\n#### 7", 1.0),  # both calculations right, all 4 other checks pass
    ("He has 3 + 4 = 8 apples.\n#### 8", 4 / 5),  # one calculation wrong of 5 checks
    ("He has 3 + 4 = 7 apples, or about 3.5 pairs.\n#### 3.5", 4 / 5),  # the final answer is not whole
    ("Assuming he ate some, he has 4 + 3 = 7.\n#### 7", 4 / 5),  # hedges
    ("He has 7 apples.", 1 / 4),  # no final answer (so none whole), nor the question's numbers; only no hedge
    ("He bought 4, so 4 * 2 = 8.\n#### 8", 4 / 5),  # never uses the 3 the question gives
])
def test_the_stand_in_verifier_is_the_share_of_checks_an_answer_passes(answer: str, passed: float) -> None:
    assert checked_fraction(QUESTION, answer) == pytest.approx(passed)


def test_the_stand_in_never_evaluates_more_than_arithmetic() -> None:
    # A power tower would take forever to evaluate; it is not arithmetic the checker does, so it is no check.
    assert checked_fraction("What is 9?", "9 ** 9 ** 9 = 1\n#### 9") == 1.0


def test_cost_apgr_is_the_area_under_pgr_over_the_spend_share() -> None:
    # PGR 0 until the fixed spend of 20%, rising linearly to 1 at 60%, then flat: 0.4 * 1 / 2 + 0.4 * 1 = 0.6.
    points = [(0.2, 0.0), (0.6, 1.0), (1.2, 1.0)]
    assert cost_apgr(points) == pytest.approx(0.6, abs=1e-3)
    assert cost_cpt(points, 0.5) == pytest.approx(0.4)  # halfway along the rise
    assert cost_cpt([(0.2, 0.0), (1.1, 0.4)], 0.5) == float("inf")


def answered(strong: float, weak: float, weak_answer: str) -> Answered:
    return Answered(Example(f"q{len(weak_answer)}", "x" * 400, strong, weak), weak_answer, "z" * 400)


def test_a_call_is_priced_from_its_text_and_the_pair_prices() -> None:
    item = answered(1, 0, "y" * 800)
    costs = spend(item, (10.0, 30.0, 0.6, 0.6), samples=4)
    # 400 characters = 100 tokens: the strong call is 100 in at $10/M and 100 out at $30/M.
    assert costs.strong == pytest.approx(100 * 10e-6 + 100 * 30e-6)
    assert costs.weak == pytest.approx((100 + 200) * 0.6e-6)
    assert costs.verify > 0


def test_a_verifier_that_knows_the_wrong_answers_recovers_the_gap_for_its_fixed_spend() -> None:
    # Two prompts: the weak model is wrong on the first only. A verifier that flags exactly that answer escalates
    # it first: the whole gap is recovered after one strong call.
    items = [answered(1, 0, "wrong"), answered(1, 1, "right")]
    truth = {"wrong": 0.0, "right": 1.0}
    found = evaluate_cascade(items, (10.0, 30.0, 0.0, 0.0), samples=1, draws=20,
                             verifier=lambda _prompt, answer: truth[answer])
    # With a free weak side, spend share after one escalation is 0.5: PGR rises 0 → 1 over [0, 0.5], then stays.
    assert found.fixed_spend == 0.0
    assert found.apgr == pytest.approx(0.75, abs=1e-3) == pytest.approx(found.oracle, abs=1e-3)
    assert found.escalated_any_failed == 0.5 and found.pgr_any_failed == 1.0
    assert found.random_low <= found.random_mean <= found.apgr


def test_a_chain_of_thousands_of_terms_is_no_check_and_no_crash() -> None:
    chain = "+".join(["1"] * 5_000)
    # The chain cannot be re-computed, so it is no check; the four checks of form pass: 4 of 4.
    assert checked_fraction("What is 5000?", f"{chain} = 5000\n#### 5000") == 1.0
