"""REST API of scheduling: rosters, slots, bookings, assignments, worklist, referrals, calendar and FHIR views."""
from .assignments import (AssignmentAcceptView, AssignmentDeclineView, AssignmentListView, ConsultationAssignmentView,
                          ConsultationAssignView, ConsultationEscalateView, EscalationListView, ExpertsToAssignView,
                          WorklistView)
from .bookings import BookingCancelView, BookingListView, BookingRescheduleView
from .referrals import (FollowUpCompleteView, FollowUpListView, ReferralAcceptView, ReferralAcknowledgeView,
                        ReferralArriveView, ReferralDetailView, ReferralDownView, ReferralListView)
from .rosters import (CalendarFeedTokenView, CalendarFeedView, MyCalendarView, OnCallShiftDetailView, OnCallShiftView,
                      RosterDetailView, RosterExceptionDetailView, RosterExceptionView,
                      RosterListView, SessionListView, SlotListView)

__all__ = [
    "AssignmentAcceptView", "AssignmentDeclineView", "AssignmentListView", "ConsultationAssignmentView",
    "ConsultationAssignView", "ConsultationEscalateView", "EscalationListView", "ExpertsToAssignView", "WorklistView",
    "BookingCancelView", "BookingListView", "BookingRescheduleView", "FollowUpCompleteView",
    "FollowUpListView", "ReferralAcceptView", "ReferralAcknowledgeView", "ReferralArriveView", "ReferralDetailView",
    "ReferralDownView", "ReferralListView", "CalendarFeedTokenView", "CalendarFeedView", "MyCalendarView",
    "OnCallShiftView", "OnCallShiftDetailView", "RosterDetailView", "RosterExceptionView", "RosterExceptionDetailView", "RosterListView",
    "SessionListView", "SlotListView",
]
