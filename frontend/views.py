"""Page views: each picks the page for the user's role and renders it; the pages' scripts call the API.

No page reads patient data on the server: the scripts fetch it through the API, whose selectors
check the reader's reach and write the audit log.
"""
from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from audit.services import client_ip
from directory.access import is_admin
from directory.models import User
from teleclinic.ratelimit import LoginThrottled, login_failure_record, login_throttle_check, login_throttle_reset

from .ohif import ohif_installed
from .strings import js_strings

HOME_PAGES = {
    User.Role.VILLAGE_DOCTOR: "frontend/console.html",
    User.Role.TOWNSHIP_DOCTOR: "frontend/console.html",
    User.Role.EXPERT: "frontend/workstation.html",
    User.Role.COORDINATOR: "frontend/coordinator.html",
    User.Role.ADMIN: "frontend/coordinator.html",
}


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing a username + IP that failed too often (teleclinic/ratelimit.py)."""

    throttled = False

    def clean(self):
        username, ip = self.cleaned_data.get("username") or "", client_ip(self.request)
        try:
            login_throttle_check(username=username, ip=ip)
        except LoginThrottled as exc:
            self.throttled = True
            raise forms.ValidationError(exc.message, code=exc.code)
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failure_record(username=username, ip=ip)
            raise
        login_throttle_reset(username=username, ip=ip)
        return cleaned


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled:
            response.status_code = LoginThrottled.status
        return response


@login_required
def home(request):
    template = HOME_PAGES.get(request.user.role, "frontend/home.html")
    return render(request, template, {"js_strings": js_strings(), "is_admin": is_admin(request.user)})


@login_required
def reading(request, consultation_id: int):
    return render(request, "frontend/reading.html", {"js_strings": js_strings(), "consultation_id": consultation_id,
                                                     "ohif_installed": ohif_installed()})


@login_required
def record(request, patient_id: int):
    """The patient's record across the community (issue 17): the script reads /api/records/, which checks reach."""
    return render(request, "frontend/record.html", {"js_strings": js_strings(), "patient_id": patient_id,
                                                    "ohif_installed": ohif_installed(),
                                                    "kinds": RECORD_KINDS})


RECORD_KINDS = [("consultation", _("Consultations")), ("ecg", _("ECGs")), ("imaging", _("Imaging")),
                ("photo", _("Photos")), ("report", _("Reports")), ("referral", _("Referrals")),
                ("followup", _("Follow-ups"))]
