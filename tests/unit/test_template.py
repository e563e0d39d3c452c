"""What template.yaml promises operators (issue 13): bounded log retention, delivery failures seen, capacity kept.

cfn-lint, `sam validate --lint` and checkov run in `make test` too; these check the promises
those tools do not know about.
"""

from __future__ import annotations

from typing import Any

import pytest

from mixcore.local.template import Template
from tests.conftest import REPO

TEMPLATE = Template.load(REPO / "template.yaml")
FUNCTIONS = TEMPLATE.resources("AWS::Serverless::Function")
LOG_GROUPS = TEMPLATE.resources("AWS::Logs::LogGroup")


def ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_logs_to_a_group_with_retention(name: str) -> None:
    group = ref(FUNCTIONS[name]["Properties"]["LoggingConfig"]["LogGroup"])
    assert group in LOG_GROUPS, f"{name} logs to a group the template does not own (kept forever)"
    assert ref(LOG_GROUPS[group]["Properties"]["RetentionInDays"]) == "LogRetentionDays"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_has_reserved_concurrency(name: str) -> None:
    # The authorizer and catalog keep capacity when long chat streams hold the rest; the chat is capped.
    assert "ReservedConcurrentExecutions" in FUNCTIONS[name]["Properties"]


def test_traces_never_capture_answers_or_error_bodies() -> None:
    environment = TEMPLATE.body["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert environment["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"


def test_cost_delivery_failures_are_logged_and_alarmed() -> None:
    stream = TEMPLATE.resources("AWS::KinesisFirehose::DeliveryStream")["CostStream"]["Properties"]
    logging = stream["ExtendedS3DestinationConfiguration"]["CloudWatchLoggingOptions"]
    assert logging["Enabled"] is True and ref(logging["LogGroupName"]) in LOG_GROUPS
    alarms = TEMPLATE.resources("AWS::CloudWatch::Alarm").values()
    firehose = {a["Properties"]["MetricName"] for a in alarms if a["Properties"].get("Namespace") == "AWS/Firehose"
                and ref(a["Properties"]["Dimensions"][0]["Value"]) == "CostStream"}
    assert {"DeliveryToS3.DataFreshness", "DeliveryToS3.Success"} <= firehose
