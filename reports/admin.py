"""Admin: the specialties' shared phrases (常用语) and every expert's own."""
from django.contrib import admin

from .models import Phrase


@admin.register(Phrase)
class PhraseAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "kind", "field", "specialty", "owner", "updated_at"]
    list_filter = ["kind", "field", "specialty"]
    search_fields = ["code", "label", "text"]
    raw_id_fields = ["owner"]
