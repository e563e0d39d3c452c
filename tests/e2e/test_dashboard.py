"""The dashboard and alarms plot what the functions really emit: EMF lines from a local run, checked
against every metric and dimension set template.yaml's dashboard and alarms name."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from mixcore.local.template import Template
from tests.conftest import REPO
from tests.e2e.conftest import DEV_KEY, banner_exports, cli, running_stack
from tests.e2e.test_invoke import OFFLINE_SOURCES, invoke

pytestmark = pytest.mark.e2e

# What AWS services publish, from their documentation (metric names and the dimension set used here):
# Lambda "Monitoring functions with CloudWatch metrics", API Gateway "dimensions and metrics" (ApiName, Stage),
# Firehose "Data delivery CloudWatch metrics" (DeliveryStreamName).
AWS_PUBLISHED = {
    "AWS/Lambda": ({"Errors", "Throttles", "Invocations", "Duration", "ConcurrentExecutions"}, {"FunctionName"}),
    "AWS/ApiGateway": ({"4XXError", "5XXError", "Count", "Latency", "IntegrationLatency"}, {"ApiName", "Stage"}),
    "AWS/Firehose": ({"DeliveryToS3.Success", "DeliveryToS3.DataFreshness", "DeliveryToS3.Records",
                      "IncomingRecords"}, {"DeliveryStreamName"}),
}
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"([^\"]+)\"'")
Metric = tuple[str, str, frozenset[str]]  # namespace, name, dimension names
USER = [{"role": "user", "content": "What is 6 x 7?"}]


def substituted(text: str) -> str:
    """The dashboard body as CloudFormation's !Sub would make it (names are placeholders, numbers numbers)."""
    values = {"AWS::Region": "us-east-1", "AWS::StackName": "stack", "StaleLeaderboardHours": "48"}
    return re.sub(r"\$\{([\w:]+)\}", lambda m: values.get(m.group(1), m.group(1)), text)


def dashboard_metrics(template: Template) -> set[Metric]:
    body = template.resources()["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    used: set[Metric] = set()
    for widget in json.loads(substituted(body))["widgets"]:
        previous: list[Any] = []
        for entry in (widget.get("properties") or {}).get("metrics", []):
            names = [item for item in entry if not isinstance(item, dict)]
            if not names:  # an expression: a SEARCH names a namespace, dimension set and metric
                found = SEARCH.search(entry[0]["expression"])
                if found:
                    namespace, *dimensions = [part.strip() for part in found.group(1).split(",")]
                    used.add((namespace, found.group(2), frozenset(dimensions)))
                continue
            names = [previous[i] if item == "." else item for i, item in enumerate(names)]
            previous = names
            used.add((names[0], names[1], frozenset(names[2::2])))
    return used


def alarm_metrics(template: Template) -> set[Metric]:
    return {(p["Namespace"], p["MetricName"], frozenset(d["Name"] for d in p.get("Dimensions", [])))
            for p in (r["Properties"] for r in template.resources("AWS::CloudWatch::Alarm").values())}


def emitted(lines: list[str]) -> tuple[set[Metric], dict[str, set[str]]]:
    """Every (namespace, metric, dimension set) in the EMF lines, and the values each dimension took."""
    metrics: set[Metric] = set()
    values: dict[str, set[str]] = {}
    for line in lines:
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                for definition in directive["Metrics"]:
                    metrics.add((directive["Namespace"], definition["Name"], frozenset(dimension_set)))
                for name in dimension_set:
                    values.setdefault(name, set()).add(str(blob[name]))
    return metrics, values


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[set[Metric], dict[str, set[str]]]]:
    """A local stack with metrics on, driven through what an operator watches: answers, streams, a route mix, a
    failing provider, a cool-down, a budget refusal, the catalog routes and an indexer run."""
    with running_stack(POWERTOOLS_METRICS_DISABLED="false", MIXCORE_COOLDOWN_SECONDS="30") as stack:
        client = stack.client()
        client.chat.completions.create(model="openai/gpt-4o", messages=USER)
        list(client.chat.completions.create(model="index/lmsys-overall", messages=USER, stream=True))
        client.chat.completions.create(model="cascade/frugal", messages=USER)
        client.chat.completions.create(model="route/auto", messages=USER)  # RoutedToStrong
        stack.behaviour("mistral", {"status": 500})
        for _ in range(4):  # three failures start the provider's cool-down; the fourth call is skipped
            with pytest.raises(openai.APIStatusError):
                client.chat.completions.create(model="mistral/mistral-large-latest", messages=USER)
        stack.reset()
        created = cli(stack, "keys", "create", "--name", "tiny", "--budget", "0.000001")
        tiny = created.stdout.strip().splitlines()[-1]
        with pytest.raises(openai.APIStatusError) as refused:
            stack.client(api_key=tiny).chat.completions.create(model="openai/gpt-4o", messages=USER)
        assert refused.value.status_code == 402
        for path in ("/models", "/mixes", "/leaderboards", "/leaderboards/lmsys/coding", "/mixes/index/nope"):
            httpx.get(stack.base_url + path, headers={"Authorization": f"Bearer {DEV_KEY}"}, timeout=30)
        indexer = invoke("IndexerFunction", "--event", "events/indexer_schedule.json",
                         env={**banner_exports(stack), **OFFLINE_SOURCES["IndexerFunction"]})
        assert indexer.returncode == 0, indexer.stderr[-2000:]
        empty = tmp_path_factory.mktemp("no-sources")  # every source fails: IndexerSourceFailures
        failing = invoke("IndexerFunction", "--event", "events/indexer_schedule.json",
                         env={**banner_exports(stack), "MIXCORE_SOURCES_MIRROR": str(empty)})
        assert '"failed_sources": 3' in failing.stdout, failing.stderr[-2000:]
        time.sleep(0.5)  # the last request's metrics are written just after its last byte
        yield emitted([*stack.output, *indexer.stderr.splitlines(), *failing.stderr.splitlines()])


def test_every_metric_the_dashboard_and_alarms_use_is_emitted(local_run: tuple[set[Metric], Any]) -> None:
    template = Template.load(REPO / "template.yaml")
    emitted_metrics, _ = local_run
    used = dashboard_metrics(template) | alarm_metrics(template)
    ours = {m for m in used if m[0] == "Mixcore"}
    assert len(ours) >= 20
    assert sorted(ours - emitted_metrics, key=str) == []
    for namespace, name, dimensions in used - ours:
        published, documented = AWS_PUBLISHED[namespace]
        assert name in published and dimensions == documented, (namespace, name, dimensions)


def test_every_metric_emitted_is_on_the_dashboard_or_alarmed(local_run: tuple[set[Metric], Any]) -> None:
    template = Template.load(REPO / "template.yaml")
    emitted_metrics, _ = local_run
    plotted = dashboard_metrics(template) | alarm_metrics(template)
    unplotted = sorted(f"{name} {sorted(dimensions)}" for _, name, dimensions in emitted_metrics - plotted)
    assert not unplotted, unplotted


def test_dimension_values_are_the_ones_the_operator_reads(local_run: tuple[set[Metric], Any]) -> None:
    _, values = local_run
    assert values["service"] == {"mixcore"}
    assert {"direct", "index/lmsys-overall", "cascade/frugal", "route/auto"} <= values["Mix"]
    assert {"POST /v1/chat/completions", "GET /v1/models", "GET /v1/mixes/{kind}/{name}"} <= values["Route"]
    assert "mistral" in values["Provider"]
    assert values["Source"] == {"lmsys", "seal", "bigcodebench"}
    assert len(values["KeyId"]) >= 2
