"""The FHIR R4 base (/fhir/): read, search (searchset Bundles with paging and _include), metadata.

Every row comes through directory.access (scoped / access_get): what is out of reach answers 404
exactly as what does not exist, and a search never finds it. Every resource returned (matches and
includes) is audited as read by the caller, with interface "fhir" (a system client: its user, with
the client id and organisation in the detail). Errors are OperationOutcomes (errors.py).
"""
from urllib.parse import urlencode

from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_record_many
from directory.access import VIEW, access_get, scoped
from teleclinic.auth import ExpiringTokenAuthentication

from . import capability
from .auth import SystemClientAuthentication
from .errors import FhirError, fhir_exception_handler
from .resources import TYPES, Context, ResourceType
from .services import client_detail

FHIR_JSON = "application/fhir+json"
DEFAULT_COUNT, MAX_COUNT = 20, 200
MAX_OFFSET = 1_000_000
CONTROL = {"_count", "_offset", "_include", "_format", "_total"}
FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}


class FhirJsonRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "json"


class AlwaysFhirJson(BaseContentNegotiation):
    """FHIR JSON whatever the Accept header (a FHIR server may answer in its one format)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class FhirView(APIView):
    authentication_classes = [SystemClientAuthentication, SessionAuthentication, ExpiringTokenAuthentication]
    renderer_classes = [FhirJsonRenderer]
    content_negotiation_class = AlwaysFhirJson

    def get_exception_handler(self):
        return fhir_exception_handler

    def _type(self, resource_type: str) -> ResourceType:
        spec = TYPES.get(resource_type)
        if spec is None:
            raise FhirError(f"This server has no resource type {resource_type!r} (see {self._base()}metadata).",
                            status=404, code="unknown_resource_type")
        return spec

    def _base(self) -> str:
        return self.request.build_absolute_uri("/fhir/")

    def _context(self) -> Context:
        return Context(absolute=self.request.build_absolute_uri)

    def _audit(self, spec: ResourceType, rows: list) -> None:
        if not rows:
            return
        client = getattr(self.request, "fhir_client", None)
        detail = {"fhir": spec.name, **(client_detail(client) if client is not None else {})}
        audit_record_many(actor=self.request.user, action="read", objs=rows, interface="fhir", request=self.request,
                          detail=detail, ids_of=spec.ids_of)


class ReadView(FhirView):
    @extend_schema(exclude=True)
    def get(self, request, resource_type: str, resource_id: str):
        spec = self._type(resource_type)
        lookup = spec.lookup(resource_id)
        not_found = f"No {resource_type}/{resource_id} in your reach."
        if lookup is None:
            raise FhirError(not_found, status=404, code="not_found")
        row = access_get(request.user, spec.queryset(), VIEW, not_found=not_found, **lookup)
        self._audit(spec, [row])
        return Response(spec.build(row, Context(absolute=request.build_absolute_uri, single=True)))


class SearchView(FhirView):
    @extend_schema(exclude=True)
    def get(self, request, resource_type: str):
        spec = self._type(resource_type)
        lenient = "handling=lenient" in request.headers.get("Prefer", "").replace(" ", "")
        query, ignored = self._filters(spec, lenient)
        count, offset = self._paging()
        includes = self._includes(spec, lenient, ignored)
        rows = scoped(request.user, spec.search_queryset(), VIEW).filter(query).order_by(*spec.order)
        total = rows.count()
        page = list(rows[offset:offset + count]) if count else []
        self._audit(spec, page)
        context = self._context()
        entries = [self._entry(spec, row, context, "match") for row in page]
        for include in includes:
            entries.extend(self._included(include, page, context, entries))
        if ignored:
            entries.append({"resource": _warning(f"Ignored: {', '.join(sorted(ignored))}"),
                            "search": {"mode": "outcome"}})
        return Response({"resourceType": "Bundle", "type": "searchset", "total": total,
                         "link": self._links(total, count, offset), "entry": entries})

    def _filters(self, spec: ResourceType, lenient: bool):
        from django.db.models import Q

        query, ignored = Q(), set()
        for key in self.request.query_params:
            name, _, modifier = key.partition(":")
            if name in CONTROL:
                if name == "_format" and self.request.query_params[key] not in FORMATS:
                    raise FhirError("Only JSON is served (_format=json).", status=406, code="unsupported_format")
                continue
            param = spec.params.get(name)
            if param is None or (modifier and modifier not in param.modifiers):
                if lenient:
                    ignored.add(key)
                    continue
                raise FhirError(f"Unknown search parameter {key!r} for {spec.name} (see {self._base()}metadata; "
                                f"send 'Prefer: handling=lenient' to have unknown parameters ignored).",
                                code="unknown_search_parameter")
            for value in self.request.query_params.getlist(key):  # repeated: AND
                if value == "":
                    raise FhirError(f"Search parameter {key} is empty.", code="bad_search_parameter")
                negate = modifier == "not"
                one_of = Q(pk__in=[])
                for part in value.split(","):  # a comma: OR
                    one_of |= param.to_q(name, "" if negate else modifier, part)
                query &= ~one_of if negate else one_of
        return query, ignored

    def _paging(self) -> tuple[int, int]:
        params = self.request.query_params
        count = _number(params.get("_count"), "_count", DEFAULT_COUNT, 10**9)  # above MAX_COUNT: a page of it
        offset = _number(params.get("_offset"), "_offset", 0, MAX_OFFSET)
        return min(count, MAX_COUNT), offset

    def _includes(self, spec: ResourceType, lenient: bool, ignored: set) -> list:
        found = []
        for value in self.request.query_params.getlist("_include"):
            include = spec.includes.get(value)
            if include is None:
                if lenient:
                    ignored.add(f"_include={value}")
                    continue
                raise FhirError(f"_include={value!r} is not supported for {spec.name}; supported: "
                                f"{', '.join(spec.includes) or 'none'}.", code="unknown_include")
            if include not in found:
                found.append(include)
        return found

    def _included(self, include, page: list, context: Context, entries: list) -> list:
        target = TYPES[include.target]
        ids = {pk for row in page for pk in include.ids(row)}
        present = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in entries}
        if not ids:
            return []
        rows = [row for row in scoped(self.request.user, target.queryset(), VIEW).filter(pk__in=ids).order_by("pk")
                if (target.name, str(row.pk)) not in present]  # beyond reach: simply not included
        self._audit(target, rows)
        return [self._entry(target, row, context, "include") for row in rows]

    def _entry(self, spec: ResourceType, row, context: Context, mode: str) -> dict:
        resource = spec.build(row, context)
        return {"fullUrl": f"{self._base()}{spec.name}/{resource['id']}", "resource": resource,
                "search": {"mode": mode}}

    def _links(self, total: int, count: int, offset: int) -> list[dict]:
        path = self.request.build_absolute_uri(self.request.path)
        kept = [(k, v) for k in self.request.query_params if k not in ("_count", "_offset")
                for v in self.request.query_params.getlist(k)]

        def url(at: int) -> str:
            return f"{path}?{urlencode(kept + [('_count', count), ('_offset', at)])}"

        links = [{"relation": "self", "url": url(offset)}]
        if count and offset + count < total:
            links.append({"relation": "next", "url": url(offset + count)})
        if count and offset > 0:
            links.append({"relation": "previous", "url": url(max(0, offset - count))})
        if count:
            links.insert(1, {"relation": "first", "url": url(0)})
        return links


class MetadataView(FhirView):
    permission_classes = [AllowAny]  # the CapabilityStatement is public: it tells a client how to log in

    @extend_schema(exclude=True)
    def get(self, request):
        return Response(capability.statement(base=self._base(), token_url=request.build_absolute_uri("/fhir/auth/token")))


class UnknownView(FhirView):
    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request, rest: str = ""):
        raise FhirError(f"No FHIR interaction at /fhir/{rest} (see {self._base()}metadata).", status=404,
                        code="not_found")

    post = put = patch = delete = get


def _number(raw: str | None, name: str, default: int, limit: int) -> int:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) > limit:
        raise FhirError(f"{name} must be a whole number from 0 to {limit}.", code="bad_search_parameter")
    return int(raw)


def _warning(text: str) -> dict:
    from .errors import outcome

    body = outcome(200, "ignored_parameter", text, severity="warning")
    body["issue"][0]["code"] = "not-supported"
    return body
