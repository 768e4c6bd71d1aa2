"""Fixtures of the ops tests: consultations assigned to the cardiology expert, a live one with its room."""
import pytest

from consult.models import Consultation
from live.services import rooms


@pytest.fixture
def assigned(people, community, patient_factory, consultation_factory):
    """assigned(): a new consultation from village A1's doctor, assigned to the cardiology expert."""

    def make(mode=Consultation.Mode.ASYNC):
        patient = patient_factory(home_clinic=community.village_a1)
        return consultation_factory(patient=patient, requested_by=people["village_doctor"], mode=mode,
                                    assigned_expert=people["expert"].expert, state=Consultation.State.ASSIGNED,
                                    specialty__code="cardiology")

    return make


@pytest.fixture
def room(assigned, people):
    """The open room of a live consultation, opened by the village doctor."""
    opened, _ = rooms.room_open(by=people["village_doctor"], consultation_id=assigned(Consultation.Mode.LIVE).pk)
    return opened
