"""Pages: the staff room and the patient's phone page. The page scripts do the rest over the API and socket."""
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from audit.services import audit_record
from teleclinic.errors import DomainError

from .services import rooms
from .strings import js_strings


@login_required
def room_page(request, room_id: int):
    try:
        room = rooms.room_for_staff(user=request.user, room_id=room_id)
    except DomainError as exc:
        return render(request, "live/refused.html", {"detail": exc.message}, status=exc.status)
    consultation = room.consultation
    audit_record(actor=request.user, action="read", obj=consultation, interface="page", request=request,
                 detail={"live_room": room.pk})
    return render(request, "live/room.html", {
        "room": room, "consultation": consultation, "patient_name": consultation.patient.name,
        "is_host": room.host_id == request.user.pk, "js_strings": js_strings(),
        "reconnect_ms": int(settings.LIVE_MEDIA_RECONNECT_SECONDS * 1000)})


@never_cache
def patient_page(request, room_id: int):
    """No account, no data on the page: the script reads the token from the URL fragment and asks
    the server (link-check) whether it would be let in before it opens the camera."""
    return render(request, "live/patient.html", {
        "room_id": room_id, "js_strings": js_strings(),
        "reconnect_ms": int(settings.LIVE_MEDIA_RECONNECT_SECONDS * 1000)})
