"""Page views: each picks the page for the user's role and renders it; the pages' scripts call the API.

No page reads patient data on the server: the scripts fetch it through the API, whose selectors
check the reader's reach and write the audit log.
"""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from directory.access import is_admin
from directory.models import User

from .strings import js_strings

HOME_PAGES = {
    User.Role.VILLAGE_DOCTOR: "frontend/console.html",
    User.Role.TOWNSHIP_DOCTOR: "frontend/console.html",
    User.Role.EXPERT: "frontend/workstation.html",
    User.Role.COORDINATOR: "frontend/coordinator.html",
    User.Role.ADMIN: "frontend/coordinator.html",
}


@login_required
def home(request):
    template = HOME_PAGES.get(request.user.role, "frontend/home.html")
    return render(request, template, {"js_strings": js_strings(), "is_admin": is_admin(request.user)})


@login_required
def reading(request, consultation_id: int):
    return render(request, "frontend/reading.html", {"js_strings": js_strings(), "consultation_id": consultation_id})
