"""The real Redis server the Redis store tests use, shared by their modules: connect, or
skip with a reason (fail under CI=true, where the server must be up)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

URL = "redis://127.0.0.1:6379/0"


def redis_client() -> Any:
    import redis

    client = redis.Redis.from_url(URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at 127.0.0.1:6379 is required in CI: {exc}")
        pytest.skip(f"no Redis server at 127.0.0.1:6379 ({exc})")
    return client


def key_prefix() -> Iterator[str]:
    """A fresh key prefix for one test; its keys are deleted afterwards."""
    client = redis_client()
    name = f"guardgraph-test:{uuid.uuid4().hex}:"
    yield name
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)
