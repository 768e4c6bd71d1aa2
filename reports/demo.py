"""Demo phrases (常用语) of the specialties: ECG phrases for cardiology, imaging phrases for radiology."""
from directory.models import Specialty

from .models import Phrase

# (specialty, kind, field, code, label, text)
PHRASES = [
    ("cardiology", "ecg", "findings", "sr", "窦性心律", "窦性心律，心率正常范围。"),
    ("cardiology", "ecg", "findings", "st", "ST-T 未见异常", "各导联 ST 段未见明显抬高或压低，T 波形态正常。"),
    ("cardiology", "ecg", "findings", "stt", "ST-T 改变", "Ⅱ、Ⅲ、aVF 导联 ST 段压低约 0.1 mV，T 波低平。"),
    ("cardiology", "ecg", "findings", "af", "心房颤动", "P 波消失，代之以大小不等的 f 波，RR 间期绝对不等。"),
    ("cardiology", "ecg", "findings", "pvc", "室性早搏", "可见提前出现的宽大畸形 QRS 波群，其前无相关 P 波，代偿间歇完全。"),
    ("cardiology", "ecg", "conclusion", "nl", "正常心电图", "1. 窦性心律\n2. 正常心电图"),
    ("cardiology", "ecg", "conclusion", "sr", "窦性心律", "窦性心律"),
    ("cardiology", "ecg", "conclusion", "stemi", "急性 ST 段抬高", "急性 ST 段抬高，请结合临床立即处理（危急值）。"),
    ("cardiology", "ecg", "conclusion", "afc", "心房颤动", "心房颤动，建议上级医院进一步诊治。"),
    ("cardiology", "ecg", "recommendation", "fu", "定期复查", "建议定期复查心电图，如有胸闷胸痛及时就诊。"),
    ("radiology", "imaging", "findings", "cxn", "胸片未见异常", "双肺纹理清晰，肺野内未见明显实变影；心影大小形态正常；双侧膈面光整，肋膈角锐利。"),
    ("radiology", "imaging", "findings", "ctn", "头颅 CT 未见异常", "脑实质内未见异常密度影，脑室系统未见扩大，中线结构居中。"),
    ("radiology", "imaging", "findings", "pn", "肺部感染", "右下肺野可见斑片状模糊影，边界不清。"),
    ("radiology", "imaging", "impression", "nl", "未见明显异常", "未见明显异常。"),
    ("radiology", "imaging", "impression", "pn", "考虑肺部感染", "右下肺感染性病变可能，建议抗感染治疗后复查。"),
    ("radiology", "imaging", "impression", "fu", "建议复查", "建议结合临床，必要时进一步检查或短期复查。"),
]


def seed_phrases() -> int:
    """The specialties' shared demo phrases; idempotent (an existing code is left as it is). Returns how many were added."""
    added = 0
    specialties = {s.code: s for s in Specialty.objects.all()}
    for code, kind, field, short, label, text in PHRASES:
        specialty = specialties.get(code)
        if specialty is None:
            continue
        _, created = Phrase.objects.get_or_create(owner=None, specialty=specialty, kind=kind, field=field,
                                                  code=short, defaults={"label": label, "text": text})
        added += created
    return added
