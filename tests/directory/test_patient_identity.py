"""Patient identity at registration: the resident ID number (GB 11643-1999) is checked, states the birth date
and sex, finds the patient, and is registered once per community (the existing record named to those who may
see it, a neutral refusal to others)."""
import datetime as dt

import pytest

from directory import resident_id
from directory.models import Patient

pytestmark = pytest.mark.django_db

STANDARD_EXAMPLE = "11010519491231002X"  # GB 11643-1999's own: born 1949-12-31, sequence 002 (even: a woman)
MAN_1949 = resident_id.make("110105", dt.date(1949, 12, 31), 3, "M")
WOMAN_1956 = resident_id.make("430521", dt.date(1956, 3, 14), 7, "F")


def test_the_check_character_follows_gb_11643():
    # given the standard's own example and a number made here, then both check and say birth date and sex
    assert resident_id.parse(STANDARD_EXAMPLE.lower()) == resident_id.ResidentId(STANDARD_EXAMPLE,
                                                                                   dt.date(1949, 12, 31), "F")
    assert resident_id.parse(MAN_1949).sex == "M" and resident_id.parse(WOMAN_1956).sex == "F"
    # when one digit is mistyped, the check character no longer fits
    with pytest.raises(resident_id.BadResidentId, match="check character"):
        resident_id.parse("11010519491231003X")
    # and a number whose check fits but whose date does not exist is refused too
    body = "11010519490230002"
    with pytest.raises(resident_id.BadResidentId, match="birth date"):
        resident_id.parse(body + resident_id.check_character(body))


def _register(api, user, **fields):
    body = {"name": "王建华", **fields}
    return api(user).post("/api/patients/", body, format="json")


def test_birth_date_and_sex_are_read_from_the_id_number(api, people):
    # when the village doctor registers a patient with only a name and an ID number
    response = _register(api, people["village_doctor"], id_number=MAN_1949.lower())
    # then the record holds the birth date and sex the number states, the number normalised
    assert response.status_code == 201, response.content
    patient = Patient.objects.get(pk=response.data["id"])
    assert (patient.birth_date, patient.sex, patient.id_number) == (dt.date(1949, 12, 31), "M", MAN_1949)


@pytest.mark.parametrize("fields, code", [
    ({"id_number": "11010519491231003X", "sex": "F", "birth_date": "1949-12-31"}, "bad_id_number"),
    ({"id_number": MAN_1949, "sex": "F"}, "id_number_mismatch"),
    ({"id_number": MAN_1949, "sex": "M", "birth_date": "1949-12-30"}, "id_number_mismatch"),
    ({"sex": "M"}, "identity_missing"),
])
def test_a_wrong_or_contradicted_id_number_is_refused_and_nothing_stored(api, people, fields, code):
    # when the ID number's check character is wrong, or the sex or birth date given contradict it
    response = _register(api, people["village_doctor"], **fields)
    # then a 400 says why, and no record was made
    assert response.status_code == 400 and response.data["code"] == code, response.content
    assert not Patient.objects.filter(name="王建华").exists()


def test_a_patient_is_found_by_the_whole_id_number_and_not_by_a_part(api, people, patient_factory, community):
    # given two patients of the clinic, one with the number
    wanted = patient_factory(home_clinic=community.village_a1, name="赵秀英", id_number=WOMAN_1956)
    patient_factory(home_clinic=community.village_a1, name="钱秀兰", id_number=MAN_1949)
    # when the doctor searches by the whole number (lower-case x as typed), then only that patient is found
    found = api(people["village_doctor"]).get("/api/patients/", {"q": WOMAN_1956.lower()}).data["results"]
    assert [p["id"] for p in found] == [wanted.pk]
    # and the number is masked in the answer
    assert found[0]["id_number"] != WOMAN_1956 and found[0]["id_number"].endswith(WOMAN_1956[-4:])
    # when searching by the first 17 characters only, nobody is found
    assert api(people["village_doctor"]).get("/api/patients/", {"q": WOMAN_1956[:17]}).data["results"] == []


def test_the_same_id_number_twice_is_refused_naming_the_record_the_user_may_see(api, people, patient_factory,
                                                                              community):
    # given a patient of village A1 with the number
    existing = patient_factory(home_clinic=community.village_a1, name="赵秀英", sex="F",
                               birth_date=dt.date(1956, 3, 14), id_number=WOMAN_1956)
    # when the same clinic's doctor registers the number again
    response = _register(api, people["village_doctor"], name="赵秀英", id_number=WOMAN_1956)
    # then a 409 names the existing record
    assert response.status_code == 409, response.content
    assert response.data["code"] == "duplicate_id_number"
    assert response.data["existing"] == {"id": existing.pk, "name": "赵秀英",
                                         "health_record_no": existing.health_record_no}
    assert "赵秀英" in response.data["detail"]
    assert Patient.objects.filter(id_number=WOMAN_1956).count() == 1


def test_a_duplicate_the_user_may_not_see_is_refused_without_naming_it(api, people, patient_factory, community):
    # given a patient of village A1 with the number (the doctor of village A2 may not see A1's patients)
    patient_factory(home_clinic=community.village_a1, name="赵秀英", id_number=WOMAN_1956)
    # when the doctor of village A2 registers the same number
    response = _register(api, people["other_village_doctor"], name="孙某", id_number=WOMAN_1956)
    # then it is refused, with nothing of the other record in the answer
    assert response.status_code == 409 and response.data["code"] == "duplicate_id_number"
    assert "existing" not in response.data and "赵秀英" not in response.data["detail"]
    assert Patient.objects.filter(id_number=WOMAN_1956).count() == 1


def test_the_same_id_number_in_another_community_is_not_a_duplicate(api, people, patient_factory, community):
    # given the number registered in another county's community
    patient_factory(home_clinic=community.foreign_village, id_number=WOMAN_1956)
    # when the doctor registers it here, then it is accepted
    response = _register(api, people["village_doctor"], name="赵秀英", id_number=WOMAN_1956)
    assert response.status_code == 201, response.content


def test_changing_the_id_number_to_another_patients_is_refused(api, people, patient_factory, community):
    # given two patients of the clinic
    patient_factory(home_clinic=community.village_a1, name="赵秀英", id_number=WOMAN_1956)
    other = patient_factory(home_clinic=community.village_a1, name="王建华", sex="M", birth_date=dt.date(1949, 12, 31),
                            id_number="")
    client = api(people["village_doctor"])
    # when the doctor gives the second the first's number, then it is refused naming the first
    response = client.patch(f"/api/patients/{other.pk}/", {"id_number": WOMAN_1956}, format="json")
    assert response.status_code == 409 and response.data["existing"]["name"] == "赵秀英"
    # when the doctor gives it its own number, then its sex and birth date are checked against it and kept
    response = client.patch(f"/api/patients/{other.pk}/", {"id_number": MAN_1949}, format="json")
    assert response.status_code == 200, response.content
    # and a later change of sex that the number contradicts is refused
    response = client.patch(f"/api/patients/{other.pk}/", {"sex": "F"}, format="json")
    assert response.status_code == 400 and response.data["code"] == "id_number_mismatch"
