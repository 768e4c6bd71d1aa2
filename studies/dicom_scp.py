"""A DICOM C-STORE receiver (pynetdicom) feeding the same ingest as uploads and STOW-RS.

The calling AE title picks the sending organisation (Organisation.dicom_ae_title), and the
association's peer address must be one of that organisation's (Organisation.dicom_peers): a
title alone is guessable. Otherwise each instance is refused with status 0x0124 (not authorised). TCP_NODELAY is
set on every association's socket: with Nagle's algorithm on, pynetdicom's small PDUs
wait for delayed ACKs and a C-STORE loop stalls near 10 instances/s.
"""
import logging
import socket

from django.db import close_old_connections
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from directory.models import Organisation

from .errors import DomainError
from .formats.errors import FormatError
from .services.dicom_store import ingest_dicom_bytes
from .services.sources import Source

log = logging.getLogger(__name__)
SUCCESS, NOT_AUTHORISED, CANNOT_UNDERSTAND, OUT_OF_RESOURCES = 0x0000, 0x0124, 0xC000, 0xA700


def set_nodelay(event) -> None:
    """EVT_CONN_OPEN handler, for the receiver and for senders alike."""
    sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def organisation_for(ae_title: str, address: str) -> Organisation | None:
    """The organisation whose AE title this is, if the association comes from one of its addresses."""
    title = ae_title.strip()
    organisation = Organisation.objects.filter(dicom_ae_title=title).first() if title else None
    return organisation if organisation is not None and organisation.dicom_peer_allowed(address) else None


def handle_store(event) -> int:
    calling, address = event.assoc.requestor.ae_title, event.assoc.requestor.address
    try:
        organisation = organisation_for(calling, address)
        if organisation is None:
            log.warning("C-STORE from AE title %r at %s refused: unknown title, or not one of its addresses",
                        calling, address)
            return NOT_AUTHORISED
        stored = ingest_dicom_bytes(data=event.encoded_dataset(include_meta=True),
                                    source=Source(by=None, organisation=organisation, interface="dicom"))
        log.info("C-STORE %s from %s: %s", stored.instance.sop_instance_uid, calling,
                 "stored" if stored.created else "already stored")
        return SUCCESS
    except (FormatError, DomainError) as exc:
        log.warning("C-STORE from %s refused: %s", calling, exc)
        return CANNOT_UNDERSTAND
    except MemoryError:
        return OUT_OF_RESOURCES
    finally:
        close_old_connections()


def build_ae(ae_title: str = "TELECLINIC") -> AE:
    ae = AE(ae_title=ae_title)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    ae.maximum_pdu_size = 0  # no limit: fewer, larger PDUs
    return ae


HANDLERS = [(evt.EVT_C_STORE, handle_store), (evt.EVT_CONN_OPEN, set_nodelay)]


def start(*, host: str, port: int, ae_title: str = "TELECLINIC", block: bool = True):
    return build_ae(ae_title).start_server((host, port), block=block, evt_handlers=HANDLERS)
