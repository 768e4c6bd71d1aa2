"""Where study files live: generated names under MEDIA_ROOT, made durable before their rows commit.

A file is created under its final, random name (never the client's) and is complete and
durable (the file fsynced, then its folder) before any row that points to it commits, so
no reader ever finds half a file and a committed row never points to a missing one. A batch
of files is written at once and fsynced in parallel (a small thread pool: fsync releases
the GIL and the filesystem commits concurrent fsyncs together), which is what lets a STOW-RS
request of many instances pay for durability about once, not once per instance.
"""
import os
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

FSYNC_THREADS = 16  # concurrent fsyncs are grouped by the filesystem's journal; more threads stopped helping here
_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None


def media_path(name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / name


def partial_path(upload_id) -> Path:
    """The growing file of a tus upload (local disk: PATCHes append to it)."""
    folder = Path(settings.MEDIA_ROOT) / "tus"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{upload_id}.part"


def new_folder(kind: str) -> str:
    """A random one of the 256 folders of a kind; a batch writes all its files into one (one folder fsync)."""
    return f"studies/{kind}/{uuid.uuid4().hex[:2]}"


def new_name(kind: str, extension: str, folder: str | None = None) -> str:
    return f"{folder or new_folder(kind)}/{uuid.uuid4().hex}.{extension}"


def new_names(kind: str, extension: str, count: int) -> list[str]:
    """`count` random names in one folder (one folder fsync for all; one call for the randomness)."""
    folder, tokens = new_folder(kind), os.urandom(16 * count).hex()
    return [f"{folder}/{tokens[32 * i:32 * i + 32]}.{extension}" for i in range(count)]


def remove_quietly(name: str | Path) -> None:
    try:
        (name if isinstance(name, Path) else media_path(name)).unlink()
    except FileNotFoundError:
        pass


def _sync_pool() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():  # a forked Celery child needs its own threads
        _pool, _pool_pid = ThreadPoolExecutor(FSYNC_THREADS, thread_name_prefix="studies-fsync"), os.getpid()
    return _pool


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_and_close(fds: list[int]) -> None:
    try:
        for fd in fds:
            os.fsync(fd)
    finally:
        for fd in fds:
            os.close(fd)


class FileBatch:
    """Files written while a transaction is open; `undo()` removes them if it rolls back.

    `stage()` writes a file and starts its fsync in the background; `durable()` waits until every
    staged file and its folder entry are on disk. Call `durable()` before the rows pointing to the
    files commit (`write()` does both for one file).
    """

    SYNC_GROUP = 4  # files per background fsync task: fewer thread wake-ups, still many fsyncs in flight

    def __init__(self):
        self.names: list[str] = []
        self._pending: list[Future] = []
        self._unsynced: list[int] = []
        self._folders: set[Path] = set()

    def write(self, name: str, data: bytes) -> str:
        """One file, durable (file and folder fsynced) when this returns; no thread needed."""
        _fsync_and_close([self._create(name, data)])
        folders, self._folders = self._folders, set()
        for folder in sorted(folders):
            _fsync_path(folder)
        return name

    def stage(self, name: str, data: bytes) -> str:
        """Write a file now and start its fsync in the background; durable once durable() returns."""
        self._unsynced.append(self._create(name, data))
        if len(self._unsynced) >= self.SYNC_GROUP:
            self._start_syncs()
        return name

    def _create(self, name: str, data: bytes) -> int:
        target = media_path(name)
        self._make_folder(target.parent)
        self.names.append(name)  # listed before it exists: a half-written file is removed too
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except BaseException:
            os.close(fd)
            raise
        self._folders.add(target.parent)
        return fd

    def _start_syncs(self) -> None:
        fds, self._unsynced = self._unsynced, []
        if fds:
            self._pending.append(_sync_pool().submit(_fsync_and_close, fds))

    def durable(self) -> None:
        folders, self._folders = self._folders, set()
        if not self._pending:  # fewer files than a sync group (C-STORE: one): fsynced here, no threads
            fds, self._unsynced = self._unsynced, []
            _fsync_and_close(fds)
            for folder in sorted(folders):
                _fsync_path(folder)
            return
        self._start_syncs()
        pending = self._pending + [_sync_pool().submit(_fsync_path, folder) for folder in sorted(folders)]
        self._pending = []
        wait(pending)
        for future in pending:
            future.result()  # raises the first fsync error, if any

    def forget(self, name: str) -> None:
        """Remove a staged file that no row will point to (e.g. an instance found already stored)."""
        self.names.remove(name)
        remove_quietly(name)

    def undo(self) -> None:
        for fd in self._unsynced:
            os.close(fd)
        self._unsynced = []
        wait(self._pending)  # no fsync still holding a file we remove
        self._pending = []
        for name in self.names:
            remove_quietly(name)

    def _make_folder(self, folder: Path) -> None:
        if folder.is_dir():
            return
        missing = []
        while not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            path.mkdir(exist_ok=True)
            self._folders.add(path.parent)  # the new folder's own entry must be durable too


@contextmanager
def files_or_nothing():
    """`with files_or_nothing() as files:` around a transaction.atomic block: on any error the files go too."""
    batch = FileBatch()
    try:
        yield batch
    except BaseException:
        batch.undo()
        raise
