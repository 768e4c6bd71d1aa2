"""Errors of live rooms that the API and the room socket report with their own codes."""
from teleclinic.errors import DomainError


class Refused(DomainError):
    """A join link or ticket was refused. `code` says why: token_forged, token_expired,
    token_reused, token_other_room, token_revoked, ticket_unknown, ticket_expired,
    ticket_reused, ticket_other_room, removed, room_closed."""

    status, code = 403, "refused"


class RelayUnavailable(DomainError):
    status, code = 503, "relay_unavailable"
