"""Writes of the reports app: drafting and signing, rendering and delivery, sharing."""
