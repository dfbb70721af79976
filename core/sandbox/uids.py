"""The unprivileged uids sandbox runs get when the server runs as root, one per run on the host.

The kernel counts ``RLIMIT_NPROC`` per uid across the whole host, so a uid shared by two runs at
once (in two API workers, the queue worker and a bot, or two servers) would let one run's forks
use up the other's process limit: the other then fails with ``EAGAIN`` before or during its tests.
A run therefore claims its uid with an exclusive ``flock`` on that uid's file in a root-only
directory; the lock goes when the run ends or its process dies, so a killed server never keeps one.
Where the directory cannot be used safely the claims fall back to this process's own uids.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import stat
from pathlib import Path

log = logging.getLogger(__name__)

UID_BASE = 200_000
UID_COUNT = 4096  # uids UID_BASE … UID_BASE + UID_COUNT - 1
CLAIMS_DIR = Path("/run/curiouscore-sandbox-uids")


class UidClaims:
    """Hands out uids no other run on this host holds (across processes sharing ``directory``)."""

    def __init__(self, directory: Path | None = CLAIMS_DIR, *, count: int = UID_COUNT) -> None:
        self._count = count
        self._directory = _usable(directory) if directory is not None else None
        self._held: dict[int, int] = {}  # uid -> the descriptor holding its lock
        self._local_free = list(range(UID_BASE + count - 1, UID_BASE - 1, -1))

    @property
    def shared(self) -> bool:
        """Whether claims are seen by every process using the same directory."""
        return self._directory is not None

    def claim(self) -> int:
        """A uid no other run holds now; :class:`NoFreeUid` when all are held."""
        if self._directory is None:
            if not self._local_free:
                raise NoFreeUid(f"all {self._count} sandbox uids are in use")
            return self._local_free.pop()
        # A random start: servers that do not share the directory (containers) rarely collide.
        start = random.randrange(self._count)  # noqa: S311 - spreading, not secrecy
        for offset in range(self._count):
            uid = UID_BASE + (start + offset) % self._count
            if uid in self._held:
                continue
            fd = os.open(
                self._directory / str(uid),
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._held[uid] = fd
            return uid
        raise NoFreeUid(f"all {self._count} sandbox uids are in use")

    def release(self, uid: int) -> None:
        """Give ``uid`` back (closing its descriptor drops the lock)."""
        fd = self._held.pop(uid, None)
        if fd is not None:
            os.close(fd)
        elif self._directory is None:
            self._local_free.append(uid)


class NoFreeUid(Exception):
    """Every sandbox uid is held by a run on this host."""


def _usable(directory: Path) -> Path | None:
    """``directory``, made if missing, when only root can change it; else None (with a warning)."""
    with contextlib.suppress(FileExistsError, PermissionError, FileNotFoundError):
        directory.mkdir(mode=0o700)
    try:
        info = os.lstat(directory)
    except OSError as error:
        log.warning("sandbox uid claims stay in this process: %s", error)
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        log.warning(
            "sandbox uid claims stay in this process: %s is not a directory only root can change",
            directory,
        )
        return None
    return directory
