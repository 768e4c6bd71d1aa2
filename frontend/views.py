"""Page views: each translates the request into one selector or service call and a template."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "frontend/home.html", {"user": request.user})
