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


def _parser(kind: type):
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n' if kind is int else ''} "
                                             f"{kind.__name__}") from None

    parse.__name__ = kind.__name__
    return parse


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """``--field-name`` for every field of dataclass ``cls`` (int, float or str), defaulting to
    the field's default."""
    docs = field_docs(cls)
    defaults = cls()
    for f in fields(cls):
        value = getattr(defaults, f.name)
        kind = type(value)
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=_parser(kind),
                            default=value, metavar=kind.__name__.upper(),
                            help=f"{docs.get(f.name, '')} (default: {value!r})".replace("%", "%%"))


def from_args(cls: type, args: argparse.Namespace) -> Any:
    """The ``cls`` that the parsed options describe (its own checks raise ValueError)."""
    return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})
