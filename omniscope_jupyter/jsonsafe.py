"""JSON from outside (request bodies, manifests, a container's result, a remote's answer), parsed
so that no input can make it raise anything but ``ValueError``.

``json.loads`` alone raises ``RecursionError`` on deeply nested text and ``ValueError`` (not
``JSONDecodeError``) on an integer of more than 4,300 digits; either used to escape as a 500.
Nesting is also bounded after parsing, since every later walk over the value (validation,
``json.dumps`` of the answer, pandas) recurses too.
"""

from __future__ import annotations

import json
from typing import Any

#: Deepest nesting accepted anywhere (a DataFrame in any layout is 3 deep; config a few more).
MAX_DEPTH = 64


class UnsafeJSON(ValueError):
    """Text that is not JSON, or JSON nested too deeply or with numbers too large."""


def loads(
    text: str | bytes, *, what: str = "JSON", max_depth: int = MAX_DEPTH, **options: Any
) -> Any:
    """Parse ``text``; raise ``UnsafeJSON`` with one sentence naming ``what`` on any problem.

    ``options`` go to ``json.loads`` (e.g. ``parse_constant``).
    """
    try:
        value = json.loads(text, **options)
    except UnicodeDecodeError as e:
        raise UnsafeJSON(f"{what} is not UTF-8 text: {e.reason}") from None
    except json.JSONDecodeError as e:
        raise UnsafeJSON(f"{what} is not valid JSON: {e}") from None
    except RecursionError:
        raise UnsafeJSON(f"{what} is nested too deeply (more than {max_depth} levels)") from None
    except ValueError as e:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise UnsafeJSON(f"{what} holds a number that is too large: {e}") from None
    check_depth(value, what=what, max_depth=max_depth)
    return value


def check_depth(value: Any, *, what: str = "JSON", max_depth: int = MAX_DEPTH) -> None:
    """Refuse ``value`` nested deeper than ``max_depth`` (iteratively: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise UnsafeJSON(f"{what} is nested too deeply (more than {max_depth} levels)")
        stack.extend((child, depth + 1) for child in children)


__all__ = ["MAX_DEPTH", "UnsafeJSON", "check_depth", "loads"]
