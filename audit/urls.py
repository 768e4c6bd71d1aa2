"""The audit log's search is served by directory/audit_api.py (which names the patients); the log
itself has no write interface."""

urlpatterns: list = []
