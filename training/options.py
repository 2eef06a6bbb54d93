"""Command-line options from a config dataclass: one ``--flag`` per field, help from the
field's docstring (the string literal under it in the class body)."""
from __future__ import annotations

import argparse
import ast
import inspect
from dataclasses import fields
from typing import Any


def field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring, on one line."""
    body = ast.parse(inspect.getsource(cls)).body[0].body
    docs = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)):
            docs[node.target.id] = " ".join(str(after.value.value).split())
    return docs


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parser(kind: type):
    if kind is bool:
        return _bool

    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n' if kind is int else ''} "
                                             f"{kind.__name__}") from None

    parse.__name__ = kind.__name__
    return parse


def add_arguments(parser: argparse.ArgumentParser, cls: type, *,
                  keep_defaults: bool = True) -> None:
    """``--field-name`` for every field of dataclass ``cls`` (bool, int, float or str),
    defaulting to the field's default; with ``keep_defaults`` false every default is None, so
    that ``given`` tells the flags the user gave (to override a preset)."""
    docs = field_docs(cls)
    defaults = cls()
    for f in fields(cls):
        value = getattr(defaults, f.name)
        kind = type(value)
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=_parser(kind),
                            default=value if keep_defaults else None,
                            metavar=kind.__name__.upper(),
                            help=f"{docs.get(f.name, '')} (default: {value!r})".replace("%", "%%"))


def from_args(cls: type, args: argparse.Namespace) -> Any:
    """The ``cls`` that the parsed options describe (its own checks raise ValueError)."""
    return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


def given(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of ``cls`` set on the command line (``add_arguments(keep_defaults=False)``)."""
    return {f.name: getattr(args, f.name) for f in fields(cls)
            if getattr(args, f.name, None) is not None}
