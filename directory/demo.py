"""The demo community: one lead hospital, 3 township centres, 12 village clinics, staff, patients.

Deterministic (a fixed random seed) and idempotent: rows are found by natural keys.
"""
import datetime as dt
import random

from django.db import transaction

from . import resident_id
from .models import Expert, Organisation, Patient, Specialty, User

DEMO_PASSWORD = "teleclinic-demo"
SPECIALTIES = [("cardiology", "心血管内科", "Cardiology"), ("radiology", "放射科", "Radiology"),
               ("general", "全科医学科", "General medicine")]
TOWNSHIPS = ["城关镇", "青山镇", "白水镇"]
VILLAGES = [["东风村", "红旗村", "桃源村", "柳林村"], ["石桥村", "河口村", "高坪村", "龙泉村"],
            ["新田村", "杨家村", "黄土村", "枫树村"]]
EXPERTS = [("expert01", "王建国", "主任医师", ["cardiology"]), ("expert02", "李晓梅", "副主任医师", ["cardiology"]),
           ("expert03", "张志强", "主治医师", ["cardiology", "general"]), ("expert04", "刘芳", "主任医师", ["radiology"]),
           ("expert05", "陈伟", "副主任医师", ["radiology"]), ("expert06", "杨丽华", "主治医师", ["radiology"]),
           ("expert07", "赵明", "主任医师", ["general"]), ("expert08", "黄秀英", "副主任医师", ["general", "cardiology"])]
SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文"
# Given names by sex, so that a demo patient's name, sex and resident ID number agree.
GIVEN = {Patient.Sex.FEMALE: ["秀英", "桂英", "秀兰", "玉兰", "桂兰", "冬梅", "海燕", "红梅", "金凤", "淑珍", "凤英", "玉珍",
                              "翠花", "丽娟"],
         Patient.Sex.MALE: ["建华", "国强", "志明", "德明", "春生", "建军", "永福", "文华", "长顺", "树林", "福生", "荣华",
                            "爱国", "少华"]}
REGION = "430521"


def _user(username, name, role, org, password=DEMO_PASSWORD, **extra) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults=dict(display_name=name, role=role, organisation=org, **extra))
    if created:
        user.set_password(password)
        user.save()
    return user


@transaction.atomic
def seed() -> dict[str, list[str]]:
    rng = random.Random(20261125)
    specialties = {code: Specialty.objects.get_or_create(code=code, defaults={"name": zh, "name_en": en})[0]
                   for code, zh, en in SPECIALTIES}
    lead, _ = Organisation.objects.get_or_create(
        code="county-hospital", defaults={"name": "县人民医院", "kind": Organisation.Kind.LEAD_HOSPITAL})
    logins: dict[str, list[str]] = {"admin": [], "coordinator": [], "expert": [], "township_doctor": [],
                                    "village_doctor": []}
    _user("admin", "系统管理员", User.Role.ADMIN, lead, is_staff=True, is_superuser=True)
    logins["admin"].append("admin")
    _user("coord", "周协调", User.Role.COORDINATOR, lead)
    logins["coordinator"].append("coord")
    for username, name, title, codes in EXPERTS:
        user = _user(username, name, User.Role.EXPERT, lead)
        expert, _ = Expert.objects.get_or_create(user=user, defaults={"title": title})
        expert.specialties.set([specialties[c] for c in codes])
        logins["expert"].append(f"{username} ({name}, {'/'.join(codes)})")
    villages = []
    for t, township_name in enumerate(TOWNSHIPS, start=1):
        centre, _ = Organisation.objects.get_or_create(
            code=f"township-{t}", defaults={"name": f"{township_name}卫生院", "kind": Organisation.Kind.TOWNSHIP_CENTRE,
                                             "parent": lead, "dicom_ae_title": f"TOWNSHIP{t}",
                                             "dicom_peers": "127.0.0.1 ::1"})  # the demo's modalities run locally
        _user(f"tdoc{t:02d}", f"{township_name}医生", User.Role.TOWNSHIP_DOCTOR, centre)
        logins["township_doctor"].append(f"tdoc{t:02d} ({centre.name})")
        for v, village_name in enumerate(VILLAGES[t - 1], start=1):
            village, _ = Organisation.objects.get_or_create(
                code=f"village-{t}-{v}", defaults={"name": f"{village_name}卫生室", "kind": Organisation.Kind.VILLAGE_CLINIC,
                                                    "parent": centre})
            villages.append(village)
    for n, village in enumerate(villages, start=1):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN[rng.choice(list(GIVEN))])
        _user(f"vdoc{n:02d}", name, User.Role.VILLAGE_DOCTOR, village)
        logins["village_doctor"].append(f"vdoc{n:02d} ({village.name})")
    for n in range(1, 41):
        village = villages[(n - 1) % len(villages)]
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 70))
        sex = rng.choice([Patient.Sex.MALE, Patient.Sex.FEMALE])
        Patient.objects.get_or_create(
            health_record_no=f"DEMO-{n:04d}",
            defaults=dict(name=rng.choice(SURNAMES) + rng.choice(GIVEN[sex]), sex=sex, birth_date=birth,
                          phone=f"13{rng.randrange(100000000, 999999999)}", home_clinic=village,
                          id_number=resident_id.make(REGION, birth, n, sex)))
    return logins
