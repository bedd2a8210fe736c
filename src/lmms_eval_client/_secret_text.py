"""What of a text may be a secret's value (``candidates``): the words, runs of words and
parts of words that ``Fingerprints.told_in`` fingerprints to find a stored secret a text
(a job's log, an error) tells. Pure text; no I/O."""

from __future__ import annotations

import re
import urllib.parse

# How a text's words are split to be fingerprinted (Fingerprints.told_in): at spaces (a
# secret may hold a quote), also at quotes, also at punctuation (a URL's query: ?key=S#f),
# also into runs of a typical secret's characters (S@host:5432, «S», S…, a fullwidth
# prefix: at @ and every character not ASCII). A secret glued to letters or digits
# (prefixS) is not found: only a search of every part of every word would (a fingerprint
# per part).
_WORDS = (
    re.compile(r"\S+"),
    re.compile(r"[^\s\"'`]+"),
    re.compile(r"[^\s\"'`,;:=()\[\]{}<>|&?#]+"),
    re.compile(r"[A-Za-z0-9_.~+/=-]+"),
)
# A secret of several words (a passphrase) is looked for among runs of up to this many.
_PASSPHRASE_WORDS = 8
_LONGEST_SECRET = 512  # characters: a longer run of words is not a model_args value
_PASSPHRASE_LINE_WORDS = 200  # a longer line is searched word by word only (time bound)
_PASSPHRASE_LINES = 50  # the last lines of a text searched for runs of words
_RUN_WORD = re.compile(r"\S+")
_JOINED = 2  # parts a secret may be joined to at either end of a word (SECRET-v2_old)
AROUND = "'\"`()[]{}<>.,;:!?"  # punctuation and quotes a text puts around a value


def _joined_runs(word: str) -> set[str]:
    """A word's parts split at ``-`` and ``_`` with up to _JOINED parts dropped at either
    end: a secret joined to more (SECRET-2, old_SECRET, x-SECRET_y), whole when it holds
    ``-`` or ``_`` itself (sk-proj-SECRET-2). A word of more parts: its ends only (time)."""
    if "-" not in word and "_" not in word:
        return set()
    cuts = [i for i, char in enumerate(word) if char in "-_"]
    starts, ends = [0, *(i + 1 for i in cuts)], [*cuts, len(word)]
    firsts, lasts = starts[: _JOINED + 1], ends[-_JOINED - 1 :]
    return {word[a:b] for a in firsts for b in lasts if a < b and b - a < len(word)}


def candidates(text: str) -> dict[str, set[str]]:
    """What of a text may be a secret's value, to fingerprint, each with what of the text
    to mask when it is: its words split at spaces, also at quotes, also at punctuation,
    also into runs of ``A-Za-z0-9_.~+/=-`` (at ``@`` and whatever is not ASCII);
    runs of up to 8 words (a passphrase; in lines of up to 200 words, for time), as written
    and with single spaces; each as a whole, its path segments, the value after an ``=``,
    without the punctuation or quotes around it; in the text and in it URL-decoded
    (key%3DSECRET%26: a form body, a query)."""
    words: dict[str, set[str]] = {}
    single: set[str] = set()  # the words (not runs of them: those are split at spaces only)
    for t in {text, urllib.parse.unquote(text)}:
        for word in (word for split in _WORDS for word in split.findall(t)):
            words.setdefault(word, set()).add(word)
            single.add(word)
        for line in t.split("\n")[-_PASSPHRASE_LINES:]:  # (\n only: \x1c is no line)
            spans = [match.span() for match in _RUN_WORD.finditer(line)]
            if len(spans) > _PASSPHRASE_LINE_WORDS:
                continue
            for i, (first, _) in enumerate(spans):
                for _, last in spans[i + 1 : i + _PASSPHRASE_WORDS]:
                    if last - first > _LONGEST_SECRET:
                        break
                    run = line[first:last]  # as written: masked so (a tab, two spaces)
                    words.setdefault(run, set()).add(run)
                    words.setdefault(" ".join(run.split()), set()).add(run)
    candidates: dict[str, set[str]] = {}
    for word, written in words.items():
        for part in {word, *word.split("/")}:  # a path's segments: /v1/SECRET/models
            value = part.rpartition("=")[2]  # name=VALUE, its value whatever it holds
            core = value.strip(AROUND)
            for candidate in (part, value, part.strip(AROUND), core):
                candidates.setdefault(candidate, set()).update(written)
            if word in single:  # SECRET-2, old_SECRET: a secret joined to more
                for run in _joined_runs(core):
                    candidates.setdefault(run, set()).add(run)
    return candidates
