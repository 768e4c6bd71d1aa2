"""Group commit for C-STORE: the instances of an association stored in batches, each answered once it is durable.

Why: one transaction per instance (its file and folder fsynced, its rows committed, its audit row) held a
C-STORE association near 22-36 instances/s; a modality sends a CT's hundreds of slices on one association,
one after the other, each waiting for its answer, so there are never several instances in flight to share
a commit (as chat lines share one, live/services/chat_batch.py).

How: each instance is read (the safe parse; a bad one is refused at once, 0xC000), appended to the
association's journal (the first of each series is also stored at once, so that a series the sender may not
add to is refused to it, not found out later) under MEDIA_ROOT/dicom-spool/ and the journal fdatasync'ed: then
it is durable and answered with success. A later instance of an accepted series is first looked up by its SOP
Instance UID (one indexed query): one stored already in a study out of the sender's reach is refused in its
answer, as its batch would refuse it; one waiting in the journal already is answered "stored" (its batch
stores it once). Every BATCH_MAX instances, FLUSH_AFTER_S after the first unstored one, and when the
association ends (released, aborted or its connection lost), the batch is stored as STOW-RS stores a request
(dicom_store.store_parsed_dicom: files, one transaction, one audit row per study) and the journal is emptied.
A full batch (BATCH_MAX) is stored on the association's own storing thread while its next instances are read
and answered, into a new journal: its own journal goes once it is stored (one batch stores at a time; a next
full batch, a series' first instance, the timer and the association's end wait for it). A batch whose store
fails is put back in front of the pending ones, its journal kept until a store of it succeeds.
A journal left by a process that died is stored when the receiver starts (`spool_recover`): an answered
instance is never lost, and storing one twice is harmless (SOP Instance UID is the key).
"""
import logging
import os
import struct
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from django.db import connections

from directory.models import Organisation

from .dicom_store import dicom_parse, ingest_dicom_batch, store_parsed_dicom, stored_instance_refusal
from .sources import Source, refusal_audit
from .storage import media_path

log = logging.getLogger(__name__)

BATCH_MAX = 64  # instances per transaction: a 300-slice CT in 5 commits, a batch's memory a few tens of MB
FLUSH_AFTER_S = 1.0  # an association that pauses still has its instances indexed (and listed) within a second
SPOOL = "dicom-spool"
_RECORD = struct.Struct("<Q")  # each journal record: the instance's length, then its bytes


class AssociationBatch:
    """The instances of one association not yet stored; one per association, used from its thread and the timer."""

    def __init__(self, organisation: Organisation):
        self.organisation = organisation
        self.source = Source(by=None, organisation=organisation, interface="dicom")
        self.lock = threading.Lock()
        self.pending: list = []
        self.pending_uids: set[str] = set()  # the SOP Instance UIDs in the journal, not yet stored
        self.accepted: set[tuple[str, str]] = set()  # (study, series) UIDs this association may add to
        self.first_at = 0.0
        self.timer: threading.Timer | None = None
        # a full batch stored on the storing thread while the association goes on: what it holds, its journals
        self.storing: Future | None = None
        self.storing_batch: list = []
        self.storing_uids: set[str] = set()
        self.storing_journals: list[Path] = []
        self.kept_journals: list[Path] = []  # of batches whose store failed, put back in `pending`
        self.storer: ThreadPoolExecutor | None = None
        self.journal = -1
        self._new_journal()

    def _new_journal(self) -> None:
        self.journal_path = media_path(f"{SPOOL}/{self.organisation.pk}-{uuid.uuid4().hex}.journal")
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        self.journal = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        _fsync_dir(self.journal_path.parent)  # the journal's own name survives a crash

    def add(self, data: bytes) -> None:
        """Read one instance (FormatError if refused) and make it durable in the journal; it is stored later,
        but for the first of each series, stored now (the DomainError storing it meets, if refused)."""
        parsed = dicom_parse(data)
        uid = parsed.index.sop_instance_uid
        series = (parsed.index.study_instance_uid, parsed.index.series_instance_uid)
        record = _RECORD.pack(len(data)) + data
        with self.lock:
            if uid in self.pending_uids or uid in self.storing_uids:
                return  # durable in the journal already: its batch stores it once, and that answers "stored"
            if series in self.accepted:
                self._refuse_if_stored_out_of_reach(uid)
            size = os.fstat(self.journal).st_size
            written = os.write(self.journal, record)
            if written != len(record):  # a full disk: take the cut record back, answer "out of resources"
                os.ftruncate(self.journal, size)
                raise OSError(f"the C-STORE journal took {written} of {len(record)} bytes")
            os.fdatasync(self.journal)
            self.pending.append(parsed)
            self.pending_uids.add(uid)
            if series not in self.accepted:
                # a series' first instance is stored before it is answered: a study of another organisation, a
                # series filed under another study, is refused to the sender (0xC000), not found out later
                outcome = self._store()[-1]
                if isinstance(outcome, Exception):
                    raise outcome
                self.accepted.add(series)
                return
            if len(self.pending) == 1:
                self.first_at = time.monotonic()
                self._arm_timer()
            if len(self.pending) >= BATCH_MAX:
                self._store_meanwhile()

    def _refuse_if_stored_out_of_reach(self, uid: str) -> None:
        """Raise (and audit) the refusal its batch would meet: the answer must not say "stored" first."""
        refused = stored_instance_refusal(sop_instance_uid=uid, source=self.source)
        if refused is not None:
            refusal_audit(source=self.source, error=refused)
            raise refused

    def flush(self) -> None:
        with self.lock:
            self._store()

    def close(self) -> None:
        """The association ended: store what is left, then drop the empty journal (kept, and stored by
        `spool_recover` at the next start, if the store failed)."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
            try:
                self._store()
            finally:
                os.close(self.journal)
                self.journal = -1
                if not self.pending:
                    self.journal_path.unlink(missing_ok=True)
                if self.storer is not None:  # its thread's database connection goes with it
                    self.storer.submit(connections.close_all).result()
                    self.storer.shutdown()
                    self.storer = None

    def _arm_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = threading.Timer(FLUSH_AFTER_S, self._on_timer)
        self.timer.daemon = True
        self.timer.start()

    def _on_timer(self) -> None:
        try:
            self.flush()
        except Exception:  # noqa: BLE001 - the batch stays pending (and journalled) for the next store
            log.exception("C-STORE from %s: a batch could not be stored; it is tried again", self.organisation)
            self._arm_timer()
        finally:
            connections.close_all()  # a timer thread of its own each time: leave no connection behind

    def _store(self) -> list:
        """Store the pending batch in one transaction (after the one storing meanwhile, if any), then empty the
        journal; its results. Call holding the lock."""
        self._wait_storing()
        if not self.pending or self.journal < 0:
            return []
        # pending is emptied only once stored: a store that fails (a database restart) leaves the batch,
        # and its journal, for the next store, and the journal is never emptied under it
        results = store_parsed_dicom(parsed=list(self.pending), source=self.source)
        self.pending = []
        self.pending_uids.clear()
        _told(self.organisation, results)
        os.ftruncate(self.journal, 0)
        os.fdatasync(self.journal)
        for path in self.kept_journals:
            path.unlink(missing_ok=True)
        self.kept_journals = []
        return results

    def _store_meanwhile(self) -> None:
        """Hand the pending (full) batch and its journal to the association's storing thread, and go on with
        a new journal. Call holding the lock."""
        self._wait_storing()
        if not self.pending:
            return
        journal = self.journal
        self.storing_batch, self.storing_uids = self.pending, self.pending_uids
        self.storing_journals = [*self.kept_journals, self.journal_path]
        self.pending, self.pending_uids, self.kept_journals = [], set(), []
        self._new_journal()
        os.close(journal)  # its records are durable: each was fdatasync'ed before its answer
        if self.timer is not None:
            self.timer.cancel()
        if self.storer is None:
            self.storer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cstore-batch")
        self.storing = self.storer.submit(_store_on_storer, list(self.storing_batch), self.source)

    def _wait_storing(self) -> None:
        """Wait for the batch storing meanwhile, if any: its journals go once it is stored; if its store
        failed, it is put back in front of the pending batch (for the next store), its journals kept."""
        if self.storing is None:
            return
        storing, self.storing = self.storing, None
        try:
            results = storing.result()
        except Exception:  # noqa: BLE001 - answered and journalled: stored by the next store
            log.exception("C-STORE from %s: a batch could not be stored; it is tried again", self.organisation)
            self.pending = self.storing_batch + self.pending
            self.pending_uids |= self.storing_uids
            self.kept_journals += self.storing_journals
            if self.timer is None or not self.timer.is_alive():
                self._arm_timer()
        else:
            _told(self.organisation, results)
            for path in self.storing_journals:
                path.unlink(missing_ok=True)
        finally:
            self.storing_batch, self.storing_uids, self.storing_journals = [], set(), []


def _store_on_storer(parsed: list, source: Source) -> list:
    try:
        return store_parsed_dicom(parsed=parsed, source=source)
    except Exception:
        connections.close_all()  # the storing thread's connection, perhaps broken (a database restart)
        raise


def _told(organisation: Organisation, results: list) -> None:
    refused = [r for r in results if isinstance(r, Exception)]
    for error in refused:  # answered already: what is refused now is told in the log and the audit
        log.warning("C-STORE from %s: an instance was refused when stored: %s", organisation, error)
    log.info("C-STORE from %s: %d instances stored in one batch (%d refused)", organisation,
             len(results) - len(refused), len(refused))


def spool_recover() -> int:
    """Store the instances of journals left by a receiver that stopped before storing them; how many were read."""
    folder = media_path(SPOOL)
    if not folder.is_dir():
        return 0
    count = 0
    for path in sorted(folder.glob("*.journal")):
        organisation = Organisation.objects.filter(pk=int(path.name.split("-", 1)[0])).first()
        datas = list(_journal_records(path))
        if organisation is not None and datas:
            ingest_dicom_batch(datas=datas, source=Source(by=None, organisation=organisation, interface="dicom"))
            count += len(datas)
        path.unlink()
    return count


def _journal_records(path: Path):
    data = path.read_bytes()
    offset = 0
    while offset + _RECORD.size <= len(data):
        (length,) = _RECORD.unpack_from(data, offset)
        offset += _RECORD.size
        if offset + length > len(data):
            break  # a record cut by the crash was never answered: its sender sends it again
        yield data[offset:offset + length]
        offset += length


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
