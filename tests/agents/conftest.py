"""Fixtures for the learners' tests: the toy domain (tests/agents/toydomain.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from toydomain import ToyDomain


@pytest.fixture
def toy() -> ToyDomain:
    return ToyDomain()
