"""What every app's API shares: strict input serializers and the request context for audits."""
from rest_framework import serializers


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
