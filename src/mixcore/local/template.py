"""Reads template.yaml so the local stack is built from the same definitions as the deployment.

Functions and their environment, the REST API's routes, authorizer and gateway responses (its
DefinitionBody), and the AWS resources to create in the embedded AWS all come from here; nothing
is listed a second time by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub…) into their long form."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


# API Gateway's integration timeout when timeoutInMillis is not set.
DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000
# How long API Gateway caches an authorizer's answer when authorizerResultTtlInSeconds is not set.
DEFAULT_AUTHORIZER_TTL_SECONDS = 300

@dataclass
class Route:
    """One method and path of the REST API, and the function behind it."""

    method: str
    path: str
    function: str
    auth: bool = True
    streaming: bool = False  # responseTransferMode STREAM (the function runs behind the web adapter)
    timeout_ms: int = DEFAULT_INTEGRATION_TIMEOUT_MS  # the integration's timeoutInMillis
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)(?:\\\+)?\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        self._pattern = re.compile(f"^{regex}$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method.upper() and self.method.upper() != "ANY":
            return None
        found = self._pattern.match(path)
        return found.groupdict() if found else None


_FUNCTION_IN_URI = re.compile(r"\$\{(\w+)\.Arn\}")


def _function_of(uri: Any) -> str:
    text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else str(uri)
    found = _FUNCTION_IN_URI.search(text if isinstance(text, str) else text[0])
    if found is None:
        raise ValueError(f"integration uri names no function: {uri!r}")
    return found.group(1)


@dataclass
class FunctionDef:
    logical_id: str
    code_uri: str
    handler: str
    environment: dict[str, Any]
    timeout: int
    memory_mb: int = 128


@dataclass
class Template:
    path: Path
    body: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Template:
        return cls(path=path, body=yaml.load(path.read_text(), Loader=_CfnLoader))  # noqa: S506 - SafeLoader subclass

    @property
    def root(self) -> Path:
        return self.path.parent

    def resources(self, resource_type: str | None = None) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.body.get("Resources", {}).items()
                if resource_type is None or v.get("Type") == resource_type}

    def parameter_defaults(self) -> dict[str, Any]:
        return {k: v.get("Default") for k, v in self.body.get("Parameters", {}).items()}

    def functions(self) -> dict[str, FunctionDef]:
        globals_ = (self.body.get("Globals") or {}).get("Function") or {}
        global_env = ((globals_.get("Environment") or {}).get("Variables")) or {}
        result: dict[str, FunctionDef] = {}
        for logical_id, resource in self.resources("AWS::Serverless::Function").items():
            props = resource.get("Properties") or {}
            env = {**global_env, **(((props.get("Environment") or {}).get("Variables")) or {})}
            result[logical_id] = FunctionDef(logical_id=logical_id, code_uri=props["CodeUri"],
                                             handler=props["Handler"], environment=env,
                                             timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
                                             memory_mb=int(props.get("MemorySize", globals_.get("MemorySize", 128))))
        return result

    def api_definition(self) -> dict[str, Any]:
        """The REST API's OpenAPI document (DefinitionBody), with its integrations and authorizer."""
        for resource in self.resources("AWS::Serverless::Api").values():
            body = (resource.get("Properties") or {}).get("DefinitionBody")
            if isinstance(body, dict):
                return body
        raise ValueError("template.yaml has no AWS::Serverless::Api with a DefinitionBody")

    def routes(self) -> list[Route]:
        routes: list[Route] = []
        for path, methods in self.api_definition().get("paths", {}).items():
            for method, operation in methods.items():
                integration = operation.get("x-amazon-apigateway-integration") or {}
                routes.append(Route(method=method.upper(), path=path, function=_function_of(integration.get("uri")),
                                    auth=bool(operation.get("security")),
                                    streaming=integration.get("responseTransferMode") == "STREAM",
                                    timeout_ms=int(integration.get("timeoutInMillis",
                                                                   DEFAULT_INTEGRATION_TIMEOUT_MS))))
        # Literal paths before parameterised ones, as API Gateway matches the most specific route first.
        return sorted(routes, key=lambda r: (r.path.count("{"), -len(r.path)))

    def authorizer_function(self) -> str | None:
        schemes = (self.api_definition().get("components") or {}).get("securitySchemes") or {}
        for scheme in schemes.values():
            authorizer = scheme.get("x-amazon-apigateway-authorizer") or {}
            if authorizer.get("authorizerUri"):
                return _function_of(authorizer["authorizerUri"])
        return None

    def authorizer_ttl_seconds(self) -> int:
        """How long API Gateway caches the authorizer's answer per identity (the parameter's default if a Ref)."""
        schemes = (self.api_definition().get("components") or {}).get("securitySchemes") or {}
        for scheme in schemes.values():
            authorizer = scheme.get("x-amazon-apigateway-authorizer") or {}
            if authorizer.get("authorizerUri"):
                ttl = self.resolve(authorizer.get("authorizerResultTtlInSeconds", DEFAULT_AUTHORIZER_TTL_SECONDS),
                                   {}, "us-east-1")
                return int(ttl)
        return 0

    def gateway_responses(self) -> dict[str, tuple[int, str]]:
        """API Gateway's own answers (UNAUTHORIZED, ACCESS_DENIED…): status and JSON body template."""
        responses = self.api_definition().get("x-amazon-apigateway-gateway-responses") or {}
        return {name: (int(r.get("statusCode", 500)), (r.get("responseTemplates") or {}).get("application/json", ""))
                for name, r in responses.items()}

    def resolve(self, value: Any, names: dict[str, str], region: str) -> Any:
        """Resolve !Ref / !GetAtt / !Sub against local physical names."""
        if isinstance(value, dict):
            if "Ref" in value:
                ref = value["Ref"]
                return names.get(ref, self.parameter_defaults().get(ref, ref))
            if "Fn::GetAtt" in value:
                logical, attribute = value["Fn::GetAtt"]
                return local_arn(self.resources().get(logical, {}).get("Type", ""), names.get(logical, logical),
                                 region) if attribute == "Arn" else names.get(logical, logical)
            if "Fn::Sub" in value:
                text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
                return re.sub(r"\$\{([\w:.]+)\}", lambda m: str(names.get(m.group(1), m.group(1))), text)
            return {k: self.resolve(v, names, region) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, names, region) for v in value]
        return value


def local_arn(resource_type: str, name: str, region: str) -> str:
    account = "123456789012"
    service = {"AWS::DynamoDB::Table": ("dynamodb", f"table/{name}"), "AWS::S3::Bucket": ("s3", name),
               "AWS::KinesisFirehose::DeliveryStream": ("firehose", f"deliverystream/{name}"),
               "AWS::SecretsManager::Secret": ("secretsmanager", f"secret:{name}")}.get(resource_type)
    if service is None:
        return f"arn:aws:local:{region}:{account}:{name}"
    if service[0] == "s3":
        return f"arn:aws:s3:::{name}"
    return f"arn:aws:{service[0]}:{region}:{account}:{service[1]}"


def find_template(start: Path | None = None) -> Path:
    """template.yaml in the current directory or above it, else beside the source tree."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "template.yaml").exists():
            return folder / "template.yaml"
    beside = Path(__file__).resolve().parents[3] / "template.yaml"
    if beside.exists():
        return beside
    raise FileNotFoundError("template.yaml not found; run from the Mixcore repository or pass --template")
