"""Request guards that hold for every view."""
from django.http import JsonResponse


class RejectNulBytesMiddleware:
    """A NUL byte in the path or a query parameter is refused with a 400 (PostgreSQL text cannot hold it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any("\x00" in key or any("\x00" in v for v in values)
                                         for key, values in request.GET.lists()):
            return JsonResponse({"code": "invalid", "detail": "NUL bytes are not allowed in the URL."}, status=400)
        return self.get_response(request)
