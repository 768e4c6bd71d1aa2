"""manage.py seed_demo builds the demo community and is idempotent."""
from io import StringIO

from django.core.management import call_command

from directory.demo import ID_CHECK, ID_WEIGHTS
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


def test_demo_resident_ids_carry_a_valid_check_character(db):
    call_command("seed_demo", stdout=StringIO())
    for number in Patient.objects.values_list("id_number", flat=True):
        assert len(number) == 18
        assert number[-1] == ID_CHECK[sum(int(c) * w for c, w in zip(number[:17], ID_WEIGHTS)) % 11]
