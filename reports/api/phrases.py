"""The expert's phrase library and the report templates the editor draws its fields from."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from teleclinic.api import StrictSerializer, validated
from teleclinic.errors import InvalidInput

from ..kinds import templates_description
from ..models import Phrase, Report
from ..services import phrases


class PhraseOut(serializers.ModelSerializer):
    specialty = serializers.CharField(source="specialty.code", default=None, allow_null=True)
    mine = serializers.SerializerMethodField(help_text="the expert's own (changeable); else their specialty's")

    class Meta:
        model = Phrase
        fields = ["id", "kind", "field", "code", "label", "text", "specialty", "mine", "updated_at"]

    def get_mine(self, phrase) -> bool:
        return phrase.owner_id is not None


class PhraseIn(StrictSerializer):
    kind = serializers.ChoiceField(choices=Report.Kind.choices)
    field = serializers.CharField(max_length=40)
    code = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]*$", max_length=20,
                                  help_text='typed after "/": lower-case letters, digits, - and _')
    label = serializers.CharField(max_length=60)
    text = serializers.CharField(max_length=2000)


class PhrasePatch(PhraseIn):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class PhrasesView(APIView):
    """The expert's phrase library: their own phrases and their specialties' (GET), a new own phrase (POST)."""

    @extend_schema(parameters=[OpenApiParameter("kind", str, enum=Report.Kind.values)], responses=PhraseOut(many=True))
    def get(self, request):
        kind = request.query_params.get("kind", "")
        if kind and kind not in Report.Kind.values:
            raise InvalidInput(f"kind: one of {', '.join(Report.Kind.values)}.", code="bad_filter")
        return Response(PhraseOut(phrases.phrase_list(user=request.user, kind=kind), many=True).data)

    @extend_schema(request=PhraseIn, responses={201: PhraseOut})
    def post(self, request):
        data = validated(PhraseIn, request.data)
        phrase = phrases.phrase_create(user=request.user, **data)
        return Response(PhraseOut(phrase).data, status=status.HTTP_201_CREATED)


class PhraseView(APIView):
    """One of the expert's own phrases: change (PATCH) or delete it; anyone else's is a 404."""

    @extend_schema(request=PhrasePatch, responses=PhraseOut)
    def patch(self, request, phrase_id: int):
        data = validated(PhrasePatch, request.data)
        phrase = phrases.phrase_update(user=request.user, phrase_id=phrase_id, changes=data)
        return Response(PhraseOut(phrase).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, phrase_id: int):
        phrases.phrase_delete(user=request.user, phrase_id=phrase_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplatesView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(templates_description())
