"""A SQLite ledger is refused on a network file system (issue 26), unless allowed.

The file system's answer is faked at its one system call (``filesystems._statfs``); the
real call is used on this machine's own local folders.
"""

from __future__ import annotations

import copy
import errno
import os
import pickle
from pathlib import Path

import pytest

import lmms_eval_client
from lmms_eval_client import LedgerError, NetworkFilesystemError
from lmms_eval_client._runs import filesystems
from lmms_eval_client._runs.filesystems import (
    ALLOW_NETWORK_FS_ENV,
    NETWORK_FILESYSTEMS,
    check_local_filesystem,
    filesystem_type,
)
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.ledger_open import check_place

# Linux's f_type of each, as statfs answers it.
NETWORK = {
    "nfs": 0x6969,
    "cifs": 0xFF534D42,
    "lustre": 0x0BD00BD0,
    "gpfs": 0x47504653,
    "fuse": 0x65735546,
}
EXT4 = 0xEF53


@pytest.fixture(autouse=True)
def _no_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_NETWORK_FS_ENV, raising=False)  # a developer's own setting


def fake_statfs(monkeypatch: pytest.MonkeyPatch, answer: int | str | Exception) -> list[str]:
    """Make statfs answer ``answer`` (or raise it); returns the folders it was asked about."""
    asked: list[str] = []

    def statfs(folder: str) -> int | str | None:
        asked.append(folder)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(filesystems, "_statfs", statfs)
    return asked


@pytest.mark.parametrize("name", sorted(NETWORK))
def test_a_ledger_on_a_network_filesystem_is_refused(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_statfs(monkeypatch, NETWORK[name])
    path = str(tmp_path / "run.sqlite")
    with pytest.raises(NetworkFilesystemError) as info:
        check_place(path)
    error = info.value
    assert isinstance(error, LedgerError)
    assert error.filesystem == name and error.path == path
    message = str(error)
    assert f"({name})" in message and repr(path) in message
    assert "WAL" in message and "lost" in message and "corrupted" in message
    assert 'EvalRun(client, "postgresql://user@host/db?schema=NAME")' in message
    assert "allow_network_filesystem=True" in message and f"{ALLOW_NETWORK_FS_ENV}=1" in message
    assert not (tmp_path / "run.sqlite").exists()  # refused before anything is written


def test_macos_names_are_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_statfs(monkeypatch, "smbfs")
    assert filesystem_type(str(tmp_path / "run.sqlite")) == "smbfs"
    fake_statfs(monkeypatch, "apfs")
    assert filesystem_type(str(tmp_path / "run.sqlite")) is None


def test_the_opt_out_allows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_statfs(monkeypatch, NETWORK["nfs"])
    path = str(tmp_path / "run.sqlite")
    check_local_filesystem(path, allow_network_filesystem=True)
    check_place(path, allow_network_filesystem=True)


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_the_environment_variable_allows_it(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_statfs(monkeypatch, NETWORK["nfs"])
    monkeypatch.setenv(ALLOW_NETWORK_FS_ENV, value)
    check_place(str(tmp_path / "run.sqlite"))


def test_the_environment_variable_set_to_0_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_statfs(monkeypatch, NETWORK["nfs"])
    monkeypatch.setenv(ALLOW_NETWORK_FS_ENV, "0")
    with pytest.raises(NetworkFilesystemError):
        check_place(str(tmp_path / "run.sqlite"))


def test_reading_a_ledger_is_allowed_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "run.sqlite"
    Ledger(path).close()
    asked = fake_statfs(monkeypatch, NETWORK["nfs"])
    check_place(str(path), read_only=True)
    Ledger(path, read_only=True).close()
    assert asked == []  # not even asked


def test_the_nearest_existing_folder_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = fake_statfs(monkeypatch, EXT4)
    assert filesystem_type(str(tmp_path / "not" / "yet" / "run.sqlite")) is None
    assert asked == [os.path.realpath(tmp_path)]


def test_a_failing_statfs_does_not_stop_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_statfs(monkeypatch, OSError(errno.ENOENT, "No such file or directory"))
    assert filesystem_type("Z:\\nowhere\\run.sqlite") is None
    check_local_filesystem(str(tmp_path / "run.sqlite"))
    fake_statfs(monkeypatch, OSError(errno.EIO, "Input/output error"))
    Ledger(tmp_path / "run.sqlite").close()


def test_the_real_statfs_of_a_drive_that_does_not_exist() -> None:
    assert filesystem_type("/nonexistent-drive-of-lmms/run.sqlite") is None
    with pytest.raises(OSError):
        filesystems._statfs("/nonexistent-drive-of-lmms")


def test_a_local_folder_is_accepted_by_the_real_statfs(tmp_path: Path) -> None:
    assert isinstance(filesystems._statfs(str(tmp_path)), int)  # the call itself works here
    assert filesystem_type(str(tmp_path / "run.sqlite")) is None
    check_place(str(tmp_path / "run.sqlite"))


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm on this system")
def test_dev_shm_is_accepted_by_the_real_statfs() -> None:
    assert filesystems._statfs("/dev/shm") == 0x01021994  # TMPFS_MAGIC
    check_local_filesystem("/dev/shm/run.sqlite")


def test_a_ledger_still_opens_on_a_local_folder(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "run.sqlite")
    ledger.close()
    assert (tmp_path / "run.sqlite").stat().st_size > 0


def test_the_error_survives_pickle_and_copy() -> None:
    error = NetworkFilesystemError("on nfs", path="/mnt/run.sqlite", filesystem="nfs")
    for clone in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
        assert type(clone) is NetworkFilesystemError and str(clone) == "on nfs"
        assert clone.__dict__ == error.__dict__


def test_the_names_and_the_public_api() -> None:
    assert set(NETWORK) <= NETWORK_FILESYSTEMS
    assert {"smb", "smb2", "ceph", "afs", "9p", "coda", "ncp", "nfs"} <= NETWORK_FILESYSTEMS
    assert lmms_eval_client.NetworkFilesystemError is NetworkFilesystemError
    assert "NetworkFilesystemError" in lmms_eval_client.__all__
