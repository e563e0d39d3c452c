"""Powertools Logger, Tracer and Metrics shared by every function (configured through the environment)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="mixcore")
tracer = Tracer(service="mixcore")
metrics = Metrics(namespace="Mixcore", service="mixcore")
