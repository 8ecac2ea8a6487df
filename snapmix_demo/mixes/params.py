"""The parameters that mixing methods take, declared once with their valid ranges and checked alike everywhere.

A method's own parameter (FMix's `decay`, Attentive CutMix's `top_k`, ...) is a `Param`: its name,
default, closed range and a few words on what it means. `Param.check` refuses booleans, text, NaN and
out-of-range numbers with an `InputError` that names the parameter in backticks and says what to pass.
"""

import math
from dataclasses import dataclass

import numpy as np

from snapmix_demo.errors import InputError
from snapmix_demo.inputs import shown

__all__ = ["PROB", "Param", "beta_param"]


@dataclass(frozen=True)
class Param:
    """One numeric parameter of a mixing method: a closed range, or open below when `above` is set."""

    name: str
    default: float | int | tuple[int, int]
    low: float
    high: float
    meaning: str  # a few words, shown in messages and in the registry's listing
    integer: bool = False  # whole numbers only
    above: bool = False  # `low` itself is excluded (beta > 0)
    pair: bool = False  # a (rows, columns) pair of values, each in the range

    @property
    def rule(self) -> str:
        """The valid values in words, e.g. `a number above 0` or `a whole number from 1 to 49`."""
        what = "a whole number" if self.integer else "a number"
        what = f"a pair (rows, columns) of {what}s" if self.pair else what
        if self.above and math.isinf(self.high):
            return f"{what} above {self.low:g}"
        if math.isinf(self.high):
            return f"{what} of at least {self.low:g}"
        return (
            f"{what} from {self.low:g} to {self.high:g}"
            if not self.above
            else f"{what} in ({self.low:g}, {self.high:g}]"
        )

    def check(self, value: object, *, high: float | None = None) -> float | int | tuple[int, int]:
        """`value` as a float/int (or a pair of them) when valid; `high` tightens the upper bound for this call."""
        top = self.high if high is None else high
        if self.pair:
            if not isinstance(value, tuple | list) or len(value) != 2:
                raise self._error(value, top)
            return tuple(self._scalar(v, value, top) for v in value)
        return self._scalar(value, value, top)

    def _scalar(self, value: object, whole: object, top: float) -> float | int:
        number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)
        ok = (
            number and math.isfinite(value) and (value > self.low if self.above else value >= self.low) and value <= top
        )
        if ok and self.integer and not float(value).is_integer():
            ok = False
        if not ok:
            raise self._error(whole, top)
        return int(value) if self.integer else float(value)

    def _error(self, value: object, top: float) -> InputError:
        rule = Param(self.name, self.default, self.low, top, self.meaning, self.integer, self.above, self.pair).rule
        return InputError(self.name, f"must be {rule} ({self.meaning}; default {self.default}), got {shown(value)}")


def beta_param(default: float) -> Param:
    """The beta of Beta(beta, beta) from which a method draws its mixing ratio, with the paper's default."""
    return Param("beta", default, 0.0, math.inf, "Beta(beta, beta) draws the mixing ratio", above=True)


PROB = Param("prob", 1.0, 0.0, 1.0, "probability of mixing the batch at all")
