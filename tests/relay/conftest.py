"""Fixtures for relay tests: a relay room on loopback and simulated aiortc participants."""

import sys
from pathlib import Path

import pytest_asyncio
from aiortc.mediastreams import AudioStreamTrack

# Run from the repository root without a package __init__ in tests/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from relay import Relay, RelayConfig  # noqa: E402
from relay.sim import ColourTrack, SimParticipant  # noqa: E402


class RoomHarness:
    """A relay room plus the simulated participants that talk to it."""

    def __init__(self, config: RelayConfig) -> None:
        self.relay = Relay(config)
        self.people: dict[str, SimParticipant] = {}
        self.room = self.relay.room("room-1", self._deliver)

    def _deliver(self, participant_id: str, message: dict) -> None:
        person = self.people.get(participant_id)
        if person is not None:
            person.deliver(message)

    def person(self, participant_id: str, rgb=None, *, audio: bool = True, **kwargs) -> SimParticipant:
        video = kwargs.pop("video", None) or (ColourTrack(rgb) if rgb is not None else None)
        person = SimParticipant(
            participant_id, self.room, video=video,
            audio=AudioStreamTrack() if audio else None, **kwargs)
        self.people[participant_id] = person
        return person

    async def join(self, participant_id: str, rgb=None, **kwargs) -> SimParticipant:
        person = self.person(participant_id, rgb, **kwargs)
        await person.publish()
        return person

    async def close(self) -> None:
        for person in self.people.values():
            await person.close()
        await self.relay.close()


@pytest_asyncio.fixture
async def make_room():
    harnesses = []

    def make(**config) -> RoomHarness:
        config.setdefault("loopback", True)
        harness = RoomHarness(RelayConfig(**config))
        harnesses.append(harness)
        return harness

    yield make
    for harness in harnesses:
        await harness.close()
