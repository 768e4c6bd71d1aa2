"""Weak-link figures of issue 18: a three-person relay call with the patient's Chromium behind
the userspace link emulator (tests/weaklink), beside a direct Chromium peer-to-peer call over
the same shaped link in the same run. Prints one JSON object.

    .venv/bin/python bench/weaklink_bench.py                 # 300k and 1M/300k for 60 s, outage, audio-only
    .venv/bin/python bench/weaklink_bench.py --seconds 30 --only 300k_3pct_150ms

Needs root, iproute2, /dev/net/tun and Debian's chromium (tests/weaklink/harness.py).
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.weaklink.harness import (  # noqa: E402
    LinkEmulator,
    Peer,
    RelayCall,
    launch_browsers,
    layer_stats,
    load_average,
    p2p_call,
    rates,
    total_kbps,
    unavailable_reason,
)

WARMUP_S = 10.0  # figures are taken after the first 10 s, as the goals are
SAMPLE_S = 5.0


def _summarise(samples: list[dict], sender: str) -> dict[str, Any]:
    """fps, freezes per minute, concealment from one receiver's samples of one sender."""
    if len(samples) < 2:
        return {}
    whole = rates(samples[0], samples[-1]).get(sender, {})
    windows = [rates(a, b).get(sender, {}) for a, b in zip(samples, samples[1:])]
    minutes = (samples[-1]["t"] - samples[0]["t"]) / 60000
    return {
        "fps_mean": whole.get("fps"),
        "fps_min_window": min((w.get("fps", 0) for w in windows), default=None),
        "last_size": whole.get("size"),
        "freeze_s_per_min": round(whole.get("freeze_s", 0) / minutes, 2) if minutes else None,
        "audio_concealed": whole.get("concealed"),
        "kbps": whole.get("kbps"),
    }


async def _sample_for(peers: list[Peer], seconds: float) -> dict[str, list[dict]]:
    await asyncio.sleep(WARMUP_S)
    samples: dict[str, list[dict]] = {p.name: [await p.sample()] for p in peers}
    deadline = time.monotonic() + seconds - WARMUP_S
    while time.monotonic() < deadline:
        await asyncio.sleep(SAMPLE_S)
        for peer in peers:
            samples[peer.name].append(await peer.sample())
    return samples


async def relay_scenario(playwright, link: LinkEmulator, scenario: str, seconds: float) -> dict[str, Any]:
    link.scenario("clean")
    host, shaped = await launch_browsers(playwright)
    call = RelayCall()
    try:
        peers = [await Peer.open("doctor", host), await Peer.open("expert", host), await Peer.open("patient", shaped)]
        for peer in peers:
            await call.join(peer)
        await asyncio.sleep(5)
        link.scenario(scenario)
        counts_before = link.stats()["down"]
        started = time.monotonic()
        samples = await _sample_for(peers, seconds)
        counts = {k: link.stats()["down"][k] - counts_before[k] for k in counts_before}
        elapsed = time.monotonic() - started
        quality = await call.room.quality()
        lost = {p.name: samples[p.name][-1]["closed"] for p in peers}
        switches = [m for pid, m in call.events if m["type"] == "downlink" and pid == m["participant"]]
        return {
            "patient_from": {s: _summarise(samples["patient"], s) for s in ("doctor", "expert")},
            "doctor_from_expert": _summarise(samples["doctor"], "expert"),
            "expert_from_doctor": _summarise(samples["expert"], "doctor"),
            "doctor_from_patient": _summarise(samples["doctor"], "patient"),
            "connections_lost": {k: v for k, v in lost.items() if v},
            "relay_into_link_kbps": round(counts["in_bytes"] * 8 / elapsed / 1000, 1),
            "link_queue_dropped_fraction": round(counts["queue_dropped"] / max(counts["in_packets"], 1), 3),
            "patient_downlink_estimate_kbps": quality["patient"]["downlink_kbps"],
            "patient_estimate_backoffs": quality["patient"]["downlink_backoffs"],
            "audio_only_switches": [(m["audio_only"], m["estimate_kbps"]) for m in switches
                                    if m["participant"] == "patient"],
            "publisher_quality_limitation": samples["doctor"][-1]["out"].get("qualityLimitationReason"),
            "relay_layers": layer_stats(call.room.stats()),
        }
    finally:
        await call.close()
        await host.close()
        await shaped.close()


async def p2p_scenario(playwright, link: LinkEmulator, scenario: str, seconds: float) -> dict[str, Any]:
    link.scenario("clean")
    host, shaped = await launch_browsers(playwright)
    try:
        doctor, patient = await Peer.open("doctor", host), await Peer.open("patient", shaped)
        await p2p_call(patient, doctor)
        await asyncio.sleep(5)
        link.scenario(scenario)
        samples = await _sample_for([doctor, patient], seconds)
        return {
            "patient_from_doctor": _summarise(samples["patient"], "p2p"),
            "doctor_from_patient": _summarise(samples["doctor"], "p2p"),
            "connections_lost": {p: samples[p][-1]["closed"] for p in samples if samples[p][-1]["closed"]},
        }
    finally:
        await host.close()
        await shaped.close()


async def _until(predicate, timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await predicate():
            return round(time.monotonic() - started, 1)
        await asyncio.sleep(0.25)
    return None


async def _frames_flow(peer: Peer, senders: tuple[str, ...]) -> bool:
    before = await peer.sample()
    await asyncio.sleep(0.5)
    got = rates(before, await peer.sample())
    return all(got.get(s, {}).get("fps", 0) >= 2 for s in senders)


async def outage(playwright, link: LinkEmulator, relay: bool) -> dict[str, Any]:
    link.scenario("clean")
    host, shaped = await launch_browsers(playwright)
    call = RelayCall() if relay else None
    try:
        if relay:
            peers = [await Peer.open("doctor", host), await Peer.open("expert", host), await Peer.open("patient", shaped)]
            for peer in peers:
                await call.join(peer)
            patient, senders = peers[2], ("doctor", "expert")
        else:
            doctor, patient = await Peer.open("doctor", host), await Peer.open("patient", shaped)
            await p2p_call(patient, doctor)
            senders = ("p2p",)
        await _until(lambda: _frames_flow(patient, senders), 30)
        link.scenario("clean", outage=True)
        await asyncio.sleep(10)
        link.scenario("clean")
        back = await _until(lambda: _frames_flow(patient, senders), 60)
        return {"media_back_after_link_returned_s": back, "connections_lost": (await patient.sample())["closed"]}
    finally:
        if call is not None:
            await call.close()
        await host.close()
        await shaped.close()


async def audio_only_switch(playwright, link: LinkEmulator) -> dict[str, Any]:
    link.scenario("clean")
    host, shaped = await launch_browsers(playwright)
    call = RelayCall()
    try:
        peers = [await Peer.open("doctor", host), await Peer.open("expert", host), await Peer.open("patient", shaped)]
        for peer in peers:
            await call.join(peer)
        await asyncio.sleep(5)
        link.scenario("300k_3pct_150ms")
        await asyncio.sleep(15)
        patient = peers[2]
        before = await patient.sample()
        await asyncio.sleep(2)
        video_on = total_kbps(before, await patient.sample())
        call.room.set_audio_only("patient", True)

        async def under_100k() -> bool:
            before = await patient.sample()
            await asyncio.sleep(0.5)
            return total_kbps(before, await patient.sample()) < 100

        took = await _until(under_100k, 30)
        await asyncio.sleep(3)
        before = await patient.sample()
        await asyncio.sleep(3)
        return {"patient_downlink_kbps_before": video_on, "under_100kbps_after_s": took,
                "patient_downlink_kbps_audio_only": total_kbps(before, await patient.sample())}
    finally:
        await call.close()
        await host.close()
        await shaped.close()


async def run(args) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    report: dict[str, Any] = {"setup": {"seconds": args.seconds, "warmup_s": WARMUP_S,
                                        "load_average_at_start": load_average()}}
    link = LinkEmulator()
    try:
        async with async_playwright() as playwright:
            for scenario in args.only or ("300k_3pct_150ms", "1m_300k_1pct_300ms"):
                report[scenario] = {
                    "relay": await relay_scenario(playwright, link, scenario, args.seconds),
                    "direct_p2p_baseline": await p2p_scenario(playwright, link, scenario, args.seconds),
                    "load_average": load_average(),
                }
            if not args.only:
                report["outage_10s"] = {"relay": await outage(playwright, link, relay=True),
                                        "direct_p2p_baseline": await outage(playwright, link, relay=False),
                                        "load_average": load_average()}
                report["audio_only_switch"] = {"relay": await audio_only_switch(playwright, link),
                                               "load_average": load_average()}
    finally:
        link.close()
    report["setup"]["load_average_at_end"] = load_average()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per shaped scenario and side")
    parser.add_argument("--only", nargs="*", help="shaped scenarios to run (skips outage and audio-only)")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason is not None:
        print(json.dumps({"bench": "weaklink", "skipped": reason}))
        return
    started = time.monotonic()
    report = asyncio.run(run(args))
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
