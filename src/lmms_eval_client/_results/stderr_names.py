"""lmms-eval's names of a metric's standard errors: ``<metric>_stderr``,
``<metric>_stderr_clt``, ``<metric>_stderr_clustered``, ... (any ``_<part>`` after it)."""

from __future__ import annotations

_KIND_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"


def stderr_split(name: str) -> tuple[str, str] | None:
    """``(metric, kind)`` of a stderr name (``"acc_stderr_clt"``: ``("acc", "stderr_clt")``),
    else None.

    A stderr name is ``<metric>_stderr`` followed by any number of ``_<ASCII letters or
    digits>`` parts; the metric is as long as it can be (``"a_stderr_stderr"`` is the
    ``stderr`` of ``a_stderr``). String operations, linear in the name: a regex's
    backtracking made a crafted name of 144 KB take a minute.
    """
    cut = name.rfind("_stderr")
    if cut <= 0:
        return None
    kind = name[cut + 1 :]
    if kind == "stderr" or (kind[6:7] == "_" and kind[7:].isalnum() and kind[7:].isascii()):
        return name[:cut], kind  # the kinds lmms-eval writes: no more to look at
    # The kind is within the name's tail of ASCII letters, digits and "_", and after its
    # last "__" (an empty part); the last "_stderr" there whose rest is "_<part>"s wins.
    start = len(name.rstrip(_KIND_CHARACTERS))
    if name.endswith("_"):
        return None  # an empty last part (and no "_stderr" ends the name: checked above)
    after = name.rfind("__") + 2  # the rest of a kind begins at or after it
    while cut > 0:
        rest = cut + 7  # after "_stderr"
        if rest < start or rest < after:
            return None  # its rest would hold another character, or an empty part
        if rest == len(name) or name[rest] == "_":
            return name[:cut], name[cut + 1 :]
        cut = name.rfind("_stderr", 0, cut + 6)  # the one before (they may not overlap)
    return None
