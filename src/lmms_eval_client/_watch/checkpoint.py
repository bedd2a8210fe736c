"""A checkpoint folder as a scan finds it, the order scans keep (by step, then name), and
which folders a watcher may watch and match."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._checks import check_path, text_problem
from .._exceptions import InvalidArgumentError
from .._results.path_map import effective_path_map
from .._text import shown
from .errors import WatchError, missing, not_permitted

if TYPE_CHECKING:
    from .._runs.outcomes import TrackedJob


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint folder found by a scan."""

    name: str
    """The folder's name, e.g. ``"checkpoint-500"`` (the key's end, the ``checkpoint`` label)."""
    path: Path
    """The folder, as this machine sees it."""
    step: int | None
    """The training step (the trailing integer of the name by default), or None."""

    @property
    def order(self) -> tuple[int, str]:
        """Its place among the folder's checkpoints: by step, then name.

        Example::

            newest = max(watcher.checkpoints(), key=lambda c: c.order)
        """
        return (-1 if self.step is None else self.step, self.name)


class EveryK:
    """``every=k``: which checkpoints after the last submitted one are the k-th, counting
    those this process saw that are gone since (a trainer's ``save_total_limit`` deletes
    its older ones: counted over the folders present, the k-th never came)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self._seen: dict[str, tuple[int, str]] = {}  # name -> order, of every scan
        self._gone: list[tuple[int, str]] = []
        self._count = 0

    def start(self, listed: list[Checkpoint], last: tuple[int, str] | None) -> None:
        """A scan begins: ``listed`` now, ``last`` the order of the last one submitted."""
        names = {checkpoint.name for checkpoint in listed}
        self._seen.update((checkpoint.name, checkpoint.order) for checkpoint in listed)
        after = [order for name, order in self._seen.items() if name not in names]
        self._gone = sorted(order for order in after if last is None or order > last)
        self._count = 0

    def is_kth(self, checkpoint: Checkpoint) -> bool:
        """Counts it (after the gone ones before it): whether it is the k-th."""
        while self._gone and self._gone[0] < checkpoint.order:
            self._gone.pop(0)
            self._count += 1
            if self._count % self.every == 0:
                self.stand_in()  # that k-th is gone: the next one stands in
        self._count += 1
        return self._count % self.every == 0

    def stand_in(self) -> None:
        """The k-th is passed over (gone, unreadable): the next one takes its place."""
        self._count -= 1


def is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether a listed entry is a folder (False once it is gone)."""
    try:
        return entry.is_dir()
    except OSError:  # gone since listed
        return False


def order_of(job: TrackedJob) -> tuple[int, str]:
    """A submitted checkpoint's ``Checkpoint.order``, from its job's labels."""
    step = job.labels.get("step")
    return (step if isinstance(step, int) else -1, str(job.labels.get("checkpoint", "")))


def check_pattern(pattern: object) -> str:
    """``pattern``, checked: an fnmatch pattern of a folder's name (one that can match one).

    >>> check_pattern("checkpoint-*")
    'checkpoint-*'
    """
    if not isinstance(pattern, str) or not pattern:
        raise InvalidArgumentError(f"pattern must be a non-empty str, got {pattern!r}")
    if "\x00" in pattern:
        raise InvalidArgumentError(f"pattern {shown(pattern)} holds a NUL: no name can")
    if any(sep in pattern for sep in (os.sep, os.altsep) if sep):
        raise InvalidArgumentError(
            f"pattern {pattern!r} holds a path separator: it matches a folder's name in the "
            "watched folder (e.g. 'checkpoint-*'); watch the folder that holds the checkpoints"
        )
    return pattern


def check_folder(directory: str | os.PathLike[str]) -> Path:
    """The folder to watch, which must be there now (the command line checks it before it
    creates a ledger; a watcher made in code finds out at its first scan)."""
    path = check_directory(directory)
    check_sendable(path, effective_path_map(None))  # (the command line's: the environment's)
    if not path.is_dir():
        raise InvalidArgumentError(str(missing(str(path), deleted=False)))
    return path


def check_sendable(path: Path, path_map: Mapping[str, str]) -> None:
    """InvalidArgumentError when the folder's path as the server sees it (``path_map``) is
    no text: a name that is not UTF-8 (no checkpoint in it could ever be sent)."""
    from .submission import server_path

    problem = text_problem(server_path(path, path_map))
    if problem:
        raise InvalidArgumentError(
            f"directory {shown(os.fsencode(path))}: its path as the server sees it is "
            f"{problem}; watch it under a name that is text, or map it (path_map)"
        )


def check_key_prefix(prefix: object) -> str:
    """``key_prefix``, checked: a str that, followed by a checkpoint's name, makes a key
    (printable, shorter than a key may be, not starting with a space)."""
    from .._runs.ledger_keys import MAX_KEY_LENGTH

    if not isinstance(prefix, str):
        raise InvalidArgumentError(f"key_prefix must be a str, got {type(prefix).__name__}")
    if prefix and (len(prefix) >= MAX_KEY_LENGTH or not prefix.isprintable()):
        raise InvalidArgumentError(
            f"key_prefix must be printable and shorter than {MAX_KEY_LENGTH} characters (a "
            f"key is the prefix, then the checkpoint's name), got {shown(prefix)}"
        )
    if prefix != prefix.lstrip():  # (a key may not: check_key would refuse each checkpoint)
        raise InvalidArgumentError(
            f"key_prefix must not start with a space (a key may not), got {shown(prefix)}"
        )
    return prefix


def check_watching(run: object, submit: object, key_prefix: object) -> str:
    """What a watcher or a trainer callback is given, checked before its first checkpoint
    (hours into a training): an EvalRun, a CheckpointSubmission, a key prefix, and sinks of
    the run that can read the step of a checkpoint's labels. The key prefix, checked."""
    from .._trackers.base import check_step_labels, check_template_labels
    from .submission import check_submitting

    checked = check_submitting(run, submit)
    labels = {"checkpoint": "checkpoint-0", "step": 0}  # a checkpoint's, and no other
    check_step_labels(checked._sinks, labels)
    check_template_labels(checked._sinks, labels)
    return check_key_prefix(key_prefix)


def check_rules(ready: object, step: object) -> None:
    """A watcher's readiness rule (None: the default) and step function."""
    if isinstance(ready, type):
        raise InvalidArgumentError(
            f"ready must be a readiness rule, got the class {ready.__name__}: make one, "
            f"e.g. {ready.__name__}()"
        )
    if ready is not None and not callable(getattr(ready, "is_ready", None)):
        raise InvalidArgumentError(
            f"ready must be a readiness rule (MarkerFile, StableSize), got {type(ready).__name__}"
        )
    if not callable(step):
        raise InvalidArgumentError(f"step must be callable, got {type(step).__name__}")


def list_checkpoints(
    directory: Path,
    pattern: str,
    step: Callable[[str], int | None],
    *,
    deleted: bool,
    left_out: Callable[[str, str], None],
) -> list[Checkpoint]:
    """The folders of ``directory`` that ``pattern`` matches, in step order (``deleted``:
    it was listed before, so its absence means it was deleted). One whose name holds a
    control character (no key can; a line break in it would forge a log line) or whose
    step ``step`` cannot give (it raised, or gave no int), or that is a link to another of
    them, is left out, told to ``left_out``."""
    found: list[Checkpoint] = []
    links: list[Checkpoint] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if fnmatch.fnmatchcase(entry.name, pattern) and is_dir(entry):
                    if not entry.name.isprintable():
                        left_out(entry.name, "its name holds a control or undecodable character")
                        continue
                    try:
                        number = step(entry.name)
                    except Exception as exc:  # the user's function: its failure is said
                        left_out(entry.name, f"its step function raised {shown(exc)}")
                        continue
                    if number is not None and (type(number) is not int):
                        left_out(entry.name, f"its step function returned {shown(number)}")
                        continue
                    checkpoint = Checkpoint(entry.name, Path(entry.path), number)
                    (links if entry.is_symlink() else found).append(checkpoint)
    except (FileNotFoundError, NotADirectoryError):
        raise missing(str(directory), deleted=deleted) from None
    except PermissionError:
        raise not_permitted(str(directory)) from None
    except OSError as exc:  # a symlink loop, a name too long, an I/O error
        raise WatchError(
            f"Cannot list the watched folder {str(directory)!r}: {exc.strerror or exc}",
            path=str(directory),
        ) from None
    return sorted(found + _not_aliases(links, found, left_out), key=lambda c: c.order)


def _not_aliases(
    links: list[Checkpoint], found: list[Checkpoint], left_out: Callable[[str, str], None]
) -> list[Checkpoint]:
    """The links among the checkpoints that are not another name of a listed one
    (``checkpoint-best -> checkpoint-500``: its weights are evaluated once, as the latter),
    nor of another link (two links to one folder elsewhere: the one with a step is kept)."""
    if not links:
        return []
    real = {os.path.realpath(checkpoint.path): checkpoint.name for checkpoint in found}
    kept = []
    for link in sorted(links, key=lambda c: (c.step is None, c.order)):
        target = real.setdefault(os.path.realpath(link.path), link.name)
        if target == link.name:
            kept.append(link)
        else:
            left_out(link.name, f"it is a link to {target}, watched under that name")
    return kept


def check_directory(directory: object) -> Path:
    """The watched folder's path (str or os.PathLike, no NUL), absolute: a relative one is
    of the working folder when it is given, not of a later one; it may not exist yet."""
    return Path(check_path("directory", directory)).absolute()
