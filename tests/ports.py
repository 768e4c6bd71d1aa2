"""A free TCP port on 127.0.0.1, for a server a test or a benchmark starts.

Django-free on purpose: the tests' conftest, `tests/journeys/demo.py` and the benchmarks (`bench/common.py`, which
run without Django set up) all take it from here.
"""
import socket


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it; a server started at once gets it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
