"""The embedded AWS: moto's server on loopback, with the template's tables, buckets, streams and secrets.

Where moto differs from AWS in what the README promises, the embedded AWS behaves as AWS does: DynamoDB
requests are atomic (SerialDynamoDB), and a delivery stream writes S3 objects as Firehose does (its
Prefix expressions evaluated, GZIP applied; `firehose_object`), so local records are where and how the
deployed ones are.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3

from mixcore.local.template import Template

REGION = "us-east-1"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                     "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}


def physical_name(logical_id: str) -> str:
    return f"mixcore-{logical_id.lower()}"


def physical_names(template: Template) -> dict[str, str]:
    """Logical id → physical name of every resource an embedded AWS creates for the template."""
    return {logical_id: physical_name(logical_id) for logical_id, resource in template.resources().items()
            if resource.get("Type") in CREATED_TYPES}


class SerialDynamoDB:
    """WSGI middleware: DynamoDB requests one at a time.

    DynamoDB applies each write atomically, so a conditional update is a check-and-set (budgets rely
    on it). moto evaluates the condition and the update as two steps, and its server handles requests
    concurrently; serialising DynamoDB requests gives the embedded AWS the real service's atomicity.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))  # the whole answer, inside the lock


def moto_server(port: int) -> Any:
    """moto's ThreadedMotoServer with DynamoDB requests serialised (see SerialDynamoDB)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto's own, with the app wrapped
            app = SerialDynamoDB(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address="127.0.0.1", port=port, verbose=False)


_PREFIX_EXPRESSION = re.compile(r"!\{(\w+):([^}]*)\}")
_JAVA_DATE_FIELDS = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))


def firehose_prefix(prefix: str, now: datetime) -> str:
    """A Firehose S3 prefix with its expressions evaluated (`!{timestamp:yyyy-MM-dd}`, `!{firehose:random-string}`);
    as Firehose does, a prefix without a timestamp expression gets `yyyy/MM/dd/HH/` appended."""
    def evaluate(match: re.Match[str]) -> str:
        namespace, argument = match.groups()
        if namespace == "timestamp":
            pattern = argument
            for java, strftime in _JAVA_DATE_FIELDS:
                pattern = pattern.replace(java, strftime)
            return now.strftime(pattern)
        if (namespace, argument) == ("firehose", "random-string"):
            return uuid.uuid4().hex[:11]
        raise ValueError(f"Firehose does not know the prefix expression {match.group(0)}")

    evaluated = _PREFIX_EXPRESSION.sub(evaluate, prefix)
    if "!{timestamp:" not in prefix:
        evaluated += now.strftime("%Y/%m/%d/%H/")
    return evaluated


def firehose_object(stream: str, version: str, destination: dict[str, Any], data: bytes,
                    now: datetime) -> tuple[str, bytes]:
    """The key and body Firehose writes for one delivery: `<prefix><stream>-<version>-<time>-<uuid>[.gz]`."""
    key = f"{firehose_prefix(destination.get('Prefix', ''), now)}{stream}-{version}-" \
          f"{now.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}"
    if destination.get("CompressionFormat") == "GZIP":
        return key + ".gz", gzip.compress(data)
    return key, data


def deliver_as_firehose() -> None:
    """Make moto's delivery streams write S3 objects as Firehose does (moto keeps the prefix literal, uncompressed)."""
    from moto.firehose.models import FirehoseBackend
    from moto.s3.models import s3_backends

    def put_s3_records(backend: FirehoseBackend, delivery_stream_name: str, version_id: str,
                       s3_destination: dict[str, Any], records: list[dict[str, bytes]]) -> list[dict[str, str]]:
        key, body = firehose_object(delivery_stream_name, version_id, s3_destination,
                                    b"".join(r["Data"] for r in records), datetime.now(UTC))
        bucket = s3_destination["BucketARN"].split(":")[-1]
        s3_backends[backend.account_id][backend.partition].put_object(bucket, key, body)
        return [{"RecordId": str(uuid.uuid4())} for _ in records]

    FirehoseBackend.put_s3_records = put_s3_records  # type: ignore[method-assign,assignment]


CREATED_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret",
                 "AWS::KinesisFirehose::DeliveryStream")


class EmbeddedAws:
    """moto's ThreadedMotoServer plus the resources template.yaml declares."""

    def __init__(self, port: int) -> None:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        self.port = port
        self.server = moto_server(port)
        self.names: dict[str, str] = {}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        return {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def start(self) -> EmbeddedAws:
        deliver_as_firehose()
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106

    def create_resources(self, template: Template) -> dict[str, str]:
        """Create every supported resource of the template; returns logical id → physical name."""
        creators: dict[str, Callable[[str, dict[str, Any], Template], None]] = {
            "AWS::DynamoDB::Table": self._table, "AWS::S3::Bucket": self._bucket,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::KinesisFirehose::DeliveryStream": self._firehose,
        }
        ordered = sorted(template.resources().items(),
                         key=lambda kv: kv[1].get("Type") == "AWS::KinesisFirehose::DeliveryStream")
        for logical_id, resource in ordered:
            if resource.get("Type") in creators:
                self.names[logical_id] = physical_name(logical_id)
        for logical_id, resource in ordered:
            creator = creators.get(resource.get("Type", ""))
            if creator is not None:
                creator(self.names[logical_id], resource.get("Properties") or {}, template)
        return dict(self.names)

    def _table(self, name: str, props: dict[str, Any], template: Template) -> None:
        client = self.client("dynamodb")
        kwargs: dict[str, Any] = {"TableName": name, "AttributeDefinitions": props["AttributeDefinitions"],
                                  "KeySchema": props["KeySchema"],
                                  "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST")}
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        client.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)

    def _bucket(self, name: str, props: dict[str, Any], template: Template) -> None:
        self.client("s3").create_bucket(Bucket=name)

    def _secret(self, name: str, props: dict[str, Any], template: Template) -> None:
        generated = props.get("GenerateSecretString") or {}
        secret = props.get("SecretString") or generated.get("SecretStringTemplate") or "{}"
        self.client("secretsmanager").create_secret(Name=name, SecretString=secret)

    def _firehose(self, name: str, props: dict[str, Any], template: Template) -> None:
        destination = props.get("ExtendedS3DestinationConfiguration") or {}
        resolved = template.resolve(destination, self.names, REGION)
        config = {"RoleARN": "arn:aws:iam::123456789012:role/local-firehose",
                  "BucketARN": resolved.get("BucketARN"), "Prefix": resolved.get("Prefix", ""),
                  "ErrorOutputPrefix": resolved.get("ErrorOutputPrefix", ""),
                  "CompressionFormat": resolved.get("CompressionFormat", "UNCOMPRESSED"),
                  "BufferingHints": resolved.get("BufferingHints") or {"IntervalInSeconds": 60, "SizeInMBs": 5}}
        self.client("firehose").create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType="DirectPut", ExtendedS3DestinationConfiguration=config)


def put_provider_secret(aws: EmbeddedAws, secret_name: str, keys: dict[str, str]) -> None:
    aws.client("secretsmanager").put_secret_value(SecretId=secret_name, SecretString=json.dumps(keys))
