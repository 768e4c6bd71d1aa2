"""REST API routes of the live app (mounted under /api/)."""
urlpatterns: list = []
