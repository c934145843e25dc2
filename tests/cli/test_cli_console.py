"""How every verb writes to the terminal: NO_COLOR removes every style, nothing wraps off
a terminal, control characters are escaped, and the CLI imports only public APIs."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from guardgraph._cli._console import console, printable

CLI = Path(__file__).resolve().parents[2] / "guardgraph"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _printed(monkeypatch: pytest.MonkeyPatch, *, tty: bool, no_color: bool, text: str,
             stderr: bool = False) -> str:
    stream = _Tty() if tty else io.StringIO()
    monkeypatch.setattr("sys.stderr" if stderr else "sys.stdout", stream)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    out = console(stderr=stderr, width=40)
    out.file = stream  # rich binds the stream when it is built; keep ours
    out.print(text)
    return stream.getvalue()


def test_no_color_removes_bold_too(monkeypatch: pytest.MonkeyPatch) -> None:
    styled = _printed(monkeypatch, tty=True, no_color=False, text="[bold]deny[/bold]")
    assert "\x1b[1m" in styled  # on a terminal without NO_COLOR, styles are on
    plain = _printed(monkeypatch, tty=True, no_color=True, text="[bold]deny[/bold]")
    assert plain == "deny\n"


def test_stderr_does_not_wrap_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    long = "error: " + "x" * 200
    assert _printed(monkeypatch, tty=False, no_color=False, text=long, stderr=True) \
        == long + "\n"


def test_printable_escapes_control_and_bidi_characters() -> None:
    assert printable("a\x1b[2Jb\u202ec\x00") == "a\\x1b[2Jb\\u202ec\\x00"
    assert printable("line\n\tnext") == "line\n\tnext"
    assert printable("line\nnext", newlines=False) == "line\\x0anext"
    assert printable("Zürich €") == "Zürich €"


def _private_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return [n for n in names if n.startswith("guardgraph.") and not n.startswith(
        "guardgraph._cli") and any(part.startswith("_") for part in n.split(".")[1:])]


def test_the_cli_uses_only_public_apis() -> None:
    files = [CLI / "cli.py", *sorted((CLI / "_cli").glob("*.py"))]
    assert len(files) > 5
    found = {str(f.relative_to(CLI)): _private_imports(f) for f in files}
    assert {k: v for k, v in found.items() if v} == {}
    assert not (CLI / "_cli" / "_common.py").exists()
