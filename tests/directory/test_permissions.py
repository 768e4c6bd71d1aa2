"""The permission rules as a table: role x object x action -> allowed."""

import pytest
from django.utils import timezone

from consult.models import Consultation
from directory.access import CHANGE, VIEW, can, scoped
from directory.models import Patient
from scheduling.models import Assignment
from tests.factories.scheduling import AssignmentFactory


@pytest.fixture
def objects(community, people, patient_factory, consultation_factory, cardiology):
    expert = people["expert"].expert
    p_a1 = patient_factory(home_clinic=community.village_a1)
    p_b1 = patient_factory(home_clinic=community.village_b1)
    consult_offered = consultation_factory(patient=p_b1, requested_by=people["village_doctor"], specialty=cardiology)
    consult_declined = consultation_factory(patient=p_b1, requested_by=people["village_doctor"], specialty=cardiology)
    # a consultation on offer to the other expert, and one the expert declined (scheduling.Assignment)
    AssignmentFactory(consultation=consult_offered, expert=people["other_expert"].expert)
    AssignmentFactory(consultation=consult_declined, expert=expert, status=Assignment.Status.DECLINED,
                      expires_at=timezone.now())
    return {
        "consult_offered": consult_offered,
        "consult_declined": consult_declined,
        "patient_a1": p_a1,
        "patient_a2": patient_factory(home_clinic=community.village_a2),
        "patient_b1": p_b1,
        "patient_foreign": patient_factory(home_clinic=community.foreign_village),
        "consult_a1": consultation_factory(patient=p_a1, requested_by=people["village_doctor"], specialty=cardiology,
                                           assigned_expert=expert),
        "consult_b1": consultation_factory(patient=p_b1, requested_by=people["village_doctor"], specialty=cardiology),
    }


T, F = True, False
TABLE = [
    # role,                 object,            view, change
    ("village_doctor",       "patient_a1",       T, T),
    ("village_doctor",       "patient_a2",       F, F),
    ("village_doctor",       "patient_b1",       F, F),
    ("village_doctor",       "patient_foreign",  F, F),
    ("village_doctor",       "consult_a1",       T, T),
    ("village_doctor",       "consult_b1",       F, F),
    ("other_village_doctor", "patient_a1",       F, F),
    ("other_village_doctor", "patient_a2",       T, T),
    ("township_doctor",      "patient_a1",       T, T),
    ("township_doctor",      "patient_a2",       T, T),
    ("township_doctor",      "patient_b1",       F, F),
    ("township_doctor",      "patient_foreign",  F, F),
    ("township_doctor",      "consult_a1",       T, T),
    ("township_doctor",      "consult_b1",       F, F),
    ("expert",               "patient_a1",       T, F),
    ("expert",               "patient_a2",       F, F),
    ("expert",               "consult_a1",       T, T),
    ("expert",               "consult_b1",       F, F),
    ("other_expert",         "patient_a1",       F, F),
    ("other_expert",         "consult_a1",       F, F),
    ("other_expert",         "consult_offered",  T, F),   # on offer to them: they may read it to decide
    ("expert",               "consult_offered",  F, F),
    ("expert",               "consult_declined", F, F),   # declined: out of reach again
    ("coordinator",          "consult_offered",  T, T),
    ("coordinator",          "patient_a1",       T, F),
    ("coordinator",          "patient_b1",       T, F),
    ("coordinator",          "patient_foreign",  F, F),
    ("coordinator",          "consult_a1",       T, T),
    ("coordinator",          "consult_b1",       T, T),
    ("foreign_coordinator",  "patient_a1",       F, F),
    ("foreign_coordinator",  "patient_foreign",  T, F),
    ("foreign_coordinator",  "consult_a1",       F, F),
    ("admin",                "patient_foreign",  T, T),
    ("admin",                "consult_b1",       T, T),
]


@pytest.mark.parametrize("role,obj,may_view,may_change", TABLE)
def test_permission_table(people, objects, role, obj, may_view, may_change):
    # given a user of the role and an object of the community
    user, target = people[role], objects[obj]
    # when / then the rules answer as the table says
    assert can(user, VIEW, target) is may_view
    assert can(user, CHANGE, target) is may_change


def test_listing_and_detail_use_the_same_rules(people, objects):
    # given the village doctor of village A1
    user = people["village_doctor"]
    # when listing what they may see
    patients = set(scoped(user, Patient.objects.all(), VIEW))
    consultations = set(scoped(user, Consultation.objects.all(), VIEW))
    # then the listing holds exactly the objects `can` allows one by one
    assert patients == {o for o in objects.values() if isinstance(o, Patient) and can(user, VIEW, o)}
    assert consultations == {o for o in objects.values() if isinstance(o, Consultation) and can(user, VIEW, o)}
    assert patients == {objects["patient_a1"]}


def test_anonymous_user_sees_nothing(objects):
    from django.contrib.auth.models import AnonymousUser

    assert not can(AnonymousUser(), VIEW, objects["patient_a1"])
