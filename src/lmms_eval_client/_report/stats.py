"""The paired t-test of two checkpoints' per-sample scores, with the standard library.

The same formula as lmms-eval's ``lmms_eval.api.metrics.paired_ttest`` (the reference:
tests/report/test_compare.py runs it on the same scores and holds ours equal to 1e-9),
without its scipy import: Student's t distribution through the regularized incomplete
beta function (a continued fraction, evaluated by the modified Lentz method) and its
quantile by bisection. A report needs no numpy/scipy to say whether two checkpoints differ.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .._exceptions import InvalidArgumentError
from .._text import shown

_EPS = 1e-16
_TINY = 1e-300


class PairedTest(BaseModel):
    """The paired t-test of scores ``a`` against ``b`` (difference ``a - b``), as lmms-eval's
    ``paired_ttest`` returns it (its keys, its NaNs for fewer than two pairs).

    Example::

        test = paired_ttest([1.0, 1.0, 0.0], [0.0, 1.0, 0.0])
        print(test.mean_diff, test.p_value)
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True)

    mean_diff: float = Field(description="Mean of the per-sample differences a - b.")
    se_diff: float = Field(description="Standard error of the mean difference.")
    ci_lower: float = Field(description="Lower end of the 95% confidence interval.")
    ci_upper: float = Field(description="Upper end of the 95% confidence interval.")
    t_stat: float = Field(description="The t statistic (infinite when all differences agree).")
    p_value: float = Field(description="Two-sided p-value (n - 1 degrees of freedom).")
    n: int = Field(description="The number of pairs.")


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):  # the fraction converges fast on this side
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t cumulative distribution function."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    t2 = t * t
    if t2 < df:  # df / (df + t2) rounds to 1 near t = 0: I_x(a, b) = 1 - I_(1-x)(b, a)
        tail = 0.5 * (1.0 - incomplete_beta(0.5, df / 2.0, t2 / (df + t2)))
    else:
        tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t2))
    return 1.0 - tail if t > 0 else tail


def t_ppf(q: float, df: float) -> float:
    """Student's t quantile (the inverse of :func:`t_cdf`) for 0.5 <= q < 1, by bisection."""
    low, high = 0.0, 1.0
    while t_cdf(high, df) < q:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if mid in (low, high):
            break
        if t_cdf(mid, df) < q:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


def _scores(name: str, values: object) -> list[float]:
    """A sequence of numbers as floats, else InvalidArgumentError naming ``name``."""
    # A Collection: a list, a tuple, a numpy array, a pandas Series (not a one-pass iterator)
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Collection):
        raise InvalidArgumentError(f"{name} must be a sequence of numbers, got {shown(values)}")
    try:  # (float() would take "1.5": text is no score)
        if not any(isinstance(value, (str, bytes)) for value in values):
            return [float(value) for value in values]
    except (TypeError, ValueError, OverflowError):  # an object, or an int past float's range
        pass
    raise InvalidArgumentError(f"{name} must hold numbers (floats), got {shown(values)}")


def paired_ttest(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """lmms-eval's paired t-test of ``a`` against ``b`` (pairs in order), stdlib only.

    Raises InvalidArgumentError when the two have different lengths, or either is not a
    collection of numbers (a list, a tuple, a numpy array, a pandas Series).

    Example::

        paired_ttest([0.9, 0.8, 0.7], [0.5, 0.6, 0.7]).p_value
    """
    a, b = _scores("a", a), _scores("b", b)
    if len(a) != len(b):
        raise InvalidArgumentError(
            f"paired scores must have the same length: {len(a)} and {len(b)}"
        )
    n = len(a)
    nan = float("nan")
    if n < 2:
        return PairedTest(
            mean_diff=nan, se_diff=nan, ci_lower=nan, ci_upper=nan, t_stat=nan, p_value=nan, n=n
        )
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(diffs) / n  # as the reference sums: the same float
    # d * d, not d ** 2: the same float, but inf where ** raises OverflowError (1e200 scores)
    se = math.sqrt(sum((d - mean) * (d - mean) for d in diffs) / (n - 1) / n)
    if se == 0:
        t_stat = math.inf if mean > 0 else -math.inf if mean < 0 else 0.0
        p_value = 0.0 if mean != 0 else 1.0
    else:
        t_stat = mean / se
        p_value = 2 * (1 - t_cdf(abs(t_stat), n - 1))
    crit = t_ppf(0.975, n - 1)
    return PairedTest(
        mean_diff=mean,
        se_diff=se,
        ci_lower=mean - crit * se,
        ci_upper=mean + crit * se,
        t_stat=t_stat,
        p_value=p_value,
        n=n,
    )
