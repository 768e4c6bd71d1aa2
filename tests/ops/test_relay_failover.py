"""kill -9 the relay worker of a call in the scaled stack: the other workers notice its silence,
release the room and tell its sockets `relay_moved`; the clients publish again (as client.js does)
and the picture is back within a few seconds, through a live worker."""
import asyncio
import os
import signal
import time

from live.models import Room
from relay.sim import wait_for
from tests.ops.processes import scaled_stack
from tests.ops.rooms import close_peers, media_peer, rooms_open, sees, wait_for_workers, worker_pid
from tests.ops.test_scaled_stack import session_cookie

RED, GREEN = (255, 0, 0), (0, 255, 0)
RESUME_GOAL_S = 10  # "a few seconds": heartbeat timeout (4 s) + a fresh ICE/DTLS handshake + a keyframe


def test_media_resumes_on_another_relay_worker_after_a_kill_9(transactional_db, tmp_path, people, community,
                                                              consultation_factory):
    # given the scaled stack (two relay workers) and a room with the village doctor and the expert
    room_id, = rooms_open(people, community, consultation_factory, 1)
    host_cookie, expert_cookie = session_cookie(people["village_doctor"]), session_cookie(people["expert"])
    with scaled_stack(tmp_path, workers=0, RTC_LOOPBACK="1", LIVE_RELAY_MODE="workers") as stack:
        wait_for_workers(2)

        async def scenario() -> dict:
            peers = [await media_peer(stack, room_id, host_cookie, RED),
                     await media_peer(stack, room_id, expert_cookie, GREEN)]
            (host, *_), (expert, *_) = peers
            try:
                # and each sees the other's picture through the relay worker the room is placed on
                assert await wait_for(lambda: sees(host, expert, GREEN) and sees(expert, host, RED), 30)
                before = await asyncio.to_thread(_placement, room_id)
                # when that worker is killed mid-call
                killed_at = time.monotonic()
                os.kill(worker_pid(before), signal.SIGKILL)
                # then both clients decode the other's picture again (counted afresh from their re-publish)
                resumed_ok = await wait_for(lambda: all(s.published_again for _, s, _ in peers) and sees(
                    host, expert, GREEN, frames=1) and sees(expert, host, RED, frames=1), 30)
                assert resumed_ok, print(_state(peers))
                resumed = max(p.received[o.participant_id].first_video_at for p, o in ((host, expert), (expert, host)))
                assert await wait_for(lambda: sees(host, expert, GREEN, 10) and sees(expert, host, RED, 10), 10)
                return {"worker_before": before, "worker_after": await asyncio.to_thread(_placement, room_id),
                        "first_frame_after_kill_s": round(resumed - killed_at, 2)}
            finally:
                await close_peers(peers)

        result = asyncio.run(scenario())
        print("relay failover:", result)
        # and the room now lives on another (live) worker, within a few seconds
        assert result["worker_after"] not in (None, result["worker_before"])
        assert result["first_frame_after_kill_s"] < RESUME_GOAL_S, result
        assert "lost their worker" in "".join(p.read_text() for p in (stack.run_dir / "logs").glob("relay-*.log"))


def _state(peers) -> list:
    """What each client saw since the kill (for a failure message)."""
    return [{"frames": [f.get("code") or f["type"] for f in s.frames[-8:]],
             "republished": [t.exception() if t.done() and not t.cancelled() else "running" for t in s.republished],
             "received": {k: (r.video_frames, r.audio_frames, r.last_rgb) for k, r in p.received.items()},
             "upstream": p.upstream and p.upstream.connectionState,
             "downstreams": {k: pc.connectionState for k, pc in p.subscriptions.items()}} for p, s, _ in peers]


def _placement(room_id: int) -> str | None:
    return Room.objects.filter(pk=room_id).values_list("relay_worker__name", flat=True).first()

