"""manage.py seed_demo builds the demo community and is idempotent."""
from io import StringIO

from django.core.management import call_command

from directory import resident_id
from directory.demo import GIVEN
from directory.models import Expert, Organisation, Patient, User


def _snapshot():
    return (Organisation.objects.count(), User.objects.count(), Expert.objects.count(), Patient.objects.count())


def test_seed_demo_builds_the_community_and_is_idempotent(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    K, R = Organisation.Kind, User.Role
    assert Organisation.objects.filter(kind=K.LEAD_HOSPITAL).count() == 1
    assert Organisation.objects.filter(kind=K.TOWNSHIP_CENTRE).count() == 3
    assert Organisation.objects.filter(kind=K.VILLAGE_CLINIC).count() == 12
    assert User.objects.filter(role=R.EXPERT).count() == 8 == Expert.objects.count()
    assert User.objects.filter(role=R.VILLAGE_DOCTOR).count() == 12
    assert User.objects.filter(role=R.COORDINATOR).count() == 1
    assert Patient.objects.count() == 40
    assert set(Expert.objects.values_list("specialties__code", flat=True)) == {"cardiology", "radiology", "general"}
    assert "vdoc01" in out.getvalue() and "coord" in out.getvalue()
    from scheduling.models import OnCallShift, Roster

    assert Roster.objects.count() == 8 and OnCallShift.objects.filter(expert__specialties__code="cardiology").exists()
    first = _snapshot() + (Roster.objects.count(), OnCallShift.objects.count())
    call_command("seed_demo", stdout=StringIO())
    assert _snapshot() + (Roster.objects.count(), OnCallShift.objects.count()) == first


def test_demo_patients_name_sex_birth_date_and_resident_id_agree(db):
    # given the demo community
    call_command("seed_demo", stdout=StringIO())
    patients = list(Patient.objects.all())
    numbers = [p.id_number for p in patients]
    assert len(set(numbers)) == len(numbers) == 40
    for patient in patients:
        # then each ID number is valid (GB 11643 check character) and says the patient's birth date and sex,
        parsed = resident_id.parse(patient.id_number)
        assert (parsed.birth_date, parsed.sex) == (patient.birth_date, patient.sex), patient
        # and the given name is one of that sex's names
        assert patient.name[1:] in GIVEN[patient.sex], patient
