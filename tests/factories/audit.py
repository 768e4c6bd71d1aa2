"""factory_boy factories for audit: an audit row as audit.services.audit_record writes it (rows are append-only)."""
import factory

from audit.models import AuditEvent

from . import UserFactory


class AuditEventFactory(factory.django.DjangoModelFactory):
    """A user's read of a consultation through the API."""

    class Meta:
        model = AuditEvent

    actor = factory.SubFactory(UserFactory)
    actor_username = factory.SelfAttribute("actor.username")
    action = AuditEvent.Action.READ
    object_type = "Consultation"
    object_id = factory.Sequence(str)
    interface = "api"
