"""Settings come from MIXCORE_* variables, typed, as before (without pydantic-settings' import cost)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mixcore.settings import Settings


def test_prefixed_variables_are_read_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXCORE_REQUEST_BUDGET_SECONDS", "12.5")
    monkeypatch.setenv("MIXCORE_MAX_N", "3")
    monkeypatch.setenv("mixcore_table_name", "lower-case-too")
    monkeypatch.setenv("MIXCORE_NOT_A_SETTING", "ignored")
    monkeypatch.setenv("TABLE_NAME", "not ours")
    settings = Settings.from_environment()
    assert settings.request_budget_seconds == 12.5
    assert settings.max_n == 3
    assert settings.table_name == "lower-case-too"


def test_defaults_hold_without_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIXCORE_MAX_N", raising=False)
    assert Settings.from_environment().max_n == Settings.model_fields["max_n"].default


def test_a_malformed_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIXCORE_MAX_N", "eight")
    with pytest.raises(ValidationError):
        Settings.from_environment()
