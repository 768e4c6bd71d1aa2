"""The security suite (issue 13): each test reproduces a finding of the outside probe.

The fixtures are those of the apps' own tests (live rooms, tus uploads, the C-STORE receiver, reports)."""
from tests.live.conftest import cookies, invite, live_consultation, room  # noqa: F401 - fixtures
from tests.reports.conftest import assigned, signed_report  # noqa: F401 - fixtures
from tests.studies.conftest import tus_client  # noqa: F401 - fixture
from tests.studies.test_dicom_scp import receiver  # noqa: F401 - the C-STORE receiver fixture
