"""Check notebook parameters against what the notebook declares, before papermill runs it.

``papermill.inspect_notebook(path)`` (papermill 2.x) returns, for every assignment of the cell
tagged ``parameters``, a dict ``{"name", "inferred_type_name", "default", "help"}`` where

* ``inferred_type_name`` is the annotation text (``x: int = 3`` → ``"int"``, also
  ``"Optional[int]"``, ``"List[str]"`` …) or a ``# type: int`` comment, and the string
  ``"None"`` when there is neither;
* ``default`` is the source text of the value (``'"classical"'``, ``'1024'``, ``'None'``);
* ``help`` is the trailing comment.

Papermill itself never checks types: a wrong value is written into the notebook as code and
fails (or, worse, runs) deep inside it. :func:`validate_notebook_parameters` refuses it first.

Rules for the expected type of a parameter: its annotation when there is one; otherwise the
type of its default (``ast.literal_eval``): ``bool`` accepts only ``True``/``False``; ``int``
accepts integers but not bools; ``float`` accepts ints and floats; ``str``, ``list`` (also a
tuple), ``dict`` as such. A default of ``None`` (or a default that is not a literal) gives no
expected type: any value papermill can write is accepted. Every value must be something
papermill writes as a Python literal: None, bool, int, float, str, and lists / tuples / dicts
of those (papermill would paste anything else, e.g. a ``Path``, into the code as raw text).

Caveats of papermill's parser (2.x), which drops these parameters from the declared ones:
a line of the parameters cell holding more than one ``=`` (also inside its comment; only a
log warning), and annotations its pattern does not match, such as ``x: int | None = None``
(use ``Optional[int]``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping

from ..errors import ConfigError, UnknownNameError

__all__ = ["expected_types", "validate_notebook_parameters"]

_BASE = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list, tuple),
    "List": (list, tuple),
    "Sequence": (list, tuple),
    "tuple": (list, tuple),
    "Tuple": (list, tuple),
    "dict": (dict,),
    "Dict": (dict,),
    "Mapping": (dict,),
    "None": (type(None),),
    "NoneType": (type(None),),
}
_ANY = ("Any", "object")


def _split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` characters that are not inside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [*parts, cur]


def _annotation_types(text: str) -> tuple[type, ...] | None:
    """Python types an annotation string allows; None when it cannot be checked (unknown
    names, ``Any``, ``Literal`` …)."""
    text = text.strip().strip("'\"")
    alternatives = _split_top(text, "|")
    if len(alternatives) > 1:
        out: tuple[type, ...] = ()
        for alt in alternatives:
            t = _annotation_types(alt)
            if t is None:
                return None
            out += t
        return out
    m = re.fullmatch(r"(?:typing\.)?(\w+)\s*(?:\[(.*)\])?", text, flags=re.S)
    if m is None:
        return None
    head, args = m.group(1), m.group(2)
    if head in _ANY:
        return None
    if head == "Optional" and args:
        inner = _annotation_types(args)
        return None if inner is None else (*inner, type(None))
    if head == "Union" and args:
        return _annotation_types("|".join(_split_top(args, ",")))
    return _BASE.get(head)


def _default_types(default: str) -> tuple[type, ...] | None:
    try:
        value = ast.literal_eval(default.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if value is None:
        return None
    for t in (bool, int, float, str, dict):  # bool before int: True is an int
        if isinstance(value, t):
            return _BASE[t.__name__]
    if isinstance(value, (list, tuple)):
        return (list, tuple)
    return None


def expected_types(declared: Mapping[str, Mapping]) -> dict[str, tuple[type, ...] | None]:
    """Allowed Python types per declared parameter (None: not checkable), by the rules of
    the module docstring.

    Parameters
    ----------
    declared : mapping
        ``papermill.inspect_notebook(path)``'s result: name → ``{"inferred_type_name",
        "default", …}``.
    """
    out: dict[str, tuple[type, ...] | None] = {}
    for name, info in declared.items():
        ann = str(info.get("inferred_type_name", "None"))
        types = _annotation_types(ann) if ann not in ("None", "") else None
        out[name] = types if types is not None else _default_types(str(info.get("default", "None")))
    return out


def _writable(value, depth: int = 0) -> bool:
    """Whether papermill's Python translator writes ``value`` as a literal."""
    if depth > 50:
        return False
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_writable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _writable(v, depth + 1) for k, v in value.items())
    return False


def _type_names(types: tuple[type, ...]) -> str:
    names = []
    for t in types:
        name = "None" if t is type(None) else t.__name__
        if name not in names:
            names.append(name)
    return " or ".join(names)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_notebook_parameters(declared: Mapping[str, Mapping], given: Mapping[str, object]) -> None:
    """Refuse notebook parameters that are unknown or of the wrong type.

    Parameters
    ----------
    declared : mapping
        ``papermill.inspect_notebook(path)`` of the notebook (see the module docstring).
    given : mapping
        Parameter name → value that will be passed to ``papermill.execute_notebook``.

    Raises
    ------
    UnknownNameError
        A name is not a parameter of the notebook (the message lists the declared ones).
    ConfigError
        A value has the wrong type (the message names the parameter, the expected type, the
        value given and the notebook's default), or the value cannot be written into a
        notebook (e.g. a ``Path``: pass ``str(path)``).
    """
    types = expected_types(declared)
    for name, value in given.items():
        if name not in declared:
            raise UnknownNameError("notebook parameter", name, declared)
        default = declared[name].get("default", "None")
        if not _writable(value):
            raise ConfigError(
                f"Notebook parameter {name!r}: {type(value).__name__} value {_short(value)} cannot be written "
                "into a notebook. Pass None, a bool, number or string, or a list/dict of those "
                f"(for a path: str(path)). The notebook's default is {default}."
            )
        allowed = types[name]
        if allowed is None:
            continue
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise ConfigError(
                f"Notebook parameter {name!r} expects {_type_names(allowed)} but got {type(value).__name__} "
                f"{_short(value)} (the notebook's default is {default}). Pass a value of that type, e.g. on the "
                f"command line `-p {name} <JSON value>`."
            )
