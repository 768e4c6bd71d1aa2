"""The patient's link and its QR code (SVG, drawn here: the machine may have no internet)."""
import qrcode
import qrcode.image.svg
from django.urls import reverse


def patient_link(request, *, room_id: int, token: str) -> str:
    """The token goes in the fragment (#...): browsers never send it, so no server logs it."""
    return request.build_absolute_uri(reverse("live-patient", args=[room_id])) + "#" + token


def qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    return image.to_string(encoding="unicode")
