"""What happens to a consultation that other apps react to (scheduling connects its receivers in ready()).

Sent inside the sender's transaction, so a receiver's writes commit or roll back with it; a
receiver's own events and tasks go out on commit through teleclinic/events.py as usual.
"""
from django.dispatch import Signal

# do_raise_to_stat, on every critical finding (also when the case was stat already: each finding
# is news to its expert). kwargs: consultation (row locked), reason, changed.
raised_to_stat = Signal()

# A study (ECG, imaging) arrived for a consultation without a critical finding. kwargs: consultation.
study_arrived = Signal()

# consultation_request, inside the request's transaction. kwargs: consultation. The apps that route a new
# case react to it (scheduling offers a live one to an on-duty expert at once) without consult importing
# them, and what they do commits or rolls back with the request.
consultation_requested = Signal()
