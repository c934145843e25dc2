"""Private: conventions applied to every verb of the app, the ones registered later too.

- ``--help`` names the values each option and argument takes in words (``FILE``, ``N``,
  ``human|json``), where typer would show a Python type (``<list[str]>``, ``<Path>``).
- A verb given ``--format json`` reports its errors as JSON (`_console.json_errors`).

:class:`Group` is the app's group class: when typer builds the command tree it applies
both to every verb, so no verb has to spell out metavars or pass the format around.
"""

from datetime import datetime
from pathlib import PurePath
from typing import Any, get_args

from typer.core import TyperArgument, TyperGroup, TyperOption

from guardgraph._cli._console import json_errors

__all__ = ["Group", "label"]


def label(param: TyperArgument | TyperOption) -> str:
    """The word for the value ``param`` takes (no Python type names)."""
    if param.metavar is not None:
        return param.metavar
    desc = param.type_descriptor
    if desc.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
    annotation: Any = desc.annotation
    if desc.is_list and get_args(annotation):
        annotation = get_args(annotation)[0]  # a repeatable option: the word for one value
    if desc.is_path or (isinstance(annotation, type) and issubclass(annotation, PurePath)):
        return "FILE" if isinstance(param, TyperOption) else (param.name or "file").upper()
    if desc.is_datetime:
        return "TIME"
    if annotation is int or (desc.is_ranged and "int" in str(desc.ranged_type_name)):
        return "N"
    if annotation is float or desc.is_ranged:
        return "NUMBER"
    if annotation is datetime:
        return "TIME"
    if isinstance(param, TyperArgument):
        return (param.name or "value").upper()
    return "TEXT"


class _Option(TyperOption):
    def display_type(self, ctx: Any) -> str:
        return label(self)

    def display_type_rich(self, ctx: Any) -> str | None:
        return label(self)


class _Argument(TyperArgument):
    # The argument's own name is its label (``FILES...``); no type after it.
    def display_type(self, ctx: Any) -> str:
        return ""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _format_of(command: Any, ctx: Any) -> str:
    for param in command.params:
        if "--format" in getattr(param, "opts", ()):
            value = ctx.params.get(param.name)
            return str(getattr(value, "value", value))
    return ""


def _errors_follow_format(command: Any) -> None:
    """Run the verb with its errors as JSON when it was given ``--format json``."""
    invoke = command.invoke

    def invoke_with_format(ctx: Any) -> Any:
        with json_errors(_format_of(command, ctx).startswith("json")):  # json, jsonl
            return invoke(ctx)

    command.invoke = invoke_with_format


def _relabel(command: Any) -> None:  # typer's own click command classes
    if not getattr(command, "commands", None) and any(
            "--format" in getattr(p, "opts", ()) for p in command.params):
        _errors_follow_format(command)
    for param in command.params:
        if type(param) is TyperOption:
            param.__class__ = _Option
        elif type(param) is TyperArgument:
            param.__class__ = _Argument
            if param.metavar is None:
                param.metavar = label(param)
    for sub in getattr(command, "commands", {}).values():
        _relabel(sub)


class Group(TyperGroup):
    """The root command group: relabels the whole tree once it is built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _relabel(self)
