"""The phrase library (常用语) API: an expert's own phrases and their specialties' shared ones; nobody else's."""
import pytest

from reports.demo import PHRASES, seed_phrases
from reports.models import Phrase

pytestmark = pytest.mark.django_db

URL = "/api/reports/phrases/"


def _new(api, user, **overrides):
    body = {"kind": "ecg", "field": "conclusion", "code": "lvh", "label": "左室肥大", "text": "左心室肥大伴劳损。",
            **overrides}
    return api(user).post(URL, body, format="json")


def test_an_expert_lists_their_own_and_their_specialtys_phrases_but_not_another_experts(api, people, cardiology):
    # given the demo phrases of the specialties, and a phrase of each of two cardiologists
    seed_phrases()
    assert _new(api, people["expert"]).status_code == 201
    assert _new(api, people["other_expert"], code="mine2", text="另一位专家的常用语").status_code == 201
    # when the first lists the ECG phrases
    listed = api(people["expert"]).get(URL, {"kind": "ecg"})
    assert listed.status_code == 200
    rows = listed.json()
    # then they see theirs (mine) and cardiology's, never the other expert's nor radiology's imaging phrases
    assert {(r["code"], r["field"], r["mine"]) for r in rows} >= {("lvh", "conclusion", True), ("sr", "findings", False),
                                                                 ("nl", "conclusion", False)}
    assert "另一位专家的常用语" not in {r["text"] for r in rows}
    assert {r["kind"] for r in rows} == {"ecg"}
    shared = [r for r in rows if not r["mine"]]
    assert len(shared) == len([p for p in PHRASES if p[0] == "cardiology"]) and {r["specialty"] for r in shared} == {"cardiology"}


def test_an_expert_changes_and_deletes_their_own_phrase_only(api, people):
    mine = _new(api, people["expert"]).json()
    theirs = _new(api, people["other_expert"], code="x1").json()
    # when the expert changes their phrase: it is changed
    changed = api(people["expert"]).patch(f"{URL}{mine['id']}/", {"text": "左心室高电压。"}, format="json")
    assert changed.status_code == 200 and changed.json()["text"] == "左心室高电压。"
    # when they try the other expert's: 404, and it is unchanged and not deleted
    for response in (api(people["expert"]).patch(f"{URL}{theirs['id']}/", {"text": "改掉"}, format="json"),
                     api(people["expert"]).delete(f"{URL}{theirs['id']}/")):
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Phrase.objects.get(pk=theirs["id"]).text == "左心室肥大伴劳损。"
    # a shared phrase is not theirs to change either
    seed_phrases()
    shared = Phrase.objects.filter(owner__isnull=True).first()
    assert api(people["expert"]).delete(f"{URL}{shared.pk}/").status_code == 404
    assert Phrase.objects.filter(pk=shared.pk).exists()
    # when they delete their own: gone
    assert api(people["expert"]).delete(f"{URL}{mine['id']}/").status_code == 204
    assert not Phrase.objects.filter(pk=mine["id"]).exists()


@pytest.mark.parametrize("overrides, code", [
    ({"kind": "xray"}, "invalid"),
    ({"field": "pr_ms"}, "unknown_field"),      # a number field takes no phrases
    ({"field": "impression"}, "unknown_field"),  # an imaging field, not an ECG one
    ({"code": "Has Space"}, "invalid"),
    ({"text": ""}, "invalid"),
    ({"label": "x" * 61}, "invalid"),
    ({"owner": 1}, "invalid"),                   # unknown fields refused
])
def test_bad_input_is_a_400_with_a_reason_and_stores_nothing(api, people, overrides, code):
    response = _new(api, people["expert"], **overrides)
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["detail"]
    assert not Phrase.objects.exists()


def test_a_second_phrase_with_the_same_code_for_the_field_is_a_409(api, people):
    assert _new(api, people["expert"]).status_code == 201
    again = _new(api, people["expert"], text="别的")
    assert again.status_code == 409 and again.json()["code"] == "code_taken"
    # the same code for another field is fine
    assert _new(api, people["expert"], field="findings").status_code == 201
    # and a change onto a taken code is refused the same way
    other = _new(api, people["expert"], code="other").json()
    moved = api(people["expert"]).patch(f"{URL}{other['id']}/", {"code": "lvh"}, format="json")
    assert moved.status_code == 409 and Phrase.objects.get(pk=other["id"]).code == "other"


def test_only_experts_have_a_phrase_library(api, people):
    for role in ("village_doctor", "coordinator"):
        assert api(people[role]).get(URL).status_code == 403
        assert _new(api, people[role]).status_code == 403
    assert api().get(URL).status_code in (401, 403)
    assert api(people["expert"]).get(URL, {"kind": "nope"}).status_code == 400


def test_demo_seed_is_idempotent(cardiology, community):
    from directory.models import Specialty

    Specialty.objects.get_or_create(code="radiology", defaults={"name": "放射科"})
    first = seed_phrases()
    assert first == len(PHRASES) and seed_phrases() == 0
    assert Phrase.objects.filter(kind="imaging", specialty__code="radiology").count() == len(
        [p for p in PHRASES if p[1] == "imaging"])
