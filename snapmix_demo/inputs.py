"""Validation of the values people type: seeds, beta, boxes and class indices, alike at every entry point.

The web app, the HTTP endpoint, the command line and `snapmix_pair` all pass what they got through
these functions, so `1.5`, `true`, `NaN`, `1_0` or a 5000-digit number is refused the same way
everywhere: an `InputError` that names the field and quotes at most a short excerpt of the value.
"""

import math
import re

import numpy as np

from snapmix_demo.errors import InputError, excerpt

__all__ = [
    "BOX_DIGITS",
    "CLASS_DIGITS",
    "SEED_DIGITS",
    "beta_value",
    "box_value",
    "digits",
    "prob_value",
    "seed_text",
    "seed_value",
    "shown",
]

SEED_DIGITS = 19  # seeds stay below 2**63: they round-trip through JSON, numpy and int64 unchanged
BOX_DIGITS = 5  # a coordinate in the model-input frame, checked against the frame afterwards
CLASS_DIGITS = 6  # a class index
_BOX_TEXT_CHARS = 80
_BOX_FORM = "four whole numbers, top, left, bottom, right (digits 0-9, separated by commas or spaces)"
_BRACKETS = re.compile(r"^\s*[(\[]?(.*?)[)\]]?\s*$", re.S)


def shown(value: object) -> str:
    """How a message quotes a value: "nothing" for None or blank text, else a short excerpt."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "nothing"
    return f"'{excerpt(value)}'" if isinstance(value, str) else excerpt(value)


def digits(text: str, field: str, *, max_digits: int, what: str = "a whole number") -> int:
    """The int that `text` spells in plain ASCII digits (no sign, `_`, spaces inside, or other scripts' digits)."""
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()):
        raise InputError(field, f"must be {what} written with the digits 0-9, got {shown(text)}")
    if len(stripped) > max_digits:
        raise InputError(field, f"has more than {max_digits} digits, got {shown(text)}")
    return int(stripped)


def _whole(value: object, field: str, *, max_digits: int, what: str) -> int:
    """A non-negative int from an int or a float with no fractional part; bools, NaN, infinities refused."""
    integer = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    integral = isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer()
    if not (integer or integral) or not 0 <= int(value) < 10**max_digits:
        raise InputError(field, f"must be {what}, got {shown(value)}")
    return int(value)


def seed_value(value: object, field: str = "seed") -> int:
    """A seed: a whole number from 0 below 2**63 (`2.0` passes; `1.5`, `True`, NaN and text do not)."""
    what = "a whole number from 0 to 2^63 - 1"
    number = _whole(value, field, max_digits=SEED_DIGITS, what=what)
    if number >= 2**63:
        raise InputError(field, f"must be {what}, got {shown(value)}")
    return number


def seed_text(value: object, field: str = "seed") -> int:
    """A seed as typed into a text field (the app's, the command line's): plain ASCII digits, else as `seed_value`.

    Text keeps every seed up to 2**63 - 1 exact (a float would round it) and refuses `1e3` and `1.5`.
    """
    if isinstance(value, str):
        value = digits(value, field, max_digits=SEED_DIGITS, what="a whole number from 0 to 2^63 - 1")
    return seed_value(value, field)


def beta_value(value: object, field: str = "beta") -> float:
    """The beta of Beta(beta, beta): a finite number above 0 (bools and text are not numbers)."""
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise InputError(field, f"must be a positive number (the paper uses 5), got {shown(value)}")
    return float(value)


def prob_value(value: object, field: str = "prob") -> float:
    """A probability: a number from 0 to 1 (bools and text are not numbers, as for beta)."""
    if not (_is_number(value) and 0.0 <= value <= 1.0):
        raise InputError(field, f"must be a number from 0 to 1, got {shown(value)}")
    return float(value)


def _is_number(value: object) -> bool:
    """An int or float (numpy's too), not a bool: what a typed number may be."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def box_value(value: object, field: str) -> tuple[int, int, int, int] | None:
    """A box from text (`10 20 110 120`, `10,20,110,120`, `[10, 20, 110, 120]`) or a sequence; None when blank.

    Coordinates are whole numbers of at most `BOX_DIGITS` digits; `snapmix_pair` then checks them
    against the model-input frame.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        parts = [p for p in re.split(r"[\s,]+", _BRACKETS.match(value[:_BOX_TEXT_CHARS]).group(1)) if p]
        if len(value) > _BOX_TEXT_CHARS or len(parts) != 4 or not all(map(_is_coordinate, parts)):
            raise InputError(field, f"must be {_BOX_FORM}, got {shown(value)}")
        return tuple(int(p) for p in parts)
    if not isinstance(value, list | tuple | np.ndarray) or len(value) != 4:
        raise InputError(field, f"must be {_BOX_FORM}, got {shown(value)}")
    try:
        return tuple(_coordinate(p) for p in value)
    except ValueError:
        raise InputError(field, f"must be {_BOX_FORM}, got {shown(tuple(value))}") from None


def _is_coordinate(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= BOX_DIGITS


def _coordinate(value: object) -> int:
    """One box coordinate from a sequence: ASCII digits, an int, or a float with no fractional part."""
    if isinstance(value, str):
        if not _is_coordinate(value.strip()):
            raise ValueError(value)
        return int(value)
    return _whole(value, "", max_digits=BOX_DIGITS, what="")
