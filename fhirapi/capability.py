"""The CapabilityStatement at [base]/metadata, made from the resource table (resources.TYPES)."""
from django.conf import settings

from .auth import READ_SCOPE
from .resources import TYPES

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def statement(*, base: str, token_url: str) -> dict:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-07",
        "publisher": "Teleclinic",
        "kind": "instance",
        "software": {"name": "Teleclinic", "version": getattr(settings, "SPECTACULAR_SETTINGS", {}).get("VERSION", "")},
        "implementation": {"description": "Teleclinic FHIR R4 API (read and search)", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": ("Searches return each report's current version; _count (default 20, at most 200) "
                              "and _offset page the results, with next/previous links. Unknown parameters are "
                              "refused (400) unless the request sends 'Prefer: handling=lenient'."),
            "security": {
                "cors": False,
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                         "code": "OAuth", "display": "OAuth"}]}],
                "description": (f"OAuth2 client credentials (a client registered with `manage.py fhir_client`), "
                                f"scope {READ_SCOPE}: POST {token_url}. Staff may use their session or API token."),
                "extension": [{"url": OAUTH_URIS, "extension": [{"url": "token", "valueUri": token_url}]}],
            },
            "resource": [_resource(spec) for spec in TYPES.values()],
        }],
    }


def _resource(spec) -> dict:
    resource = {
        "type": spec.name,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [{"name": name, "type": param.type, **({"documentation": param.doc} if param.doc else {})}
                        for name, param in spec.params.items()],
    }
    if spec.includes:
        resource["searchInclude"] = list(spec.includes)
    return resource
