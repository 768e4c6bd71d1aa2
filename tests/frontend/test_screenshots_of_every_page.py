"""Issue 19: every page, as its people open it, at 1440x900, 1366x768 and 390x844, in Chinese and in English,
saved as a screenshot under artifacts/pages/ (git-ignored: look at them) on the real back end, and none
wider than its screen (`document.documentElement.scrollWidth <= innerWidth`).

One test per page (its own data), each looping over the sizes and languages in one browser context per
language; the pages' clock is fixed at the latest Sunday 23:00 UTC."""
import pydicom
import pytest
from pydicom.data import get_testdata_file

from tests.conftest import ARTIFACTS
from tests.e2e.conftest import login, outside_the_browser_loop, wait_for_js
from tests.frontend.real_reports import deliver_report
from tests.frontend.test_people_pages_on_the_real_back_end import latest_sunday_23_utc
from tests.frontend.test_staff_pages_on_phones_and_tablets import STICKING_OUT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = ARTIFACTS / "pages"
SIZES = [(1440, 900), (1366, 768), (390, 844)]
LANGUAGES = ["zh", "en"]
# page: (who logs in, or None; whether the page sets body[data-ready])
PAGES = {"login": (None, False), "home": ("nobody-in-particular", False), "console": ("vdoc", True),
         "workstation": ("expert", True), "reading": ("expert", True), "coordinator": ("admin", True),
         "room": ("vdoc", False), "patient": (None, False)}


def _data(people, community, patient_factory, consultation_factory):
    """A case with a 12-lead ECG and a signed, delivered report (console, reading page, coordinator's charts),
    a live case with its room open (room and patient pages), a user whose role has no page of its own (home)."""
    from consult.models import Consultation
    from live.services import rooms
    from studies.services.ingest import Source, ingest_dicom_bytes
    from tests.factories import UserFactory

    doctor, expert = people["village_doctor"], people["expert"]
    patient = patient_factory(name="卢秀英", id_number="430521195603141228", home_clinic=community.village_a1)
    ecg_case = consultation_factory(patient=patient, requested_by=doctor, state="assigned",
                                    assigned_expert=expert.expert, specialty__code="cardiology",
                                    reason="胸闷三天，活动后加重")
    with open(get_testdata_file("waveform_ecg.dcm"), "rb") as f:
        data = f.read()
    pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))  # (the file is there: pydicom's own test data)
    ingest_dicom_bytes(data=data, source=Source(by=doctor, organisation=doctor.organisation, consultation=ecg_case,
                                                patient=patient))
    reported = consultation_factory(patient=patient_factory(name="张建华", sex="M", id_number="",
                                                            home_clinic=community.village_a1),
                                    requested_by=doctor, state="assigned", assigned_expert=expert.expert)
    deliver_report(reported)
    live = consultation_factory(patient=patient_factory(name="王桂兰", home_clinic=community.village_a1),
                                requested_by=doctor, mode=Consultation.Mode.LIVE, state="assigned",
                                assigned_expert=expert.expert)
    room, _ = rooms.room_open(by=doctor, consultation_id=live.pk)
    UserFactory(username="nobody-in-particular", role="", organisation=community.lead)
    return {"reading": f"/read/{ecg_case.pk}/", "room": f"/live/rooms/{room.pk}/",
            "patient": f"/live/rooms/{room.pk}/join/", "login": "/login/"}


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_at_three_sizes_in_both_languages_fits_its_screen(name, people, community, patient_factory,
                                                                     consultation_factory, open_page, live_daphne):
    paths = outside_the_browser_loop(_data, people=people, community=community, patient_factory=patient_factory,
                                     consultation_factory=consultation_factory)
    username, sets_ready = PAGES[name]
    path = paths.get(name, "/")
    SHOTS.mkdir(parents=True, exist_ok=True)
    overflowing = []
    for language in LANGUAGES:
        page = open_page(f"{name}-{language}", viewport={"width": SIZES[0][0], "height": SIZES[0][1]},
                         permissions=["camera", "microphone"] if name == "room" else [])
        page.clock.set_fixed_time(latest_sunday_23_utc())
        if language == "en":
            page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_daphne}])
        if username:
            login(page, username)
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(path)
            if sets_ready:
                page.wait_for_selector("body[data-ready=true]")
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)  # charts and the ECG trace settle after their data
            if name != "patient":  # (the patient's phone page is in both languages at once, for anyone)
                assert page.get_attribute("html", "lang") == ("en" if language == "en" else "zh-hans")
            wait_for_js(page, "document.fonts.status === 'loaded'")
            page.screenshot(path=str(SHOTS / f"{name}-{width}x{height}-{language}.png"), full_page=True)
            extra = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if extra > 0:
                overflowing.append(f"{name} {width}x{height} {language}: {extra} px too wide: {page.evaluate(STICKING_OUT)}")
    assert not overflowing, "\n".join(overflowing)
