"""Which model_args are secrets, and what is kept of them: a keyed fingerprint in a run's
ledger, ``***`` on the command line.

The server echoes model_args (``api_key=``, ``hf_token=``...) in every JobInfo.request.
A key of model_args is secret when its name contains one of the secret words, in any case,
as lmms-eval masks secret-looking names in its own logs: ``SECRET_ARG_WORDS``, with those
of ``$LMMS_EVAL_SECRET_ARGS`` (comma-separated) added, or an EvalRun's ``secret_args``
instead; and, whatever the words, when it names a credential (``db_passwd``, ``auth``,
``credentials``, ``session_cookie``). So is a
field of a request that the contract does not know (sent through ``extra_body``) of such
a name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

from ._exceptions import InvalidArgumentError
from ._secret_text import AROUND, candidates
from ._text import MIN_MASKED_CHARS

if TYPE_CHECKING:  # the models load with the first request, not with the command line
    from lmms_eval_api.models import EvaluateRequest, JobInfo

# A model_args key containing one of these words holds a secret: it is masked in messages,
# logs, reprs, the ledger and --json output.
SECRET_ARG_WORDS: tuple[str, ...] = ("key", "token", "secret", "password")
# The environment variable whose words (separated by commas) are added to SECRET_ARG_WORDS.
SECRET_ARGS_ENV = "LMMS_EVAL_SECRET_ARGS"
SHOWN = "***"
# Starts as the CLI's mask does: a fingerprint reads as a hidden value wherever it shows.
FINGERPRINT_PREFIX = "***hmac-sha256:"
# model_args lie at most this deep in what is stored or printed (a list of TrackedJobs:
# [i]["info"]["request"]["model_args"]); deeper data is left as it is.
_MAX_DEPTH = 8


def secret_arg_words(words: Iterable[str] | None = None) -> tuple[str, ...]:
    """The words that make a model_args key secret, lowercased: ``words`` (replacing the
    default), else SECRET_ARG_WORDS and those of $LMMS_EVAL_SECRET_ARGS (comma-separated:
    added, never replacing them, so that naming one more secret cannot unmask the others)."""
    if words is None:
        words = (*SECRET_ARG_WORDS, *os.environ.get(SECRET_ARGS_ENV, "").split(","))
    elif isinstance(words, str) or not all(isinstance(word, str) for word in words):
        raise InvalidArgumentError(
            f"secret_args must be a sequence of str (words of secret model_args names), "
            f"got {words!r}"[:200]
        )
    return tuple(dict.fromkeys(word.strip().lower() for word in words if word.strip()))


# Names of credentials, secret whatever the words in force (as a URL's password is): a
# password (db_passwd, PGPWD), an authorization (auth, http_auth, Authorization; not an
# author's or an authority's name), a credential, a cookie (an adversarial try: db_passwd,
# auth and credentials were stored and shown as they were).
_CREDENTIAL_NAME = re.compile(r"passwd|pwd|auth(?!or(?!i[sz]))|credential|cookie")


def is_secret_arg(name: str, words: Collection[str]) -> bool:
    """Whether a model_args name holds a secret: it contains one of ``words`` (lowercased),
    in any case, or names a credential whatever the words (``_CREDENTIAL_NAME``).

    >>> [is_secret_arg(n, ()) for n in ("db_passwd", "auth", "Authorization", "author")]
    [True, True, True, False]
    """
    lowered = name.lower()
    return any(word in lowered for word in words) or bool(_CREDENTIAL_NAME.search(lowered))


# A URL whose authority names a user (and a password): https://alice:PW@host/v1, a token
# as the user (https://TOKEN@github.com/...). A secret whatever the model_arg's name. (A
# scheme starts where no scheme's character stands before it: a value of 300,000 letters
# is read once, not from each of them.)
_URL_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://([^/?#\s@]*)@")


def url_userinfo(text: str) -> str | None:
    """The user (and ``:password``) of the first URL in ``text`` that names one, else None.

    >>> url_userinfo("https://alice:pw@host/v1"), url_userinfo("https://host/v1")
    ('alice:pw', None)
    """
    found = _URL_USERINFO.search(text) if "://" in text else None
    return None if found is None else found[1]


# An Authorization header's value (auth="Bearer sk-...", header="Basic dXNlcjpwdw=="): a
# scheme, then its credential, one word.
_AUTHORIZATION_VALUE = re.compile(r"\s*(?:bearer|basic)\s+(\S+)\s*", re.IGNORECASE)
_AUTHORIZATION_SCHEMES = ("Bearer", "Basic", "bearer", "basic")  # as a value may spell them


def authorization_credential(value: object) -> str | None:
    """The credential of a value that is an Authorization header's (``Bearer KEY``, ``Basic
    B64``), else None: a secret whatever the name it stands under.

    >>> authorization_credential("Bearer sk-abc"), authorization_credential("Bearer of news")
    ('sk-abc', None)
    """
    found = _AUTHORIZATION_VALUE.fullmatch(value) if isinstance(value, str) else None
    return None if found is None else found[1]


def holds_secret(value: Any, words: Collection[str], depth: int = 0) -> bool:
    """Whether a model_args (or extra_body) value holds a secret whatever its own name: a
    URL with a user in it, an Authorization header's value (``Bearer ...``), or, nested in
    it, a value under a secret name or such a value.

    >>> holds_secret("https://alice:pw@host/v1", ()), holds_secret("https://host/v1", ())
    (True, False)
    >>> holds_secret("Basic dXNlcjpwdw==", ())
    True
    >>> holds_secret({"auth": {"token": "x"}}, ("token",))
    True
    >>> holds_secret({"max_new_tokens": 16}, SECRET_ARG_WORDS)
    False
    """
    if isinstance(value, str):
        return url_userinfo(value) is not None or authorization_credential(value) is not None
    if depth >= _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        # (by the text rule: a nested max_new_tokens or pad_token is no secret; the review)
        from ._results.redaction import is_secret_name

        return any(
            is_secret_name(key, words) or holds_secret(item, words, depth + 1)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return any(holds_secret(item, words, depth + 1) for item in value)
    return False


def is_secret(key: str, value: Any, words: Collection[str]) -> bool:
    """The one rule of a secret model_args (or extra_body) value: its name (``words``), or
    what it holds (``holds_secret``)."""
    return is_secret_arg(key, words) or holds_secret(value, words)


def is_fingerprint(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FINGERPRINT_PREFIX)


def replace_secret_args(
    data: Any,
    replace: Callable[[str, Any], Any],
    depth: int = 0,
    error: Callable[[str, Any], str] | None = None,
) -> Any:
    """A copy of JSON data in which each value of every ``model_args`` mapping is
    ``replace(key, value)`` (a request, a JobInfo, a TrackedJob, lists of them...), and the
    ``error`` text of each JobInfo ``error(text, its request's model_args)``."""
    if depth > _MAX_DEPTH:
        return data
    if isinstance(data, list):
        return [replace_secret_args(item, replace, depth + 1, error) for item in data]
    if not isinstance(data, dict):
        return data
    copy = {key: replace_secret_args(v, replace, depth + 1, error) for key, v in data.items()}
    args = data.get("model_args")
    if isinstance(args, dict):
        copy["model_args"] = {key: replace(key, value) for key, value in args.items()}
    for key in _extra_fields(data):  # extra_body's, named like a secret as model_args are
        copy[key] = replace(key, copy[key])
    request = data.get("request")
    if error is not None and isinstance(data.get("error"), str) and isinstance(request, dict):
        copy["error"] = error(data["error"], secret_bearing(request))
    return copy


def secret_bearing(request: Any) -> dict[str, Any]:
    """The fields of a request that may hold a secret, by name: its model_args and its
    extra_body fields (of a request as JSON data, or an EvaluateRequest)."""
    if isinstance(request, dict):
        args: Any = request.get("model_args")
        extras: Any = {key: request[key] for key in _extra_fields(request)}
    else:
        args, extras = getattr(request, "model_args", None), getattr(request, "model_extra", None)
    fields = dict(args) if isinstance(args, dict) else {}
    for key, value in (extras if isinstance(extras, dict) else {}).items():
        name = key
        while name in fields:  # an api_key in both must not hide one of them (a name
            name += " "  # of the same words: the same rule reads it)
        fields[name] = value
    return fields


def _extra_fields(data: dict[str, Any]) -> list[str]:
    """The fields of a request (a mapping with ``model`` and ``tasks``) that the contract
    does not know: what ``extra_body`` sent (a newer server's, maybe secret)."""
    if "model" not in data or "tasks" not in data:
        return []
    from lmms_eval_api.models import EvaluateRequest  # loaded with the request anyway

    return [key for key in data if key not in EvaluateRequest.model_fields]


def masked_error(text: str, model_args: Any, words: Collection[str]) -> str:
    """A job's error text without the values of its secret model_args (named by ``words``)
    or any other ``api_key=``-like value."""
    from ._results.redaction import job_secrets, redact_secrets  # loaded with a job's error

    return redact_secrets(text, job_secrets(model_args, words), cut=True)


def masked_for_display(data: Any, words: Collection[str] | None = None) -> Any:
    """JSON data as the command line prints it: secret model_args (and fingerprints) ``***``,
    and a job's error text without them or any other ``api_key=``-like value."""
    chosen = secret_arg_words() if words is None else words

    def hide(key: str, value: Any) -> Any:
        return SHOWN if is_secret(key, value, chosen) or is_fingerprint(value) else value

    def mask_error(text: str, model_args: Any) -> str:
        return masked_error(text, model_args, chosen)

    return replace_secret_args(data, hide, error=mask_error)


def masked_job(job: JobInfo) -> JobInfo:
    """A copy of a JobInfo as the command line shows it (``masked_for_display``)."""
    return type(job).from_dict(masked_for_display(job.to_dict()))


class Fingerprints:
    """Secret model_args as HMAC-SHA256 fingerprints under a ledger's own random key.

    Equal secrets give equal fingerprints within one ledger (so reconciliation can tell its
    request in a server's echo); without the key, a fingerprint tells nothing of the secret,
    and the same secret in two ledgers gives two unrelated fingerprints. (Whoever holds the
    ledger holds its key, and can test guesses of a weak secret against it.)
    """

    def __init__(self, key: bytes, words: Collection[str]) -> None:
        self._key = key
        self.words = tuple(words)

    def __repr__(self) -> str:
        return f"Fingerprints(words={self.words!r})"  # never the key

    def of(self, value: Any) -> str:
        """The fingerprint of a value (a fingerprint stays as it is)."""
        if is_fingerprint(value):
            return str(value)
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        digest = hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()
        return FINGERPRINT_PREFIX + digest

    def _sealer(self, also: Collection[str] = ()) -> Callable[[str, Any], Any]:
        def seal(key: str, value: Any) -> Any:
            secret = key in also or is_secret(key, value, self.words)
            return self.of(value) if secret and value is not None else value

        return seal

    def seal(self, data: Any) -> Any:
        """JSON data as the ledger stores it: each secret model_args value fingerprinted, a
        job's error text without them (or any other ``api_key=``-like value)."""
        return replace_secret_args(data, self._sealer(), error=self._masked_error)

    def told_in(self, text: str, model_args: Any) -> tuple[str, ...]:
        """The parts of ``text`` that are secrets of a stored request, longest first: those
        whose fingerprint is one of ``model_args``' (a ledger keeps a secret's fingerprint,
        not its value, yet knows the value where a text, such as a job's log, tells it).
        ``model_args``: the request's secret-bearing fields (``secret_bearing``). A value of
        an ordinary name was sealed for what it held (a URL's password, ``Bearer KEY``: KEY
        is looked for alone too)."""
        from ._results.redaction import is_secret_name  # (loaded with a report or a log)

        args = model_args if isinstance(model_args, dict) else {}
        sealed = {
            value
            for key, value in args.items()
            if is_fingerprint(value)
            and (is_secret_name(key, self.words) or not is_secret_arg(key, self.words))
        }
        if not sealed:
            return ()
        found: set[str] = set()
        # what may be the credential of an Authorization value (Bearer KEY) told alone: a
        # word of the text (or its value after a name=), not each part of every word (time)
        bare = {word.rpartition("=")[2].strip(AROUND) for word in text.split()}
        for candidate, written in candidates(text).items():
            if len(candidate) < MIN_MASKED_CHARS:
                continue
            decimal = candidate.isdecimal() and len(candidate) <= 100
            number = int(candidate) if decimal else None  # (int() stops at 4,300 digits)
            as_values: list[object] = [candidate] if number is None else [candidate, number]
            if candidate in bare:
                as_values += (f"{scheme} {candidate}" for scheme in _AUTHORIZATION_SCHEMES)
            if all(self.of(value) not in sealed for value in as_values):
                continue
            # masked wherever the text has it: as it is, as the words it was read from (a
            # tab, two spaces) and URL-encoded (Zq9%2FS%40v)
            quoted = {urllib.parse.quote(candidate, safe=""), urllib.parse.quote_plus(candidate)}
            found.update(part for part in {candidate} | written | quoted if part in text)
        return tuple(sorted(found, key=len, reverse=True))

    def _masked_error(self, text: str, model_args: Any) -> str:
        return masked_error(text, model_args, self.words)

    def sealed_keys(self, request: EvaluateRequest) -> set[str]:
        """The model_args keys whose values a stored request holds as fingerprints."""
        return {key for key, value in (request.model_args or {}).items() if is_fingerprint(value)}

    def is_sealed(self, request: EvaluateRequest) -> bool:
        """Whether a stored request holds a fingerprint in place of a secret (of its
        model_args or of its extra_body fields): it cannot be sent again as it is."""
        return bool(self.sealed_keys(request) or _sealed_extras(request))

    def _sealed(self, request: EvaluateRequest, keys: Collection[str]) -> EvaluateRequest:
        return type(request).from_dict(replace_secret_args(request.to_dict(), self._sealer(keys)))

    def comparable(
        self, stored: EvaluateRequest, echo: EvaluateRequest
    ) -> tuple[EvaluateRequest, EvaluateRequest]:
        """A stored request and a server's echo, both with every secret fingerprinted: also
        those sealed under other words (a ledger written with other ``secret_args``)."""
        keys = self.sealed_keys(stored) | self.sealed_keys(echo)
        return self._sealed(stored, keys), self._sealed(echo, keys)

    def unseal(self, stored: EvaluateRequest, echo: EvaluateRequest) -> EvaluateRequest | None:
        """The stored request with the secrets of a server's echo of it put back, or None
        when the echo lacks one or holds another value (its fingerprint differs)."""
        secrets = self.sealed_keys(stored)
        echoed = echo.model_args or {}
        stored_args = stored.model_args or {}
        if any(key not in echoed or self.of(echoed[key]) != stored_args[key] for key in secrets):
            return None
        extras, echoed_extras = _sealed_extras(stored), echo.model_extra or {}
        if any(self.of(echoed_extras.get(key)) != value for key, value in extras.items()):
            return None
        args = {key: echoed[key] if key in secrets else value for key, value in stored_args.items()}
        fields = {**stored.to_dict(), **{key: echoed_extras[key] for key in extras}}
        return type(stored).from_dict({**fields, "model_args": args})


def _sealed_extras(request: EvaluateRequest) -> dict[str, str]:
    """The extra_body fields a stored request holds as fingerprints, by name."""
    extras = request.model_extra or {}
    return {key: value for key, value in extras.items() if is_fingerprint(value)}
