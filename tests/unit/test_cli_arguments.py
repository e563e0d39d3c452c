"""The CLI refuses a number it cannot use when it is typed, with argparse's usage error, instead of storing it or
failing later with a traceback."""

from __future__ import annotations

import pytest

from mixcore.cli import build_parser


@pytest.mark.parametrize("words", [
    ["keys", "create", "--budget", "nan"],  # a NaN budget compares false with every spend: no limit at all
    ["keys", "create", "--budget", "inf"],
    ["keys", "create", "--budget", "-5"],
    ["keys", "create", "--rpm", "0"],
    ["keys", "create", "--rpm", "-1"],
    ["route", "eval", "--draws", "0"],
    ["route", "eval", "--bootstrap", "-2"],
    ["route", "eval", "--labels", "-5"],
    ["route", "cascade", "--samples", "0"],
])
def test_a_number_that_cannot_be_used_is_refused_when_typed(words: list[str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(words)
    assert exited.value.code == 2
    assert f"argument {words[2]}" in capsys.readouterr().err


@pytest.mark.parametrize(("words", "field", "value"), [
    (["keys", "create", "--budget", "0"], "budget", 0.0),  # a key that may only use free models
    (["keys", "create", "--budget", "12.5", "--rpm", "1"], "rpm", 1),
    (["route", "eval", "--bootstrap", "0"], "bootstrap", 0),
])
def test_the_smallest_usable_numbers_are_accepted(words: list[str], field: str, value: float) -> None:
    assert getattr(build_parser().parse_args(words), field) == value


def test_a_stored_key_cannot_hold_a_budget_or_rate_that_means_nothing() -> None:
    from pydantic import ValidationError

    from mixcore.auth.keys import new_key

    for budget, rpm in ((float("nan"), None), (-1.0, None), (None, 0)):
        with pytest.raises(ValidationError):
            new_key("k", monthly_budget_usd=budget, requests_per_minute=rpm)
    assert new_key("k", monthly_budget_usd=0.0, requests_per_minute=1)[1].monthly_budget_usd == 0.0


@pytest.mark.parametrize("rates", ["nan,1", "1,inf", "-0.5,1"])
def test_an_operators_price_that_is_not_a_finite_amount_is_refused(rates: str) -> None:
    from pydantic import ValidationError

    from mixcore.catalog.models import Price
    from mixcore.cli import overrides_from_args

    # A NaN price makes every call's cost NaN, which no budget check can stop; a negative one refunds.
    args = build_parser().parse_args(["catalog", "put", "--price", f"openai/gpt-5={rates}"])
    with pytest.raises(ValueError, match=r"finite, 0 or more\), not 'openai/gpt-5="):
        overrides_from_args(args)
    with pytest.raises(ValidationError):
        Price(input=float(rates.split(",")[0]), output=float(rates.split(",")[1]))
    assert Price(input=0, output=0).input == 0.0  # free models are priced at 0
