"""Demo rosters and on-call shifts, so that the demo community has sessions to book and experts on duty."""
import datetime as dt

from django.utils import timezone

from directory.models import Expert, User

from .models import OnCallShift, Roster
from .services import oncall_shift_add, roster_create


def seed_rosters() -> int:
    """One daily morning cloud clinic per expert and 30 days on call. Idempotent: skips experts with a roster."""
    coordinator = User.objects.filter(role=User.Role.COORDINATOR).order_by("id").first()
    created = 0
    for expert in Expert.objects.prefetch_related("specialties").order_by("id"):
        specialty = expert.specialties.order_by("code").first()
        if specialty is None:
            continue
        if not Roster.objects.filter(expert=expert).exists():
            roster_create(by=coordinator, expert_id=expert.pk, specialty_code=specialty.code,
                          weekdays=[1, 2, 3, 4, 5, 6, 7], start_time=dt.time(9), end_time=dt.time(12),
                          slot_minutes=20, capacity=9, valid_from=timezone.localdate(), reserved_share=50,
                          green_channel_slots=1)
            created += 1
        if not OnCallShift.objects.filter(expert=expert, ends_at__gt=timezone.now()).exists():
            for code in expert.specialties.values_list("code", flat=True):
                oncall_shift_add(by=coordinator, expert_id=expert.pk, specialty_code=code,
                                 starts_at=timezone.now() - dt.timedelta(minutes=1),
                                 ends_at=timezone.now() + dt.timedelta(days=30))
    return created
