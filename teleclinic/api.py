"""What every app's API shares: strict input serializers, the schema of paginated lists."""
from functools import cache

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

# The query parameters of DRF's LimitOffsetPagination (settings.REST_FRAMEWORK), for list views'
# schemas: an APIView does not get them from drf-spectacular by itself.
PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="rows per page (default 50)"),
    OpenApiParameter("offset", int, description="rows to skip"),
]


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses unknown fields and non-object bodies, with a reason."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({"non_field_errors": [f"Unknown field(s): {', '.join(unknown)}."]})
        return super().to_internal_value(data)


def validated(serializer_class, data) -> dict:
    """Validate a request body with an input serializer; a 400 with the reason otherwise."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@cache
def paginated(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of one LimitOffsetPagination page of `serializer_class`, for `extend_schema(responses=...)`.

    An APIView that paginates by hand is otherwise documented as a bare array (schemathesis found it).
    """
    fields = {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": serializer_class(many=True),
    }
    name = f"Paginated{serializer_class.__name__.removesuffix('Out')}List"
    return type(name, (serializers.Serializer,), fields)

