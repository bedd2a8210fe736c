"""Which file system a ledger file is on: SQLite refuses network ones by default.

A SQLite ledger in WAL mode keeps its shared index in a memory-mapped ``-shm`` file, which
only works among processes of one host, and relies on POSIX locks, which NFS, SMB, Lustre,
GPFS, FUSE mounts and their kin implement loosely or not at all: two writers on two hosts
(or one, with a lagging lock server) can lose each other's writes or corrupt the file. A
run shared between machines belongs in the PostgreSQL ledger instead.

The file system is asked with ``statfs``: on Linux its ``f_type`` magic number, on macOS and
the BSDs its ``f_fstypename``. The system call lives in ``_statfs`` alone (tests replace it);
when it fails the answer is "unknown" (None), never an error: this check must not stop a
ledger from opening where it cannot tell.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING

from .errors import NetworkFilesystemError

if TYPE_CHECKING:  # imported when a SQLite ledger is opened, not with EvalRun
    import ctypes

ALLOW_NETWORK_FS_ENV = "LMMS_EVAL_LEDGER_ALLOW_NETWORK_FS"

# Linux's f_type magic numbers (linux/magic.h and the file systems' own headers).
_LINUX_NETWORK = {
    0x6969: "nfs",
    0x517B: "smb",
    0xFF534D42: "cifs",
    0xFE534D42: "smb2",
    0x0BD00BD0: "lustre",
    0x47504653: "gpfs",
    0x65735546: "fuse",
    0x00C36400: "ceph",
    0x5346414F: "afs",
    0x01021997: "9p",
    0x73757245: "coda",
    0x564C: "ncp",
}

# macOS's (and the BSDs') f_fstypename of network and user-space file systems.
_BSD_NETWORK = {
    "nfs": "nfs",
    "smbfs": "smbfs",
    "afpfs": "afpfs",
    "webdav": "webdav",
    "osxfuse": "osxfuse",
    "macfuse": "macfuse",
    "fusefs": "fuse",
}

NETWORK_FILESYSTEMS: frozenset[str] = frozenset(_LINUX_NETWORK.values()) | frozenset(
    _BSD_NETWORK.values()
)
"""The names ``filesystem_type`` gives to network (or user-space) file systems: a SQLite
ledger on one of them is refused unless allowed."""

_TRUE = {"1", "true", "yes", "on"}


@functools.cache
def _libc() -> ctypes.CDLL:
    import ctypes

    # The process's own symbols, libc's among them (find_library would run ldconfig).
    return ctypes.CDLL(None, use_errno=True)


def _statfs(folder: str) -> int | str | None:
    """The raw answer of ``statfs(folder)``: Linux's ``f_type`` (an int), macOS's or a BSD's
    ``f_fstypename`` (a str), None where this platform is not known. Raises OSError."""
    import ctypes

    libc = _libc()
    buffer = ctypes.create_string_buffer(4096)  # larger than any platform's struct statfs
    if sys.platform.startswith("linux"):
        call = libc.statfs
    elif sys.platform == "darwin":
        # x86-64's statfs keeps the 32-bit-inode layout; its $INODE64 variant has the one
        # read below (arm64 has only that one, under the plain name).
        call = getattr(libc, "statfs$INODE64", None) or libc.statfs
    else:
        return None
    call.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    call.restype = ctypes.c_int
    if call(os.fsencode(folder), buffer) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), folder)
    if sys.platform == "darwin":
        # struct statfs (64-bit inodes): f_fstypename, char[16], at byte 72.
        return buffer.raw[72:88].split(b"\0", 1)[0].decode("ascii", "replace")
    # f_type is the struct's first field, a C long (__fsword_t) on every Linux port we run on.
    return ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF


def _existing_folder(path: str) -> str:
    """The folder holding ``path``, or its nearest existing parent (the ledger file, even
    its folder, may not exist yet)."""
    folder = os.path.dirname(os.path.realpath(path))
    while not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def filesystem_type(path: str) -> str | None:
    """The name of the network file system holding ``path`` (one of
    ``NETWORK_FILESYSTEMS``, such as ``"nfs"``); None for a local file system, or when it
    cannot be told (``statfs`` failed, an unknown platform)."""
    try:
        raw = _statfs(_existing_folder(path))
    except (OSError, AttributeError, ValueError):  # AttributeError: a libc without statfs
        return None
    if isinstance(raw, int):
        return _LINUX_NETWORK.get(raw)
    if isinstance(raw, str):
        return _BSD_NETWORK.get(raw.lower())
    return None


def network_filesystem_allowed() -> bool:
    """Whether ``$LMMS_EVAL_LEDGER_ALLOW_NETWORK_FS`` allows a ledger on a network file
    system (1, true, yes or on)."""
    return os.environ.get(ALLOW_NETWORK_FS_ENV, "").strip().lower() in _TRUE


def check_local_filesystem(path: str, *, allow_network_filesystem: bool = False) -> None:
    """Raise NetworkFilesystemError when the SQLite ledger ``path`` would be on a network
    file system, unless ``allow_network_filesystem`` (or the environment variable
    ``LMMS_EVAL_LEDGER_ALLOW_NETWORK_FS=1``) allows it."""
    if allow_network_filesystem or network_filesystem_allowed():
        return
    kind = filesystem_type(path)
    if kind is None or kind not in NETWORK_FILESYSTEMS:
        return
    raise NetworkFilesystemError(
        f"The run ledger {path!r} is on a network file system ({kind}). SQLite's WAL "
        "journal needs memory shared by the processes of one host, and file locking on "
        "network file systems is unreliable: writes can be lost or the ledger corrupted. "
        "Put the ledger on a local disk, or, for a run shared between machines, use the "
        'PostgreSQL ledger: EvalRun(client, "postgresql://user@host/db?schema=NAME"). '
        "To take that risk (say, one process on one host at a time), allow it with "
        f"allow_network_filesystem=True (on the command line: {ALLOW_NETWORK_FS_ENV}=1).",
        path=path,
        filesystem=kind,
    )
