"""Where study files live: generated names under MEDIA_ROOT, written atomically, removed on rollback.

A file is written to a temporary name next to its target and renamed into place, so a
reader never sees half a file. Names are random: the client's file name is never used.
"""
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings


def media_path(name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / name


def partial_path(upload_id) -> Path:
    """The growing file of a tus upload (local disk: PATCHes append to it)."""
    folder = Path(settings.MEDIA_ROOT) / "tus"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{upload_id}.part"


def new_name(kind: str, extension: str) -> str:
    token = uuid.uuid4().hex
    return f"studies/{kind}/{token[:2]}/{token}.{extension}"


def write_atomically(name: str, data: bytes) -> None:
    target = media_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)


def remove_quietly(name: str | Path) -> None:
    try:
        (name if isinstance(name, Path) else media_path(name)).unlink()
    except FileNotFoundError:
        pass


class FileBatch:
    """Files written while a transaction is open; `undo()` removes them if it rolls back."""

    def __init__(self):
        self.names: list[str] = []

    def write(self, name: str, data: bytes) -> str:
        write_atomically(name, data)
        self.names.append(name)
        return name

    def undo(self) -> None:
        for name in self.names:
            remove_quietly(name)


@contextmanager
def files_or_nothing():
    """`with files_or_nothing() as files:` around a transaction.atomic block: on any error the files go too."""
    batch = FileBatch()
    try:
        yield batch
    except BaseException:
        batch.undo()
        raise
