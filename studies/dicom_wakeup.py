"""pynetdicom's two reactor loops of an association, made to wait for what they wait for instead of polling.

Why: pynetdicom (3.0) runs each association on two threads that poll. Its DUL thread (the socket) sleeps
`_run_loop_delay` (1 ms) whenever a loop found nothing to do, and its association thread (the services)
sleeps 1 ms on every loop (`Association._run_reactor`). A C-STORE sender waits for each answer before it
sends the next instance, so an instance waits for up to three such sleeps (its PDU read, its message
served, its answer sent): with DCMTK's storescu, a receiver that stores nothing answered 110-230 instances/s
where DCMTK's own storescp answers 450-650/s. Sleeping less polls more, which on a busy machine costs more
than it saves (0.1 ms sleeps halved that figure at load 5).

How: per association, from its EVT_CONN_OPEN (before either thread starts), the queues those loops poll
wake them when something is put on them: the DUL thread waits in select() on its socket and on a wake-up
pipe written by its provider queue (the answers to send), the association thread on an event set by the
DIMSE message queue and the DUL's user queue (a release or abort request). Each still wakes at least every
TICK_S to check its timers (ARTIM, idle) and whether it was told to stop, as pynetdicom's loops do. The loops'
bodies are pynetdicom's own, called unchanged: only their sleeps are replaced. If the pynetdicom in use
does not have the attributes this relies on, the association keeps pynetdicom's loops (and a warning says so).
"""
import logging
import queue
import select
import socket
import threading
import time
import types

log = logging.getLogger(__name__)

TICK_S = 0.05  # the longest wait between two checks of timers and of a stop request (pynetdicom's: 1 ms)


class _WakingQueue(queue.Queue):
    """A queue.Queue that calls `wake` after each put."""

    def __init__(self, wake, items=()):
        super().__init__()
        self._wake = wake
        for item in items:
            self.queue.append(item)

    def _put(self, item) -> None:
        super()._put(item)
        self._wake()


def install(assoc) -> bool:
    """Make this association's reactors wait on their queues and socket; call before the association starts.
    False (pynetdicom's polling kept) if this pynetdicom lacks what this relies on."""
    dul, dimse = getattr(assoc, "dul", None), getattr(assoc, "dimse", None)
    needed = [(assoc, "_run_reactor"), (assoc, "_kill"), (dul, "to_provider_queue"), (dul, "to_user_queue"),
              (dul, "event_queue"), (dul, "state_machine"), (dul, "_is_transport_event"),
              (dul, "_process_recv_primitive"), (dul, "artim_timer"), (dul, "_idle_timer"),
              (dul, "_kill_thread"), (dimse, "msg_queue"), (assoc, "_reactor_checkpoint")]
    if not getattr(assoc, "is_acceptor", False):
        return False
    if any(not hasattr(owner, name) for owner, name in needed) or assoc.is_alive() or dul.is_alive():
        log.warning("pynetdicom's association internals differ from those expected: its polling loops are kept")
        return False
    waiting, waker = socket.socketpair()  # socket objects: once closed, a late wake-up cannot hit a reused fd
    waiting.setblocking(False)
    waker.setblocking(False)
    served = threading.Event()

    def wake_dul() -> None:
        try:
            waker.send(b"\0")
        except OSError:  # full (it is awake anyway) or closed (it has stopped)
            pass

    dul.to_provider_queue = _WakingQueue(wake_dul, dul.to_provider_queue.queue)
    dul.to_user_queue = _WakingQueue(served.set, dul.to_user_queue.queue)
    dimse.msg_queue = _WakingQueue(served.set, dimse.msg_queue.queue)
    kill_dul = dul.kill_dul

    def kill_and_wake() -> None:
        kill_dul()
        wake_dul()

    dul.kill_dul = kill_and_wake
    dul.run = types.MethodType(lambda self: _dul_reactor(self, waiting, waker), dul)
    assoc._run_reactor = types.MethodType(lambda self: _association_reactor(self, served), assoc)
    return True


def _dul_reactor(dul, waiting: socket.socket, waker: socket.socket) -> None:
    """pynetdicom's DULServiceProvider.run_reactor, waiting in select() where it slept."""
    try:
        dul._idle_timer.start()
        idle = False
        while True:
            if not dul.assoc._dul_ready.is_set():
                dul.assoc._dul_ready.set()
                idle = True
            if idle:
                _wait_readable(dul, waiting)
            if dul._kill_thread:
                break
            if dul.artim_timer.expired:
                dul.event_queue.put("Evt18")
            try:
                if dul._process_recv_primitive():
                    pass
                elif dul._is_transport_event():
                    dul._idle_timer.restart()
            except Exception:  # as pynetdicom's loop: abort the association
                _abort(dul)
                return
            try:
                event = dul.event_queue.get(block=False)
            except queue.Empty:
                idle = True
                continue
            dul.state_machine.do_action(event)
            idle = False
    finally:
        waiting.close()
        waker.close()


def _wait_readable(dul, waiting: socket.socket) -> None:
    """Until the peer sent something, an answer is to be sent, or TICK_S passed; then empty the wake-up pipe
    (what woke it is looked at after this, so a wake-up written meanwhile is not lost). Before the association
    is established and once it is ending (Sta1, Sta13: stop_dul sets its stop flag with no wake-up), it polls
    as pynetdicom does."""
    sock = getattr(dul.socket, "socket", None)
    if dul.state_machine.current_state in ("Sta1", "Sta13") or sock is None or sock.fileno() < 0:
        time.sleep(dul._run_loop_delay)
        return
    if not dul.to_provider_queue.queue:  # else something to send already: look at once
        try:
            select.select([waiting, sock], [], [], TICK_S)
        except (OSError, ValueError):  # the socket closed meanwhile: its loop finds out
            time.sleep(dul._run_loop_delay)
    try:
        while waiting.recv(512):
            pass
    except OSError:  # BlockingIOError: emptied
        pass


def _abort(dul) -> None:
    from pynetdicom.pdu import A_ABORT_RQ

    log.exception("DICOM association: error in its DUL loop, aborting the association")
    pdu = A_ABORT_RQ()
    pdu.source, pdu.reason_diagnostic = 0x02, 0x00
    try:
        dul.socket.send(pdu.encode())
    finally:
        dul.assoc.is_aborted = True
        dul.assoc.is_established = False
        dul.assoc._kill = True
        dul._kill_thread = True


def _association_reactor(assoc, served: threading.Event) -> None:
    """pynetdicom's Association._run_reactor (acceptor), waiting for a message or a peer's request where it
    slept 1 ms each loop."""
    from pynetdicom import evt

    assoc._is_paused = False
    busy = False
    while not assoc._kill:
        if not busy:
            served.wait(TICK_S)
        served.clear()  # cleared before looking: a message put from now on sets it again
        busy = False
        assoc._is_paused = True
        assoc._reactor_checkpoint.wait()
        assoc._is_paused = False
        context_id, msg = assoc.dimse.get_msg(block=False)
        if msg:
            assoc._serve_request(msg, context_id)
            busy = True
        if assoc.is_established and assoc.acse.is_release_requested():
            assoc.acse.send_release(is_response=True)
            assoc.is_released = True
            assoc.is_established = False
            evt.trigger(assoc, evt.EVT_RELEASED, {})
            assoc.kill()
            return
        if assoc.acse.is_aborted():
            assoc.dul.receive_pdu(wait=False)
            assoc.is_aborted = True
            assoc.is_established = False
            evt.trigger(assoc, evt.EVT_ABORTED, {})
            assoc.kill()
            return
        if not assoc.dul.is_alive():
            assoc.kill()
            return
        if assoc.dul.idle_timer_expired():
            log.error("DICOM association: network timeout reached")
            if assoc.network_timeout_response == "A-RELEASE":
                assoc._is_paused = True
                assoc._reactor_checkpoint.wait()
                assoc.release()
                assoc._is_paused = False
            else:
                assoc.abort()
            assoc.kill()
            return
