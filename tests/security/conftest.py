"""The security suite (issue 13): each test reproduces a finding of the outside probe.

The live-room fixtures are those of tests/live."""
from tests.live.conftest import cookies, invite, live_consultation, room  # noqa: F401 - fixtures
