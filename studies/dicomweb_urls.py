"""DICOMweb routes (mounted under /dicomweb/)."""
urlpatterns: list = []
