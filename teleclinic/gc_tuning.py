"""Cyclic garbage collection in the serving processes (Daphne): less often, and never over startup's objects.

Measured with bench/ops_room_ws_bench.py (600 room sockets, Python 3.11): with CPython's default
thresholds (700, 10, 10) a Daphne process holding 600 sockets tracks about 300,000 objects, half of
them made at startup (Django, the URL conf, the modules); a full collection walks all of them and
holds the event loop 70-170 ms, and while sockets come and go it runs every few seconds: every
socket's messages wait behind it (the p99 of room deliveries was 130-280 ms, p95 up to 140 ms).
Almost nothing the loop makes lives in a reference cycle (a full collection while serving freed 3 to
154 objects of 300,000; reference counting frees the rest at once), so the process can collect far
less often.

`collect_less_often` collects once, moves what survives (startup's objects, alive for the process's
lifetime) into the permanent generation that no collection walks (gc.freeze), and raises the
thresholds: the youngest generation is collected after 50,000 allocations instead of 700 (the
slowest of them took 8-10 ms in the bench), and a full collection, still done, comes rarely (in
traced 20 s runs at 600 sockets: none while they sent, one as they all closed). Cost: cyclic garbage waits longer to be freed; not
measured apart (Daphne's RSS at 600 notification sockets, bench/ops_ws_bench.py: 199 MB).
"""
import gc

from django.conf import settings


def collect_less_often() -> None:
    """This process collects with settings.ASGI_GC_THRESHOLDS; empty: CPython's collector as it is."""
    if not settings.ASGI_GC_THRESHOLDS:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*settings.ASGI_GC_THRESHOLDS)
