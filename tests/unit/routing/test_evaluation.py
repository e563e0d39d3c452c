"""RouteLLM's metrics on data whose answers are written out here, and the vendored data read as its README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixcore.routing.datasets import Example, from_routellm, read_jsonl, write_jsonl
from mixcore.routing.evaluation import Figures, apgr, cpt, pgr_curve, random_band
from mixcore.routing.experiments import Row, goal_of, goals_table
from mixcore.routing.router import LinearRouter, features, train
from tests.conftest import FIXTURES

# Ten prompts: the strong model is needed for the first two (it is right, the weak one wrong); both are right on
# the other eight. Quality: weak 8/10, strong 10/10.
TEN = [Example(str(i), f"prompt {i}", 1.0, 0.0 if i < 2 else 1.0) for i in range(10)]
PERFECT = [10.0 - i for i in range(10)]  # the two that need the strong model first
BACKWARDS = [float(i) for i in range(10)]


def test_pgr_is_the_share_of_the_gap_closed_at_each_share_of_strong_calls() -> None:
    # Sending the top 10% (one prompt) closes half the gap, the top 20% all of it.
    assert pgr_curve(PERFECT, TEN, 10) == [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert pgr_curve(BACKWARDS, TEN, 10) == [0.0] * 9 + [0.5, 1.0]


def test_apgr_is_the_area_under_the_pgr_curve() -> None:
    # Trapezoids of width 0.1: (0 + 0.5)/2 + (0.5 + 1)/2 + 8 × 1, times 0.1 = 0.9; backwards: 0.025 + 0.075 = 0.1
    assert apgr(PERFECT, TEN) == pytest.approx(0.9)
    assert apgr(BACKWARDS, TEN) == pytest.approx(0.1)


def test_cpt_is_the_smallest_share_of_strong_calls_reaching_the_target() -> None:
    assert cpt(PERFECT, TEN, 0.5) == pytest.approx(0.1)  # one prompt of ten
    assert cpt(PERFECT, TEN, 0.8) == pytest.approx(0.16)  # 1.6 prompts: between the first and the second
    assert cpt(BACKWARDS, TEN, 0.5) == pytest.approx(0.9)


def test_a_random_router_scores_about_a_half() -> None:
    many = [Example(str(i), "p", 1.0, float(i % 3 == 0)) for i in range(600)]
    mean, low, high = random_band(many, draws=200)
    assert low < 0.5 < high and mean == pytest.approx(0.5, abs=0.02)


def test_the_vendored_routellm_data_reads_as_its_readme_counts() -> None:
    examples = from_routellm(FIXTURES / "routing" / "routellm")
    gsm8k = [e for e in examples if e.benchmark == "gsm8k"]
    mmlu = [e for e in examples if e.benchmark == "mmlu"]
    assert len(gsm8k) == 1_307  # 1,319 questions, 12 contaminated
    assert len({e.group for e in mmlu}) == 44
    assert {e.strong for e in examples} == {e.weak for e in examples} == {0.0, 1.0}
    assert read_jsonl(list(write_jsonl(gsm8k[:3]))) == gsm8k[:3]


def test_the_only_format_failure_in_the_vendored_mmlu_is_high_school_mathematics() -> None:
    from mixcore.routing.datasets import format_failures

    # The data's README: GPT-4 scores about 3% on high_school_mathematics, below a guess among four options.
    mmlu = [e for e in from_routellm(FIXTURES / "routing" / "routellm") if e.benchmark == "mmlu"]
    assert format_failures(mmlu) == {"high_school_mathematics"}
    below_chance_but_not_beaten = [Example(f"q{i}", "?", 0.0, 0.0, "mmlu", "hard") for i in range(10)]
    assert format_failures(below_chance_but_not_beaten) == set()  # both models fail: knowledge, not format


def test_each_row_is_read_again_without_the_format_failures_with_the_same_scores() -> None:
    from mixcore.routing.experiments import evaluate

    # Two groups: "quirk" (strong 0 of 8, weak 8 of 8: a format failure) and "plain". Length is the router, so
    # the scores are the prompts' lengths; without "quirk" the rows are plain's alone.
    quirk = [Example(f"q{i}", "x" * (10 + i), 0.0, 1.0, "b", "quirk") for i in range(8)]
    plain = [Example(f"p{i}", "y" * (30 + i), float(i % 2), 0.0, "b", "plain") for i in range(8)]
    rows = evaluate(quirk + plain, "length", subject_fold_count=99, draws=20, bootstrap=0)
    # one benchmark and 2 groups: only cross-validation on its own prompts applies
    assert [r.protocol for r in rows] == ["5 folds of its own prompts", "5 folds of its own prompts, without quirk"]
    other = [Example(f"o{i}", "z" * (5 + i), 1.0, 0.0, "c", "c") for i in range(4)]
    rows = evaluate(quirk + plain + other, "length", subject_fold_count=99, draws=20, bootstrap=0)
    full, without = [r for r in rows if r.benchmark == "b"]
    assert (full.prompts, full.dropped) == (16, ())
    assert (without.protocol, without.prompts, without.dropped) == ("other benchmarks, without quirk", 8, ("quirk",))
    assert without.router.apgr == pytest.approx(apgr([float(len(e.prompt)) for e in plain], plain))
    assert goal_of(without) is None
    # A benchmark that is all one failing group has nothing left to read again.
    assert [r.protocol for r in evaluate(quirk + other, "length", subject_fold_count=99, draws=20, bootstrap=0)
            if r.benchmark == "b"] == ["other benchmarks"]


def test_a_trained_router_learns_a_word_that_marks_hard_prompts_and_survives_a_save(tmp_path: object) -> None:
    hard = [Example(f"h{i}", f"integrate the series {i} carefully", 1.0, 0.0) for i in range(40)]
    easy = [Example(f"e{i}", f"say hello to friend {i}", 1.0, 1.0) for i in range(40)]
    router = train(hard + easy, epochs=5)
    assert router.score("please integrate this") > router.score("say hello please")
    from pathlib import Path

    path = Path(str(tmp_path)) / "router.bin"
    router.save(path)
    again = LinearRouter.load(path.read_bytes())
    assert again.score("please integrate this") == pytest.approx(router.score("please integrate this"), rel=1e-5)


def test_only_the_end_of_a_long_prompt_is_read() -> None:
    tail = "z " * 3_000 + "what is the capital of france"
    assert features("x " * 50_000 + tail) == features("y " * 50_000 + tail)


def test_a_share_of_a_calibrated_table_sends_that_share_of_its_prompts_to_the_strong_side() -> None:
    from mixcore.routing.thresholds import quantile_table, threshold_for

    scores = [float(10 * i) for i in range(1, 21)]  # 20 prompts scoring 10..200
    table = quantile_table(scores)
    assert (table[0], table[50], table[100]) == (10.0, 105.0, 200.0)  # the median of 100 and 110
    for share, expected in ((0.3, 6), (0.5, 10), (0.1, 2)):
        assert sum(1 for s in scores if s >= threshold_for(table, share)) == expected
    assert threshold_for(table, 0.0) == float("inf") and threshold_for(table, 1.0) == float("-inf")


def test_the_groups_router_scores_a_prompt_by_the_gain_of_the_group_it_resembles() -> None:
    from mixcore.routing.groups import train_groups

    hard = [Example(f"h{i}", f"evaluate the integral of the derivative number {i}", 1.0, 0.0, "b", "calculus")
            for i in range(10)]
    easy = [Example(f"e{i}", f"say hello to your friend called number {i}", 1.0, 1.0, "b", "greetings")
            for i in range(10)]
    router = train_groups(hard + easy)
    # Each group's gain, pulled toward the overall mean (10 × 1 + 10 × 0) / 20 = 0.5 as if by 10 more prompts:
    # calculus (10 + 10 × 0.5) / 20 = 0.75, greetings (0 + 10 × 0.5) / 20 = 0.25
    assert router.gains == pytest.approx({"calculus": 0.75, "greetings": 0.25})
    assert router.score("what is the integral of this derivative") > 0.7
    assert router.score("hello friend") < 0.3


def row(benchmark: str, protocol: str, apgr_: float, cpt50: float, length: float = 0.55,
        random_high: float = 0.53) -> Row:
    return Row(benchmark, protocol, "ngram", 100, Figures(apgr_, cpt50, 0.8), Figures(length, 0.45, 0.8), 0.5, 0.47,
               random_high, 0.99, (0.0, 0.0))


@pytest.mark.parametrize(("case", "met"), [
    (row("mmlu", "other benchmarks", 0.61, 0.40), True),  # the goal (0.60) and above length (0.55)
    (row("mmlu", "other benchmarks", 0.59, 0.40), False),  # below 0.60
    (row("gsm8k", "other benchmarks", 0.61, 0.40), False),  # GSM8K's goal is 0.62
    (row("gsm8k", "other benchmarks", 0.63, 0.40, length=0.64), False),  # the goal, but below length
    (row("mmlu", "1500 in-domain labels", 0.64, 0.30), True),  # 0.63 and CPT50 at most 32%
    (row("mmlu", "1500 in-domain labels", 0.64, 0.33), False),  # CPT50 above 32%
])
def test_a_row_meets_its_goal_only_above_length_random_and_the_goals_figures(case: Row, met: bool) -> None:
    goal = goal_of(case)
    assert goal is not None and goal.met is met
    line = goals_table([case])[-1]
    assert ("**not met**" in line) is not met and ("0.603 / 35.4%" in line) is (case.benchmark == "mmlu")


def test_a_benchmark_without_a_goal_is_left_out_of_the_goals() -> None:
    assert goal_of(row("mt-bench", "other benchmarks", 0.9, 0.1)) is None
    assert len(goals_table([row("mt-bench", "other benchmarks", 0.9, 0.1)])) == 2


@pytest.mark.parametrize(("line", "says"), [
    ("not json", "line 2: not JSON"),
    ("[1, 2]", "line 2: not a JSON object"),
    ('{"prompt": "x", "weak": 0}', "line 2: no 'strong'"),
    ('{"prompt": "x", "strong": "yes", "weak": 0}', "line 2: 'strong' is a quality"),
    ('{"prompt": "x", "strong": 1, "weak": NaN}', "line 2: 'weak' is a quality"),
])
def test_a_line_of_routing_data_that_cannot_be_read_is_named_with_what_is_wrong(line: str, says: str) -> None:
    from mixcore.routing.datasets import DataError

    good = '{"id": "a", "prompt": "hi", "strong": true, "weak": 0}'
    assert read_jsonl([good]) == [Example("a", "hi", 1.0, 0.0)]  # true and false read as 1 and 0
    with pytest.raises(DataError, match=says):
        read_jsonl([good, line])


def test_route_score_answers_each_line_and_stops_at_one_it_cannot_read(capsys: pytest.CaptureFixture[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from mixcore.cli import main

    lines = '{"id": 7, "prompt": "four"}\n\n{"id": 8}\n{"id": 9, "prompt": "x"}\n'
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["route", "score", "--router", "length"]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == ['{"id": 7, "score": 4.0}']  # "four" is 4 characters; line 4 is never reached
    assert err.strip() == "mixcore route score: line 3: no 'prompt'"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"prompt": "\xff"}\n'), encoding="utf-8"))
    assert main(["route", "score"]) == 2  # not UTF-8: said in a line, not a traceback
    assert capsys.readouterr().err.startswith("mixcore route score: 'utf-8' codec can't decode")


def test_ones_own_logs_are_cross_validated_and_read_by_the_shipped_router_only_where_it_never_trained() -> None:
    from mixcore.routing.experiments import evaluate

    # One benchmark of 20 prompts, no groups: nothing else to train on. Prompt i is i + 1 characters long and the
    # strong model did better on the longest 10, so length recovers the whole gap in order (APGR of the ideal
    # ranking), and a "shipped" router that scores by length does too; it has seen the first 5 prompts.
    logs = [Example(f"l{i}", "w" * (i + 1), 1.0, 0.0 if i >= 10 else 1.0) for i in range(20)]
    rows = evaluate(logs, "length", shipped=lambda rows: [float(len(e.prompt)) for e in rows],
                    shipped_on=frozenset(e.prompt for e in logs[:5]), draws=20, bootstrap=0)
    folds, shipped = rows
    assert (folds.protocol, folds.prompts, shipped.protocol, shipped.prompts) == (
        "5 folds of its own prompts", 20, "the shipped router", 15)
    ideal = apgr([float(len(e.prompt)) for e in logs], logs)
    assert folds.router.apgr == pytest.approx(ideal)  # length needs no training: every fold scores by length
    assert shipped.router.apgr == pytest.approx(apgr([float(len(e.prompt)) for e in logs[5:]], logs[5:]))
    assert goal_of(folds) is None and goal_of(shipped) is None
    from mixcore.routing.experiments import table

    # Without bootstrap draws there is no interval to print (it was a TypeError)
    assert table(rows)[2].startswith(f"| – | 5 folds of its own prompts | length | 20 | {ideal:.3f} | ")
    # Where other benchmarks exist, a benchmark is not cross-validated on itself, and the shipped router is not
    # read on prompts it trained on.
    other = [Example(f"o{i}", "z" * (i + 1), 1.0, 0.0, "other") for i in range(12)]
    rows = evaluate(logs + other, "length", shipped=lambda rows: [0.0] * len(rows),
                    shipped_on=frozenset(e.prompt for e in logs + other), draws=20, bootstrap=0)
    assert [r.protocol for r in rows] == ["other benchmarks", "other benchmarks"]


def test_what_convert_writes_eval_reads_back_even_with_unicode_line_separators_in_a_prompt(tmp_path: Path) -> None:
    from mixcore.routing.datasets import read_jsonl_file

    # Line 5,269 of the converted RouteLLM data holds a U+2028 inside a prompt: JSON leaves it raw, and a reader
    # that splits lines as str.splitlines does cut the line there.
    examples = [Example("a", "one\u2028two\x85three\u2029", 1.0, 0.0, "b", "g"), Example("b", "plain", 0.0, 0.0)]
    path = tmp_path / "data.jsonl"
    path.write_text("".join(write_jsonl(examples)), encoding="utf-8")
    assert read_jsonl_file(path) == examples
