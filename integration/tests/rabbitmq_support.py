"""What the RabbitMQ tests share: connection options from the harness, a pika client, queues."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from harness_support import service_options, unique

__all__ = [
    "connector_options",
    "declare_stream",
    "drain",
    "pika_connection",
    "rabbitmqctl",
    "unacknowledged",
    "unique",
]


def connector_options(env: dict[str, Any], **extra: object) -> dict[str, str]:
    """The `rabbitmq` format's options for the harness's broker, plus `extra`."""
    return service_options(env, "rabbitmq", **extra)


def rabbitmqctl(*args: str) -> str:
    """The harness broker's `rabbitmqctl` (creating users for login tests): its output."""
    services = Path(__file__).resolve().parents[1] / "services.sh"
    done = subprocess.run(
        [str(services), "rabbitmqctl", *args], check=True, capture_output=True, text=True
    )
    return done.stdout


def unacknowledged(queue: str) -> int:
    """Messages of `queue` no consumer has acknowledged: ready ones and delivered ones alike
    (a passive declare counts only the ready ones)."""
    for line in rabbitmqctl("list_queues", "-q", "--no-table-headers", "name", "messages").split(
        "\n"
    ):
        name, _, count = line.rpartition("\t")
        if name == queue:
            return int(count)
    raise AssertionError(f"queue {queue} not listed by rabbitmqctl")


def pika_connection(env: dict[str, Any]) -> Any:
    """A pika connection as the harness's user (test set-up and checks only)."""
    import pika

    rabbitmq = env["rabbitmq"]
    credentials = pika.PlainCredentials(str(rabbitmq["username"]), str(rabbitmq["password"]))
    # No heartbeats: a blocking client sits idle (servicing no I/O) while Spark jobs run for
    # minutes, and the broker would close it for missed heartbeats.
    return pika.BlockingConnection(
        pika.ConnectionParameters(
            host=str(rabbitmq["host"]),
            port=int(rabbitmq["port"]),
            credentials=credentials,
            heartbeat=0,
        )
    )


def declare_stream(channel: Any, name: str) -> str:
    """A durable stream queue `name`."""
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": "stream"})
    return name


def drain(channel: Any, queue: str, expected: int, timeout_s: float = 30) -> list[Any]:
    """`expected` messages consumed from a classic queue by pika: (method, properties, body)."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
            continue
        got.append((method, properties, body))
    return got
