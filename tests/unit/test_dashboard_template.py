"""The dashboard an operator reads (template.yaml): every series has a label of its own, "per hour" means hourly
periods, and the committed picture (docs/dashboard.png) and the README's table are of this dashboard."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from mixcore.local.template import Template
from tests.conftest import REPO, png_text

TEMPLATE = Template.load(REPO / "template.yaml")
BODY = TEMPLATE.resources()["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
# As CloudFormation's !Sub makes it: ${!X} is the literal ${X} (CloudWatch's dynamic labels), names are placeholders.
WIDGETS: list[dict[str, Any]] = json.loads(re.sub(
    r"\$\{([\w:]+)\}", lambda m: "48" if m.group(1) == "StaleLeaderboardHours" else "placeholder",
    BODY).replace("${!", "${"))["widgets"]
METRIC_WIDGETS = [w for w in WIDGETS if w["type"] == "metric"]
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"[^\"]+\"', '\w+', (\d+)\)")


def entries(widget: dict[str, Any]) -> list[tuple[dict[str, Any], list[Any]]]:
    """Each metric line of a widget: its options and its names (namespace, metric, dimensions), '.' resolved."""
    lines, previous = [], []
    for entry in widget["properties"]["metrics"]:
        options = next((item for item in entry if isinstance(item, dict)), {})
        names = [item for item in entry if not isinstance(item, dict)]
        names = [previous[i] if item == "." else item for i, item in enumerate(names)]
        previous = names or previous
        lines.append((options, names))
    return lines


@pytest.mark.parametrize("widget", METRIC_WIDGETS, ids=lambda w: w["properties"]["title"])
def test_no_two_series_in_a_widget_share_a_label(widget: dict[str, Any]) -> None:
    labels = []
    for options, names in entries(widget):
        if options.get("visible") is False:
            continue
        search = SEARCH.search(options.get("expression", ""))
        if search is not None:
            # A search draws one series per value of its dimensions: the label names each value
            free = [d.strip() for d in search.group(1).split(",")[1:] if d.strip() != "service"]
            assert all(f"${{PROP('Dim.{d}')}}" in options.get("label", "") for d in free), options
        elif not names:
            assert options.get("label"), options  # a math expression
        labels.append(options.get("label") or " ".join(map(str, names)))
    assert len(labels) == len(set(labels)), labels


@pytest.mark.parametrize("widget", [w for w in METRIC_WIDGETS if "per hour" in w["properties"]["title"]],
                         ids=lambda w: w["properties"]["title"])
def test_every_per_hour_widget_has_hourly_periods(widget: dict[str, Any]) -> None:
    assert widget["properties"]["period"] == 3600
    periods = [int(found.group(2)) for options, _ in entries(widget)
               if (found := SEARCH.search(options.get("expression", "")))]
    assert all(p == 3600 for p in periods), periods
    assert any("per hour" in w["properties"]["title"] for w in METRIC_WIDGETS)


def test_the_committed_picture_is_drawn_from_this_template() -> None:
    source = png_text((REPO / "docs" / "dashboard.png").read_bytes()).get("Source")
    assert source == hashlib.sha256(BODY.encode()).hexdigest(), "docs/dashboard.png is older than the " \
        "template's dashboard: run `make dashboard`"


def test_the_readme_table_lists_the_dashboards_rows() -> None:
    rows: dict[int, list[dict[str, Any]]] = {}
    for widget in WIDGETS:
        if widget["type"] != "text":
            rows.setdefault(widget["y"], []).append(widget)
    expected = [" · ".join(w["properties"]["title"] for w in sorted(row, key=lambda w: w["x"]))
                for _, row in sorted(rows.items())]
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("| row | widgets, left to right |"):].split("\n\n", 1)[0]
    table = [line.split("|")[2].strip() for line in section.splitlines()[2:]]
    assert table == expected
