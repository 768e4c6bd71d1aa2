"""REST API routes of the studies app (mounted under /api/)."""
urlpatterns: list = []
