"""A DICOM C-STORE receiver (pynetdicom) feeding the same ingest as uploads and STOW-RS.

The calling AE title picks the sending organisation (Organisation.dicom_ae_title), and the
association's peer address must be one of that organisation's (Organisation.dicom_peers): a
title alone is guessable. Otherwise each instance is refused with status 0x0124 (not authorised). TCP_NODELAY is
set on every association's socket: with Nagle's algorithm on, pynetdicom's small PDUs
wait for delayed ACKs and a C-STORE loop stalls near 10 instances/s. Each association's two pynetdicom threads
wait on their socket and queues instead of polling them every millisecond (studies/dicom_wakeup.py), and go
without pynetdicom's standard logging handlers, which format a log of every PDU and message (and copy each
instance's bytes to say it has some) whether the log is kept or not.

An association's instances are stored in batches (group commit, studies/services/cstore.py): each is
answered once it is read and durable in the association's journal, and its rows commit with its batch.
"""
import copy
import logging
import socket

from django.db import close_old_connections, connection
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom._handlers import (standard_dimse_recv_handler, standard_dimse_sent_handler,
                                  standard_pdu_recv_handler, standard_pdu_sent_handler)
from pynetdicom.pdu_primitives import A_RELEASE
from pynetdicom.presentation import PresentationContext
from pynetdicom.sop_class import Verification

from directory.models import Organisation

from . import dicom_wakeup
from .errors import DomainError
from .formats.errors import FormatError
from .services.cstore import AssociationBatch, spool_recover

log = logging.getLogger(__name__)
SUCCESS, NOT_AUTHORISED, CANNOT_UNDERSTAND, OUT_OF_RESOURCES = 0x0000, 0x0124, 0xC000, 0xA700


def set_nodelay(event) -> None:
    """EVT_CONN_OPEN handler, for the receiver and for senders alike."""
    sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


_LOG_HANDLERS = [(evt.EVT_DIMSE_RECV, standard_dimse_recv_handler), (evt.EVT_DIMSE_SENT, standard_dimse_sent_handler),
                 (evt.EVT_PDU_RECV, standard_pdu_recv_handler), (evt.EVT_PDU_SENT, standard_pdu_sent_handler)]


def handle_open(event) -> None:
    """EVT_CONN_OPEN of the receiver, before the association's threads start."""
    set_nodelay(event)
    for event_type, handler in _LOG_HANDLERS:
        event.assoc.unbind(event_type, handler)
    dicom_wakeup.install(event.assoc)


def organisation_for(ae_title: str, address: str) -> Organisation | None:
    """The organisation whose AE title this is, if the association comes from one of its addresses."""
    title = ae_title.strip()
    organisation = Organisation.objects.filter(dicom_ae_title=title).first() if title else None
    return organisation if organisation is not None and organisation.dicom_peer_allowed(address) else None


def handle_store(event) -> int:
    calling, address = event.assoc.requestor.ae_title, event.assoc.requestor.address
    try:
        batch = _batch_of(event.assoc)
        if batch is None:
            log.warning("C-STORE from AE title %r at %s refused: unknown title, or not one of its addresses",
                        calling, address)
            return NOT_AUTHORISED
        batch.add(event.encoded_dataset(include_meta=True))
        return SUCCESS
    except (FormatError, DomainError) as exc:
        log.warning("C-STORE from %s refused: %s", calling, exc)
        return CANNOT_UNDERSTAND
    except MemoryError:
        return OUT_OF_RESOURCES
    except OSError:
        log.exception("C-STORE from %s: the journal could not be written", calling)
        return OUT_OF_RESOURCES
    finally:
        close_if_broken()


def close_if_broken() -> None:
    """After each instance the association's thread keeps its database connection, unless an error left it
    unusable (a database restart): a new connection per instance (close_old_connections, as CONN_MAX_AGE is 0)
    cost more than storing it, 72 instances/s against 156/s. handle_end closes it with the association."""
    if connection.connection is not None and connection.errors_occurred:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


def _batch_of(assoc) -> AssociationBatch | None:
    """The association's batch, made at its first instance once its sender is recognised (None: refused)."""
    if not hasattr(assoc, "teleclinic_batch"):
        organisation = organisation_for(assoc.requestor.ae_title, assoc.requestor.address)
        assoc.teleclinic_batch = AssociationBatch(organisation) if organisation is not None else None
    return assoc.teleclinic_batch


def handle_release_request(event) -> None:
    """EVT_ACSE_RECV: on the sender's A-RELEASE request, store the last batch before the release is answered,
    so that once its association is released, everything it sent is indexed (listed, routed)."""
    primitive = event.primitive
    if isinstance(primitive, A_RELEASE) and primitive.result is None:
        handle_end(event)


def handle_end(event) -> None:
    """EVT_RELEASED / EVT_ABORTED / EVT_CONN_CLOSE: store what the association left in its batch (once)."""
    batch = getattr(event.assoc, "teleclinic_batch", None)
    try:
        if batch is None:
            return  # none made (a refused sender), or stored already: the connection still goes
        event.assoc.teleclinic_batch = None
        try:
            batch.close()
        except Exception:  # its journal stays and is stored when the receiver starts again
            log.exception("C-STORE from %s: the association's last batch was not stored", batch.organisation)
    finally:
        close_old_connections()  # the connection the association's thread kept (close_if_broken)


class _SharedUidContext(PresentationContext):
    """A supported presentation context whose copy shares its (immutable) UIDs: pynetdicom deep-copies every
    supported context for each association, 170 storage classes x 45 transfer syntaxes, 0.1-0.3 s of CPU per
    association spent copying strings."""

    def __deepcopy__(self, memo) -> "_SharedUidContext":
        copied = copy.copy(self)
        copied._transfer_syntax = list(self._transfer_syntax)
        return copied


def _shared_uid_context(context: PresentationContext) -> _SharedUidContext:
    shared = copy.copy(context)
    shared.__class__ = _SharedUidContext
    shared._transfer_syntax = list(context._transfer_syntax)
    return shared


def build_ae(ae_title: str = "TELECLINIC") -> AE:
    ae = AE(ae_title=ae_title)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    ae.maximum_pdu_size = 0  # no limit: fewer, larger PDUs
    return ae


HANDLERS = [(evt.EVT_C_STORE, handle_store), (evt.EVT_CONN_OPEN, handle_open),
            (evt.EVT_ACSE_RECV, handle_release_request), (evt.EVT_RELEASED, handle_end),
            (evt.EVT_ABORTED, handle_end), (evt.EVT_CONN_CLOSE, handle_end)]


def start(*, host: str, port: int, ae_title: str = "TELECLINIC", block: bool = True):
    recovered = spool_recover()  # answered instances a stopped receiver had not stored yet
    if recovered:
        log.info("C-STORE: %d instances recovered from the journals of a previous run", recovered)
    ae = build_ae(ae_title)
    contexts = [_shared_uid_context(context) for context in ae.supported_contexts]
    return ae.start_server((host, port), block=block, evt_handlers=HANDLERS, contexts=contexts)
