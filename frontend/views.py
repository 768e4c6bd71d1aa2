"""Page views: each translates the request into one selector or service call and a template."""
from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render

from audit.services import client_ip
from teleclinic.ratelimit import LoginThrottled, login_failure_record, login_throttle_check, login_throttle_reset


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
    return render(request, "frontend/home.html", {"user": request.user})
