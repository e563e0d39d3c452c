"""What a hanging Firehose (and S3 behind it) adds to a request: the cost flush against its 1 s deadline.

A loopback server accepts connections and never answers; the sink's clients point at it. The flush
must return at its deadline with every record logged whole, whatever the clients' own timeouts.
Run: .venv/bin/python bench/cost_delivery.py
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import boto3

import _common  # noqa: F401  (quiets Powertools before mixcore is imported)
from mixcore.costs.firehose import CLIENT_CONFIG, FLUSH_DEADLINE_SECONDS, FirehoseSink
from mixcore.costs.records import CostRecord

ROUNDS = 3


def main() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(server.accept()[0]) for _ in range(ROUNDS * 4)], daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    clients = {name: boto3.client(name, endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                                  aws_secret_access_key="x", config=CLIENT_CONFIG) for name in ("firehose", "s3")}
    logging.disable(logging.CRITICAL)  # the records go to the log whole; not what is measured here
    print(f"flush deadline {FLUSH_DEADLINE_SECONDS:.1f} s; Firehose and S3 both accept and never answer")
    for round_ in range(ROUNDS):
        sink = FirehoseSink("stream", "bucket", firehose=clients["firehose"], s3=clients["s3"])
        for i in range(3):
            sink.add(CostRecord(request_id=f"r{round_}-{i}", time="-", key_id=None, mix_id=None))
        started = time.perf_counter()
        delivery = sink.flush()
        print(f"round {round_ + 1}: the flush held the request {(time.perf_counter() - started) * 1000:.0f} ms; "
              f"{delivery}")


if __name__ == "__main__":
    main()
