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


PARAMETERS = TEMPLATE.body["Parameters"]
CONDITIONS = TEMPLATE.body["Conditions"]
API = TEMPLATE.resources("AWS::Serverless::Api")["Api"]
PATHS = API["Properties"]["DefinitionBody"]["paths"]
GATEWAY_RESPONSES = API["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_reservation_is_a_parameter_that_is_off_by_default(name: str) -> None:
    # Given the function's reserved concurrency: !If [HasXReservedConcurrency, !Ref XReservedConcurrency, NoValue]
    condition, value, otherwise = FUNCTIONS[name]["Properties"]["ReservedConcurrentExecutions"]["Fn::If"]
    parameter = ref(value)
    # Then it is switched by its own parameter, off (0) by default, and absent when off
    assert parameter in PARAMETERS and PARAMETERS[parameter]["Default"] == 0
    assert CONDITIONS[condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, 0]}]}
    assert ref(otherwise) == "AWS::NoValue"


def test_a_deploy_with_the_defaults_reserves_nothing_so_any_quota_fits() -> None:
    # Lambda keeps 100 of an account's concurrency unreserved: reserving R needs a quota of 100 + R, and new
    # accounts are often given far less than the documented 1,000.
    reserved = sum(int(p["Default"]) for name, p in PARAMETERS.items() if name.endswith("ReservedConcurrency"))
    assert reserved == 0


def test_the_streamed_chat_integration_may_last_the_whole_request_budget() -> None:
    integration = PATHS["/v1/chat/completions"]["post"]["x-amazon-apigateway-integration"]
    assert integration["responseTransferMode"] == "STREAM"
    # API Gateway's default is 29,000 ms; streaming allows up to 15 minutes (900,000 ms)
    timeout_ms = integration["timeoutInMillis"]
    assert 29_000 < timeout_ms <= 900_000
    budget = PARAMETERS["RequestBudgetSeconds"]
    assert budget["MaxValue"] * 1000 <= timeout_ms and FUNCTIONS["ChatFunction"]["Properties"]["Timeout"] * 1000 \
        <= timeout_ms


def test_only_the_declared_stage_is_deployed() -> None:
    # Without OpenApiVersion, SAM adds a stage named "Stage" beside StageName
    assert API["Properties"]["OpenApiVersion"].startswith("3.")
    assert API["Properties"]["StageName"] == "api"


def test_the_stage_waits_for_the_account_logging_role_and_the_role_outlives_the_stack() -> None:
    # The API (and so its stage with access logs) depends on a handle that names ApiGatewayAccount when it exists
    handle = API["DependsOn"]
    ready = TEMPLATE.resources()[handle]
    setting = ready["Metadata"]["AccountSetting"]["Fn::If"]
    assert setting[0] == "ManagesApiGatewayLoggingRole" and ref(setting[1]) == "ApiGatewayAccount"
    for name in ("ApiGatewayLoggingRole", "ApiGatewayAccount"):
        resource = TEMPLATE.resources()[name]
        assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain"


def test_every_function_and_the_layer_run_a_current_amazon_linux_2023_runtime() -> None:
    runtime = TEMPLATE.body["Globals"]["Function"]["Runtime"]
    assert runtime in {"python3.12", "python3.13"}  # AL2023; python3.11 runs on Amazon Linux 2 (support ended)
    assert all("Runtime" not in f["Properties"] for f in FUNCTIONS.values())
    layer = TEMPLATE.resources("AWS::Serverless::LayerVersion")["MixcoreLayer"]["Properties"]
    assert layer["CompatibleRuntimes"] == [runtime]
    makefile = (REPO / "src" / "Makefile").read_text()
    assert f"RUNTIME_VERSION := {runtime.removeprefix('python')}" in makefile


def test_the_architecture_is_one_parameter_for_functions_layer_and_web_adapter() -> None:
    assert PARAMETERS["Architecture"]["Default"] == "x86_64"
    assert set(PARAMETERS["Architecture"]["AllowedValues"]) == {"x86_64", "arm64"}
    assert TEMPLATE.body["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]
    layer = TEMPLATE.resources("AWS::Serverless::LayerVersion")["MixcoreLayer"]
    assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
    assert layer["Metadata"]["BuildArchitecture"] == {"Ref": "Architecture"}
    adapter = FUNCTIONS["ChatFunction"]["Properties"]["Layers"][0]["Fn::Sub"][1]["Adapter"]["Fn::If"]
    assert adapter == ["IsArm64", "LambdaAdapterLayerArm64", "LambdaAdapterLayerX86"]


def test_the_authorizer_cache_is_a_parameter_and_the_outputs_name_what_a_flush_needs() -> None:
    scheme = API["Properties"]["DefinitionBody"]["components"]["securitySchemes"]["ClientKey"]
    assert ref(scheme["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"]) == "AuthorizerCacheSeconds"
    assert PARAMETERS["AuthorizerCacheSeconds"]["MaxValue"] == 3600  # API Gateway's maximum
    outputs = TEMPLATE.body["Outputs"]
    assert ref(outputs["ApiId"]["Value"]) == "Api" and outputs["ApiStage"]["Value"] == API["Properties"]["StageName"]


@pytest.mark.parametrize("name", sorted(GATEWAY_RESPONSES))
def test_every_gateway_response_carries_the_request_id(name: str) -> None:
    parameters = GATEWAY_RESPONSES[name]["responseParameters"]
    assert parameters["gatewayresponse.header.x-request-id"] == "context.requestId"
    assert '"error"' in GATEWAY_RESPONSES[name]["responseTemplates"]["application/json"]


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
