"""REST API routes of the scheduling app (mounted under /api/)."""
urlpatterns: list = []
