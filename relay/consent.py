"""Consent freshness (RFC 7675) that survives a slow link, for the relay's ICE connections.

aioice 0.13's ``Connection.query_consent`` sends one STUN binding request every ~5 s with
no retransmission and a 0.5 s timeout, and closes the connection after six misses in a
row. A link whose queueing delay exceeds half a second (a 300 kbit/s village link with a
full queue) misses every check, and ~30 s later the call dies ("Consent to send expired")
although the far end answers every check, only late.

``tolerate_slow_links(pc)`` replaces that loop, per connection, with what RFC 7675 asks:
- a consent request every 4-6 s (5 s randomised, section 5.1), each one retransmitted
  (RFC 5389's RTO, 0.5 s doubling, CONSENT_RETRANSMISSIONS times), so a request lost on a
  lossy link is sent again and a late answer is still accepted while its transaction
  lives (about 15 s);
- consent is lost only after CONSENT_TIMEOUT (30 s, section 5.1) without any
  authenticated response to any consent request; then the connection closes as before.
So a peer that went away (or withdrew consent) still loses the stream within ~30 s: the
purpose of RFC 7675 is kept; only a slow or lossy path no longer counts as a refusal.

Reaches into aioice's ``Connection`` (``_nominated``, ``build_request``,
``remote_password``, ``_query_consent_task``): aioice is pinned with aiortc, see
passthrough.py. tests/relay/test_consent.py drives it against a slow, lossy responder.
"""

import asyncio
import logging
import random
import time
from typing import Any, Optional

import aioice
from aioice import stun

logger = logging.getLogger(__name__)

PINNED_AIOICE_VERSION = "0.13.0"

CONSENT_INTERVAL = 5.0
CONSENT_TIMEOUT = 30.0
CONSENT_RETRANSMISSIONS = 4  # sent at 0, 0.5, 1.5, 3.5, 7.5 s; the transaction ends at 15.5 s


class ConsentState:
    """What the replacement loop knows, for tests and figures."""

    def __init__(self) -> None:
        self.last_response = time.monotonic()
        self.requests = 0
        self.responses = 0
        self.expired = False


async def _check(connection: Any, pair: Any, state: ConsentState, retransmissions: int) -> None:
    request = connection.build_request(pair, nominate=False)
    state.requests += 1
    try:
        await pair.protocol.request(
            request, pair.remote_addr,
            integrity_key=connection.remote_password.encode("utf8"),
            retransmissions=retransmissions)
    except (stun.TransactionError, ConnectionError, OSError):
        return
    state.last_response = time.monotonic()
    state.responses += 1


async def query_consent(connection: Any, state: ConsentState, *, interval: float = CONSENT_INTERVAL,
                        timeout: float = CONSENT_TIMEOUT,
                        retransmissions: int = CONSENT_RETRANSMISSIONS) -> None:
    """Stands in for ``aioice.Connection.query_consent`` (RFC 7675 with retransmissions)."""
    assert connection.remote_password is not None
    state.last_response = time.monotonic()
    checks: set[asyncio.Task] = set()
    try:
        while True:
            wait = interval * (0.8 + 0.4 * random.random())
            # wake up in time to notice the deadline even between checks
            deadline = state.last_response + timeout - time.monotonic()
            await asyncio.sleep(max(min(wait, deadline), 0.0))
            if time.monotonic() - state.last_response >= timeout:
                state.expired = True
                logger.info("relay: consent to send expired (no answer for %.0f s)", timeout)
                connection._query_consent_task = None
                await connection.close()
                return
            for pair in list(connection._nominated.values()):
                task = asyncio.ensure_future(_check(connection, pair, state, retransmissions))
                checks.add(task)
                task.add_done_callback(checks.discard)
    finally:
        for task in checks:
            task.cancel()


def tolerate_slow_connection(connection: Any, **options: Any) -> ConsentState:
    """Make one aioice Connection use ``query_consent`` above. Call before it connects."""
    state = ConsentState()

    async def replacement() -> None:
        await query_consent(connection, state, **options)

    connection.query_consent = replacement
    connection.relay_consent = state
    return state


def tolerate_slow_links(pc: Any, **options: Any) -> list[ConsentState]:
    """Apply ``tolerate_slow_connection`` to every ICE connection of an aiortc
    RTCPeerConnection (call after setRemoteDescription/addTrack, before ICE starts)."""
    states = []
    for ice_transport in getattr(pc, "_RTCPeerConnection__iceTransports", ()):
        connection = ice_transport.iceGatherer._connection
        if getattr(connection, "relay_consent", None) is None:
            states.append(tolerate_slow_connection(connection, **options))
    return states


def check_aioice_internals() -> Optional[str]:
    if aioice.__version__ != PINNED_AIOICE_VERSION:
        return f"aioice {aioice.__version__} (relay/consent.py was written for {PINNED_AIOICE_VERSION})"
    if not hasattr(aioice.Connection, "query_consent") or not hasattr(aioice.Connection, "build_request"):
        return "aioice.Connection lost query_consent/build_request"
    return None
