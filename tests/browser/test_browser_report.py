"""The HTML report in a real headless Chromium: no console errors, no network, right numbers.

Needs Debian's ``chromium`` (installed by the session script, never by the tests). Without
it the tests skip, except under ``CI=true`` where a missing browser is a failure. Console
errors and network requests are read over the DevTools protocol (``websockets``); numbers
are read from ``--dump-dom``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from guardgraph.audit import (
    AuditStore,
    EventKind,
    build_report,
    generate_sessions,
    open_log,
    open_store,
    verification_of,
    write_events,
)
from guardgraph.audit._report_html import render_html

pytestmark = pytest.mark.browser

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI: install Debian's `chromium` package")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); "
                    "the browser tests of the HTML report are skipped")
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, AuditStore]]:
    root = tmp_path_factory.mktemp("browser")
    log = open_log(root / "audit.db")
    write_events(log, generate_sessions(150, seed=31, spec_change_every=60))
    log.close()
    store = open_store(root / "audit.db")
    data = build_report(store.iter_records(), lookup=store.get,
                        verification=verification_of(store),
                        generated_at=datetime(2026, 6, 1, tzinfo=UTC), source="audit.db")
    page = root / "report.html"
    page.write_text(render_html(data), encoding="utf-8")
    yield page, store
    store.close()


def _browser(chromium: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium, *_FLAGS, f"--user-data-dir={tmp}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


class _TestIds(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.violations = 0
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        testid = dict(attrs).get("data-testid")
        if testid == "violation":
            self.violations += 1
        elif testid and tag == "span":
            self._open = testid

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.values[self._open] = data
            self._open = None


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def test_numbers_in_the_rendered_dom_match_the_database(
    chromium: str, report: tuple[Path, AuditStore], tmp_path: Path
) -> None:
    page, store = report
    done = _browser(chromium, tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    parsed = _TestIds()
    parsed.feed(done.stdout)
    shown = parsed.values
    verdicts = list(store.query(kind=EventKind.VERDICT))
    assert _int(shown["total-records"]) == store.size()
    assert _int(shown["decisions-total"]) == len(verdicts)
    for decision in ("allow", "deny", "escalate", "repair"):
        assert _int(shown[f"decision-{decision}"]) == len(
            list(store.query(kind=EventKind.VERDICT, decision=decision))), decision
    violations = sum(v.decision != "allow" for v in verdicts)
    assert _int(shown["violations-total"]) == violations == parsed.violations
    assert _int(shown["approvals-count"]) == len(
        list(store.query(kind=EventKind.APPROVAL_ANSWERED)))
    for rule in ("no_injected_recipient", "daily_budget", "payments_only"):
        expected = len([v for v in store.query(kind=EventKind.VERDICT, rule=rule)
                        if v.decision != "allow"])
        assert _int(shown[f"rule-{rule}-total"]) == expected, rule
    assert shown["verification-status"] == "verified"
    assert _int(shown["verified-records"]) == store.size()


class _DevTools:
    """A minimal DevTools-protocol client over one page's websocket."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        self._ws.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=30))
            if message.get("id") == self._next:
                assert "error" not in message, message
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, method: str, *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self._ws.recv(timeout=deadline - time.monotonic())))

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self._ws.recv(timeout=left)))
            except TimeoutError:
                return


def _load(chromium: str, tmp: Path, page: Path, script: str | None = None) -> tuple[
    list[dict[str, Any]], Any
]:
    """Open ``page``; return every DevTools event seen and the value of ``script``."""
    client = pytest.importorskip("websockets.sync.client")
    proc = subprocess.Popen(
        [chromium, *_FLAGS, f"--user-data-dir={tmp}", "--remote-debugging-port=0",
         "about:blank"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            port = found.group(1) if found else None
        assert port, "chromium did not open its DevTools port"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            targets = json.load(r)
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        with client.connect(ws_url, max_size=None, open_timeout=30) as ws:
            tools = _DevTools(ws)
            for domain in ("Runtime", "Log", "Network", "Page"):
                tools.call(f"{domain}.enable")
            tools.call("Page.navigate", url=page.as_uri())
            tools.wait_for("Page.loadEventFired")
            value = None
            if script is not None:
                value = tools.call("Runtime.evaluate", expression=script,
                                   returnByValue=True)["result"].get("value")
            tools.drain(0.5)
            return tools.events, value
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _problems(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            described = details.get("exception", {}).get("description", "")
            out.append(f"exception: {details.get('text')} {described}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert",
                                                                         "warning"):
            out.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            out.append(f"log: {params['entry'].get('text')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:", "about:")):
                out.append(f"network request: {url}")
    return out


def test_the_report_loads_without_console_errors_or_network(
    chromium: str, report: tuple[Path, AuditStore], tmp_path: Path
) -> None:
    page, _ = report
    # The inline filter script works: typing a rule name leaves only its violations.
    script = ("(function(){var i=document.getElementById('vfilter');i.value='payments_only';"
              "i.dispatchEvent(new Event('input'));"
              "return document.getElementById('vcount').textContent;})()")
    events, shown = _load(chromium, tmp_path, page, script)
    assert any(e.get("method") == "Page.loadEventFired" for e in events)
    assert _problems(events) == []
    _, store = report
    expected = len([v for v in store.query(kind=EventKind.VERDICT, rule="payments_only")
                    if v.decision != "allow"])
    assert shown == str(expected) and expected > 0


def test_the_harness_does_see_console_errors(chromium: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom');nosuch();</script>",
                   encoding="utf-8")
    events, _ = _load(chromium, tmp_path / "profile", bad)
    problems = _problems(events)
    assert any("boom" in p for p in problems) and any("nosuch" in p for p in problems)


def test_screenshot_renders(chromium: str, report: tuple[Path, AuditStore],
                            tmp_path: Path) -> None:
    page, _ = report
    shot = tmp_path / "report.png"
    done = _browser(chromium, tmp_path / "profile", f"--screenshot={shot}",
                    "--window-size=1280,2000", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 2000)
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few kilobytes
