"""Writes of the scheduling app, one module per use-case family; import from here."""
from .assignments import (assignment_accept, assignment_decline, assignment_expire, assignment_request,
                          assignments_sweep, consultation_assign, consultation_escalate, stat_route,
                          study_route)
from .bookings import SlotTaken, booking_cancel, booking_create, booking_reschedule
from .calendar import calendar_feed_rotate
from .referrals import (followup_complete, referral_accept, referral_acknowledge, referral_arrive,
                        referral_down_create, referral_up_create)
from .rosters import (oncall_shift_add, oncall_shift_end, reserved_slots_release, roster_create, roster_exception_add,
                      roster_exception_remove,
                      roster_generate, roster_update, rosters_generate_all)

__all__ = [
    "assignment_accept", "assignment_decline", "assignment_expire", "assignment_request", "assignments_sweep",
    "consultation_assign", "consultation_escalate", "SlotTaken", "booking_cancel", "booking_create",
    "booking_reschedule", "calendar_feed_rotate", "followup_complete",
    "referral_accept", "referral_acknowledge", "referral_arrive", "referral_down_create", "referral_up_create",
    "oncall_shift_add", "reserved_slots_release", "roster_create", "roster_exception_add", "roster_exception_remove", "roster_generate",
    "rosters_generate_all", "roster_update", "oncall_shift_end", "stat_route", "study_route",
]
