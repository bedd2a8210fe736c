"""What is submitted for a checkpoint, and under which key: one definition for the watcher,
the trainer callback and hand-written loops (``submit_checkpoint``).

The key is the checkpoint's name (``checkpoint-500``, with an optional prefix): ``EvalRun``
sends nothing for a key its ledger already tracks, so whoever submits a checkpoint again (a
restarted watcher, a callback after a resumed training) gets the job tracked under it.
"""

from __future__ import annotations

import inspect
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._checks import check_path
from .._exceptions import InvalidArgumentError, LmmsEvalError
from .._log import Recurring
from .._results.path_map import split_server_path
from .._secret_args import masked_for_display
from .._text import without_userinfo

if TYPE_CHECKING:
    from .._runs._sync.run import EvalRun
    from .._runs.outcomes import TrackedJob

PLACEHOLDER = "{checkpoint}"


def _submit_options() -> set[str]:
    """EvalRun.submit's options besides model, tasks, model_args, labels and key."""
    from .._runs._sync.run import EvalRun

    fixed = {"self", "model", "tasks", "model_args", "labels", "key"}
    return set(inspect.signature(EvalRun.submit).parameters) - fixed


# The whole trailing run of ASCII digits, unless an exponent makes it part of another
# number: "checkpoint-1e3" and "checkpoint-٣" have no step ("model--500" has 500).
_TRAILING_INT = re.compile(r"(?<![0-9])(?<![0-9][eE])([0-9]+)$")


@dataclass(frozen=True)
class CheckpointSubmission:
    """What to submit for each checkpoint: ``EvalRun.submit``'s arguments, with
    ``"{checkpoint}"`` in ``model_args`` values replaced by the checkpoint's path (as the
    server sees it: through the client's ``path_map`` when the server mounts the disk
    elsewhere).

    Example::

        what = CheckpointSubmission(
            model="qwen2_vl", tasks=["mme"], model_args={"pretrained": "{checkpoint}"},
            options={"limit": 8},
        )
    """

    model: str
    """lmms-eval model type, e.g. ``"qwen2_vl"``."""
    tasks: Sequence[str] | str
    """Task names, e.g. ``["mme"]``."""
    model_args: Mapping[str, Any] = field(default_factory=lambda: {"pretrained": PLACEHOLDER})
    """Model arguments; ``"{checkpoint}"`` inside a str value becomes the checkpoint's path."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Further keyword arguments of ``EvalRun.submit`` (``limit``, ``batch_size``, ...; not
    ``labels`` or ``key``, which the checkpoint gives)."""

    def __post_init__(self) -> None:
        # Checked now, not at the first checkpoint hours into a training (issue: a bad
        # limit or an empty task list stopped the watcher when the first one was ready).
        if not isinstance(self.model_args, Mapping) or not isinstance(self.options, Mapping):
            raise InvalidArgumentError(
                "CheckpointSubmission model_args and options must be dicts, not "
                f"{type(self.model_args).__name__} and {type(self.options).__name__}"
            )
        taken = {"labels", "key", "model", "tasks", "model_args"} & set(self.options)
        if taken:
            raise InvalidArgumentError(
                f"CheckpointSubmission options cannot hold {sorted(taken)}: the checkpoint "
                "gives the key and labels, and model, tasks, model_args are fields"
            )
        if not any(isinstance(v, str) and PLACEHOLDER in v for v in self.model_args.values()):
            raise InvalidArgumentError(
                f"CheckpointSubmission model_args hold no {PLACEHOLDER!r}: every checkpoint "
                "would be evaluated as the same model. Put it where the model is loaded "
                f"from, e.g. model_args={{'pretrained': {PLACEHOLDER!r}}}"
            )
        unknown = set(self.options) - _submit_options()
        if unknown:
            raise InvalidArgumentError(
                f"CheckpointSubmission options {sorted(unknown)} are not EvalRun.submit's "
                f"(it takes {sorted(_submit_options())})"
            )
        from .._client.arguments import build_evaluate_request  # (pydantic's models)

        if "timeout" in self.options:
            from .._http.options import CallOptions

            CallOptions.of(self.options["timeout"])
        request = {k: v for k, v in self.options.items() if k != "timeout"}
        with warnings.catch_warnings():  # (a warning, if any, comes with each submission)
            warnings.simplefilter("ignore")
            build_evaluate_request(
                self.model, self.tasks, self.arguments("/checkpoint")["model_args"], **request
            )

    def __repr__(self) -> str:
        # model_args and extra_body may hold an API key, a URL its password: shown masked,
        # as the command line shows them
        shown = masked_for_display({"model_args": dict(self.model_args)})["model_args"]
        options = dict(self.options)
        if isinstance(options.get("extra_body"), Mapping):
            body = dict(options["extra_body"])
            options["extra_body"] = masked_for_display({"model_args": body})["model_args"]
        return without_userinfo(
            f"CheckpointSubmission(model={self.model!r}, tasks={self.tasks!r}, "
            f"model_args={shown!r}, options={options!r})"
        )

    def arguments(self, server_path: str) -> dict[str, Any]:
        """``EvalRun.submit``'s keyword arguments for the checkpoint at ``server_path``.

        Example::

            run.submit(**what.arguments("/data/out/checkpoint-5"), key="checkpoint-5")
        """
        model_args = {
            name: value.replace(PLACEHOLDER, server_path) if isinstance(value, str) else value
            for name, value in self.model_args.items()
        }
        return {
            "model": self.model,
            "tasks": self.tasks,
            "model_args": model_args,
            **self.options,
        }


def checkpoint_of(job: TrackedJob, key_prefix: str) -> str | None:
    """The checkpoint's name if ``job``'s key is one ``key_prefix`` makes (the prefix, then
    its ``checkpoint`` label), else None: the one rule of which jobs a watcher or a trainer
    callback owns. A prefix alone also matched "a/..." for a prefix "", and "ab..." for
    "a": another watcher's outcomes were taken.

    Example::

        assert checkpoint_of(job, "a/") == "checkpoint-5"  # key "a/checkpoint-5"
    """
    if job.key is None or not job.key.startswith(key_prefix):
        return None
    name = job.key[len(key_prefix) :]
    return name if job.labels.get("checkpoint") == name else None


def may_pass_later(error: LmmsEvalError) -> bool:
    """Whether a failed submission of a checkpoint may go through if tried again later:
    the server down or busy (``is_transient``), or an answer lost that the server could
    not be asked about yet (``SubmissionUnresolvedError`` not final: the next submit under
    the same key reconciles it, never sending it twice), or a pool's servers all down, at
    their cap or refusing for a while, or the run's ledger out for a while (locked by
    another process, its database restarting: ``PASSING``; nothing was sent). A refusal (a
    4xx, bad arguments, a ledger damaged or read-only, a pool none of whose servers offers
    the tasks) would only be refused again."""
    from .._exceptions import NoServerAvailableError
    from .._http.retry import is_transient
    from .._pool.routing import OFFERS_NOT
    from .._runs.errors import SubmissionUnresolvedError
    from .._runs.outage import PASSING

    if isinstance(error, PASSING):
        return True
    if isinstance(error, SubmissionUnresolvedError):
        return not error.final
    if isinstance(error, NoServerAvailableError):  # a pool's servers down, full or busy
        return not all(why.startswith(OFFERS_NOT) for why in error.reasons.values())
    return is_transient(error)


class CouldNotSubmit:
    """Submissions that fail for a while (``may_pass_later``: the server down or busy, the
    ledger out), said once while they keep failing and once more when one goes through
    (``Recurring``: a server down for an hour is not a warning a scan).

    >>> failing = CouldNotSubmit("Watcher of out/", "scan")
    >>> failing.went_through()  # (nothing failed: nothing said)
    """

    def __init__(self, who: str, when: str) -> None:
        self._who, self._when = who, when
        self._said = Recurring()

    def failed(self, name: str, error: LmmsEvalError) -> None:
        """Checkpoint ``name``'s submission failed with ``error`` (it may pass later)."""
        self._said.failed("submit", "%s: could not submit %s (tried again at the next %s; "
                          "said again when a submission goes through): %s", self._who, name,
                          self._when, error)  # fmt: skip

    def went_through(self) -> None:
        """A submission went through."""
        self._said.worked("submit", "%s: submissions go through again", self._who)

    def answered(self) -> None:
        """A submission was refused (said as such): the server answers, nothing more said."""
        self._said.answered("submit")


def refused_alone(error: LmmsEvalError) -> bool:
    """Whether the server may have refused this one request (a 4xx of its own: a path it
    cannot use), not every request (401/403: credentials; 404/405: no such endpoint, a
    wrong base URL), so the next checkpoint may well be accepted. (Asked after
    ``may_pass_later``: a 429 is a wait.)"""
    from .._exceptions import APIStatusError

    return isinstance(error, APIStatusError) and error.status_code in _OWN_REFUSALS


# 4xx answers that may be one request's own (not credentials, an endpoint, a wait)
_OWN_REFUSALS = frozenset(range(400, 500)) - {401, 403, 404, 405, 429}


def step_of(name: str) -> int | None:
    """The trailing integer of a checkpoint's name (``checkpoint-500`` -> 500,
    ``global_step500`` -> 500), or None (``checkpoint-1e3``: no step).

    Example::

        assert step_of("checkpoint-500") == 500
    """
    found = _TRAILING_INT.search(name)
    return int(found.group(1)) if found else None


def path_map_of(run: EvalRun, path: str | os.PathLike[str]) -> Mapping[str, str]:
    """The path map the checkpoint at ``path`` is sent through: the run's client's. Over a
    pool, InvalidArgumentError when its servers' clients would send ``path`` apart: it is
    made before the pool picks a server, which would get another server's mount of it.
    (Maps that differ elsewhere, each server's results mount, are fine: the review.)"""
    client = run._client
    clients = getattr(getattr(client, "_servers", None), "clients", ())
    if len({server_path(path, each.path_map) for each in clients}) > 1:
        sent = "; ".join(f"{each.base_url}: {server_path(path, each.path_map)}" for each in clients)
        raise InvalidArgumentError(
            f"the servers of this pool see {os.fspath(path)!r} at different paths ({sent}): a "
            "checkpoint's path is made before the pool picks its server. Give the pool's "
            "clients one mount of it in their path_map, or watch each server with a run of "
            "its own"
        )
    return client.path_map


def server_path(local: str | os.PathLike[str], path_map: Mapping[str, str]) -> str:
    """The path the server sees for the local path ``local``: the client's ``path_map``
    (server folder -> where it is mounted here) read backwards, the longest local mount
    that holds ``local`` replaced by its server folder; ``local`` (absolute) when none does.

    Example::

        server_path("/mnt/gpu/out/checkpoint-5", {"/data": "/mnt/gpu"})  # "/data/out/..."
    """
    path = os.path.abspath(os.fspath(local))
    backwards = {
        mount: server for server, mount in path_map.items() if "://" not in mount
    }  # an fsspec URL is no local mount
    mount, rest = split_server_path(path, backwards)
    if mount is None:
        return path
    server = backwards[mount]
    return server.rstrip("/") + rest if rest else server.rstrip("/") or server


def sent_for_another(
    job: TrackedJob, submit: CheckpointSubmission, path: str | os.PathLike[str], run: EvalRun
) -> tuple[str, str] | None:
    """(what ``job`` was sent for, what the checkpoint at ``path`` would send) when a
    ``model_args`` value holding ``"{checkpoint}"`` differs between them (mapped through the
    run's ``path_map``, as ``submit_checkpoint`` sends it): the key of ``job`` is held by
    another checkpoint (two trainings into one ledger without a ``key_prefix``); else None.
    A value the ledger keeps as a fingerprint (a secret's) is not compared."""
    from .._secret_args import is_fingerprint

    ours = submit.arguments(server_path(path, path_map_of(run, path)))
    theirs = (job.request.model_args if job.request is not None else None) or {}
    for name, value in submit.model_args.items():
        if not isinstance(value, str) or PLACEHOLDER not in value:
            continue
        sent, would = theirs.get(name), ours["model_args"][name]
        if sent != would and not is_fingerprint(sent):
            return str(sent), str(would)
    return None


def check_submitting(run: object, submit: object) -> EvalRun:
    """What a checkpoint is submitted with: an EvalRun (returned), a CheckpointSubmission."""
    from .._runs._sync.run import EvalRun

    if not isinstance(run, EvalRun):
        raise InvalidArgumentError(f"run must be an EvalRun, got {type(run).__name__}")
    if not isinstance(submit, CheckpointSubmission):
        raise InvalidArgumentError(
            f"submit must be a CheckpointSubmission, got {type(submit).__name__}"
        )
    return run


def submit_checkpoint(
    run: EvalRun,
    path: str | os.PathLike[str],
    *,
    submit: CheckpointSubmission,
    step: int | None = None,
    key: str | None = None,
    labels: Mapping[str, Any] | None = None,
) -> TrackedJob:
    """Submit the checkpoint at ``path`` into ``run``, once: under the key of its name
    (``checkpoint-500``), labelled ``{"step": 500, "checkpoint": "checkpoint-500"}``.

    For hand-written training loops (the watcher and the trainer callback call it too).
    Submitting a checkpoint again returns the job tracked under its key and sends nothing.

    Args:
        run: The EvalRun to submit into.
        path: The checkpoint folder, as this machine sees it (mapped to the server's path
            through the run's client's ``path_map``).
        submit: What to submit (model, tasks, model_args with ``"{checkpoint}"``).
        step: The training step (default: the trailing integer of the folder's name).
        key: The submission's key (default: the folder's name).
        labels: More labels, merged over ``step`` and ``checkpoint``.

    Returns:
        The tracked job (the one already tracked under the key, if any).

    Raises:
        InvalidArgumentError: An argument is invalid; nothing was sent.
        LedgerError, APIStatusError, APIConnectionError: as ``EvalRun.submit``.

    Example::

        what = CheckpointSubmission(model="hf", tasks=["mme"])
        job = submit_checkpoint(run, "out/checkpoint-500", submit=what)
        print(job.key, job.labels["step"])
    """
    check_submitting(run, submit)
    path = check_path("path", path)
    if labels is not None and not isinstance(labels, Mapping):
        raise InvalidArgumentError(f"labels must be a mapping, got {type(labels).__name__}")
    name = Path(path).name
    if not name or name in (".", ".."):  # (Path("x/..").name is "..": x's parent, no checkpoint)
        raise InvalidArgumentError(f"submit_checkpoint: {path!r} names no checkpoint folder")
    step = step_of(name) if step is None else step
    label_set: dict[str, Any] = {"checkpoint": name, **({} if step is None else {"step": step})}
    label_set.update(labels or {})
    arguments = submit.arguments(server_path(path, path_map_of(run, path)))
    return run.submit(**arguments, labels=label_set, key=name if key is None else key)
