"""Consent freshness on a slow, lossy link (relay/consent.py): two real aioice connections
on 127.0.0.1, the answering side's STUN responses delayed and dropped on purpose.

The intervals are shortened (the real ones are 5 s and 30 s) so a test takes seconds; the
STUN retransmission timer is aioice's own (0.5 s, doubling)."""

import asyncio

import aioice
import aioice.ice
import pytest
from aioice import stun

from relay.consent import tolerate_slow_connection
from relay.passthrough import loopback_candidates


async def _pair() -> tuple[aioice.Connection, aioice.Connection]:
    a = aioice.Connection(ice_controlling=True, components=1, use_ipv6=False)
    b = aioice.Connection(ice_controlling=False, components=1, use_ipv6=False)
    with loopback_candidates():
        await a.gather_candidates()
        await b.gather_candidates()
    for me, other in ((a, b), (b, a)):
        for candidate in other.local_candidates:
            if candidate.host == "127.0.0.1":
                await me.add_remote_candidate(candidate)
        await me.add_remote_candidate(None)
        me.remote_username, me.remote_password = other.local_username, other.local_password
    return a, b


def _slow_responder(connection: aioice.Connection, *, delay: float, drop_every: int = 0,
                    silent: asyncio.Event | None = None) -> dict:
    """Delay every STUN response this connection sends by ``delay`` s, drop every
    ``drop_every``-th one, and send none at all once ``silent`` is set."""
    counts = {"responses": 0, "dropped": 0}
    loop = asyncio.get_running_loop()
    for protocol in connection._protocols:
        send = protocol.send_stun

        def send_stun(message, addr, send=send):
            if message.message_class != stun.Class.RESPONSE:
                return send(message, addr)
            counts["responses"] += 1
            if (silent is not None and silent.is_set()) or (
                    drop_every and counts["responses"] % drop_every == 0):
                counts["dropped"] += 1
                return None
            loop.call_later(delay, send, message, addr)
            return None

        protocol.send_stun = send_stun
    return counts


async def _connect(a, b) -> None:
    await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), timeout=20)


async def _closed(connection: aioice.Connection, within: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if connection._closed:
            return True
        await asyncio.sleep(0.1)
    return connection._closed


@pytest.mark.asyncio
async def test_aioice_alone_drops_a_slow_link(monkeypatch):
    # the failure being fixed: aioice's own check, one request, 0.5 s timeout, 6 misses
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.3)
    a, b = await _pair()
    try:
        await _connect(a, b)
        # given a responder that answers every check, but 1.2 s late (a full queue)
        _slow_responder(b, delay=1.2)
        # then aioice gives up although every check gets its answer
        assert await _closed(a, within=15)
    finally:
        await a.close()
        await b.close()


@pytest.mark.asyncio
async def test_consent_survives_slow_and_lossy_answers():
    a, b = await _pair()
    state = tolerate_slow_connection(a, interval=0.3, timeout=4.0)
    try:
        await _connect(a, b)
        # given a responder whose answers come 1.2 s late and one in three never
        counts = _slow_responder(b, delay=1.2, drop_every=3)
        # when several consent timeouts' worth of time passes
        await asyncio.sleep(10)
        # then the connection is still up and consent was refreshed by late answers
        assert not a._closed and not state.expired
        assert counts["dropped"] > 0
        assert state.responses >= 5
    finally:
        await a.close()
        await b.close()


@pytest.mark.asyncio
async def test_consent_still_expires_when_the_far_end_stops_answering():
    a, b = await _pair()
    state = tolerate_slow_connection(a, interval=0.3, timeout=3.0)
    silent = asyncio.Event()
    try:
        await _connect(a, b)
        _slow_responder(b, delay=0.1, silent=silent)
        await asyncio.sleep(1.5)
        assert not a._closed
        # when the far end stops answering entirely (gone, or consent withdrawn)
        silent.set()
        # then consent expires after the timeout and the connection closes (RFC 7675)
        assert await _closed(a, within=15)
        assert state.expired
    finally:
        await a.close()
        await b.close()
