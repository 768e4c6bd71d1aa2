"""factory_boy factories for live: rooms, their participants and the patient's invitation links."""
import datetime as dt

import factory
from django.utils import timezone

from live.models import JoinToken, Participant, Room

from . import ConsultationFactory


class RoomFactory(factory.django.DjangoModelFactory):
    """An open room of a consultation, hosted by the doctor who requested it."""

    class Meta:
        model = Room

    consultation = factory.SubFactory(ConsultationFactory)
    host = factory.SelfAttribute("consultation.requested_by")


class ParticipantFactory(factory.django.DjangoModelFactory):
    """The room's host, admitted (pass user=, role= and state= for anyone else)."""

    class Meta:
        model = Participant

    room = factory.SubFactory(RoomFactory)
    user = factory.SelfAttribute("room.host")
    role = Participant.Role.HOST
    state = Participant.State.ADMITTED
    display_name = factory.LazyAttribute(lambda o: str(o.user) if o.user else "患者")


class JoinTokenFactory(factory.django.DjangoModelFactory):
    """The patient's invitation to a room, valid for a day, not claimed yet."""

    class Meta:
        model = JoinToken

    room = factory.SubFactory(RoomFactory)
    patient = factory.SelfAttribute("room.consultation.patient")
    display_name = factory.SelfAttribute("patient.name")
    created_by = factory.SelfAttribute("room.host")
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))
