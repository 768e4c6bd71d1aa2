"""The OHIF Viewer at /ohif/: its prebuilt files (scripts/install-ohif.sh puts them in OHIF_ROOT),
our app-config.js, and index.html for every route of its single-page app.

Same origin as our DICOMweb: the viewer reads with the user's session cookie, so no token is ever
put in the page; every read goes through the DICOMweb views' permission checks and audit.
"""
import base64
import functools
import hashlib
import json
import re
from pathlib import Path

from whitenoise.base import WhiteNoise
from whitenoise.middleware import WhiteNoiseMiddleware

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.utils import translation
from django.utils.translation import gettext



def _root() -> Path:
    return Path(settings.OHIF_ROOT)


def ohif_installed() -> bool:
    return (_root() / "index.html").exists()


# The reading page's "Compare with this prior": the case's study left, the prior right, one viewport each.
# OHIF's own @ohif/hpCompare opens its first stage, a 2x2 grid for two series of each study (OHIF starts
# a protocol at the stage its URL names by id, and that protocol's stages have none), so with one series
# each its lower row stays empty. Ours, registered by a small extension in app-config.js (OHIF registers
# the hanging protocol module of every extension listed there), has the 1x2 stage first.
COMPARE_PROTOCOL_ID = "@teleclinic/hpCompare"


def _compare_protocol(name: str) -> dict:
    def selector(study_index: int) -> dict:  # the URL's first study is the case's, the second the prior
        return {
            "studyMatchingRules": [{"attribute": "studyInstanceUIDsIndex", "from": "options", "required": True,
                                    "constraint": {"equals": {"value": study_index}}}],
            "seriesMatchingRules": [{"attribute": "numImageFrames", "constraint": {"greaterThan": {"value": 0}}},
                                    {"attribute": "isDisplaySetFromUrl", "weight": 20,
                                     "constraint": {"equals": True}}],
        }

    def viewports(*selectors: str, second_series: bool = False) -> list[dict]:
        options = {"toolGroupId": "default", "allowUnmatchedView": True}
        return [{"viewportOptions": options, "displaySets": [{"id": s, "matchedDisplaySetsIndex": int(second_series)}]}
                for s in selectors]

    def stage(stage_id: str, rows: int, viewports: list[dict]) -> dict:
        return {"id": stage_id, "name": stage_id, "stageActivation": {"enabled": {"minViewportsMatched": len(viewports)}},
                "viewportStructure": {"layoutType": "grid", "properties": {"rows": rows, "columns": 2}},
                "viewports": viewports}

    pair = ("defaultDisplaySetId", "priorDisplaySetId")
    return {
        "id": COMPARE_PROTOCOL_ID, "name": name, "numberOfPriorsReferenced": 1, "toolGroupIds": ["default"],
        "protocolMatchingRules": [{"id": "Two Studies", "weight": 1000, "attribute": "StudyInstanceUID",
                                   "from": "prior", "required": True, "constraint": {"notNull": True}}],
        "displaySetSelectors": {pair[0]: selector(0), pair[1]: selector(1)},
        "defaultViewport": {"viewportOptions": {"viewportType": "stack", "toolGroupId": "default",
                                                "allowUnmatchedView": True},
                            "displaySets": [{"id": pair[0], "matchedDisplaySetsIndex": -1}]},
        # 1x2 first (what the link opens); 2x2, for two series of each study, from OHIF's layout menu
        "stages": [stage("1x2", 1, viewports(*pair)),
                   stage("2x2", 2, viewports(*pair) + viewports(*pair, second_series=True))],
    }


def app_config(request) -> str:
    """window.config for OHIF: one DICOMweb data source, ours, on this origin."""
    source = {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
        "sourceName": "teleclinic",
        "configuration": {
            "friendlyName": "Teleclinic", "name": "teleclinic",
            "qidoSupportsIncludeField": False, "imageRendering": "wadors", "thumbnailRendering": "thumbnail",
            "enableStudyLazyLoad": True, "supportsFuzzyMatching": False, "supportsWildcard": False,
            "staticWado": False, "singlepart": "bulkdata,video",
            "bulkDataURI": {"enabled": True, "relativeResolution": "studies"},
            "omitQuotationForMultipartRequest": True,
        },
    }
    config = {
        "routerBasename": "/ohif", "showStudyList": True, "extensions": [], "modes": [],
        # no onboarding tour: the viewer is opened from the reading page many times a day
        "customizationService": {"ohif.tours": {"$set": []}}, "maxNumberOfWebWorkers": 2, "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": True, "showLoadingIndicator": True, "strictZSpacingForVolumeViewport": True,
        "investigationalUseDialog": {"option": "never"},
        "maxNumRequests": {"interaction": 100, "thumbnail": 5, "prefetch": 10},
        "defaultDataSourceName": "teleclinic", "dataSources": [source],
    }
    compare = _compare_protocol(gettext("Case and prior side by side"))
    roots = ("wadoUriRoot", "qidoRoot", "wadoRoot")
    # the viewer speaks the language of our pages (its i18next reads localStorage before the browser's)
    language = "zh" if translation.get_language().startswith("zh") else "en-US"
    return ("window.config = " + json.dumps(config, indent=1) + ";\n"
            + f"try {{ window.localStorage.setItem('i18nextLng', {json.dumps(language)}); }} catch (e) {{}}\n"
            + "window.config.extensions.push({id: '@teleclinic/extension-compare', getHangingProtocolModule: () => "
            + f"[{{name: {json.dumps(COMPARE_PROTOCOL_ID)}, protocol: {json.dumps(compare)}}}]}});\n"
            # the roots are this page's origin: right behind any proxy, and no host baked in
            + "".join(f"window.config.dataSources[0].configuration.{r} = window.location.origin + '/dicomweb';\n"
                      for r in roots))


_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


@functools.lru_cache(maxsize=4)
def _inline_script_hashes(index_html: Path, mtime_ns: int) -> tuple[str, ...]:
    """The sha256 sources of index.html's inline scripts (the prebuilt page has two: its timer and its
    import shim), so the policy allows exactly those and no other inline code."""
    scripts = _INLINE_SCRIPT.findall(index_html.read_bytes())
    return tuple(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts)


def content_security_policy() -> str:
    """The viewer's own policy: stricter than none, looser than the pages' (teleclinic.middleware).

    Scripts: its files, index.html's two inline scripts by hash, and WebAssembly compilation (its image
    codecs); never `unsafe-eval`. Styles: inline allowed (React sets style attributes everywhere).
    Data only from this origin (our DICOMweb); workers and decoded images from blob:; not framed by
    another site."""
    index = _root() / "index.html"
    hashes = " ".join(_inline_script_hashes(index, index.stat().st_mtime_ns))
    return "; ".join([
        "default-src 'self'", f"script-src 'self' {hashes} 'wasm-unsafe-eval'", "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:", "font-src 'self' data:", "connect-src 'self' data: blob:",
        "worker-src 'self' blob:", "media-src 'self' blob:", "object-src 'none'", "base-uri 'self'",
        "form-action 'self'", "frame-ancestors 'self'",
    ])


@login_required
def ohif(request, path: str = ""):
    response = _ohif(request, path)
    if ohif_installed():
        response["Content-Security-Policy"] = content_security_policy()
    return response


# The build names its chunks and WebAssembly by content hash (`2493.bundle.c4af70e46357151f.js`,
# `0ddf166f7a343eda.wasm`): such a file never changes under its name, so the browser keeps it a year
# without asking again. The others (its worker entry points, fonts, icons) for a day.
_HASHED_NAME = re.compile(r"(^|[./])[0-9a-f]{16}\.[a-z0-9]+$")
_URL_PREFIX = "/ohif/"
_BLOCK_SIZE = 1 << 20  # read the file in 1 MiB blocks (ASGI sends 64 KiB messages): 8 KiB blocks cost one send each


def _is_hashed(path: str, url: str) -> bool:
    return bool(_HASHED_NAME.search(url.rsplit("/", 1)[-1]))


@functools.lru_cache(maxsize=4)
def _files(root: Path, mtime_ns: int) -> WhiteNoise:
    """The viewer's files served by WhiteNoise's file server: the precompressed `.gz` beside a file
    (scripts/install-ohif.sh) when the browser accepts gzip (Content-Encoding, Vary), ETag and
    If-None-Match, Range, and the cache headers above. Scanned once per install (the marker's mtime)."""
    server = WhiteNoise(application=None, max_age=86400, allow_all_origins=False, immutable_file_test=_is_hashed)
    server.add_files(str(root), prefix=_URL_PREFIX)
    return server


def _static_file(root: Path, path: str):
    index = root / "index.html"
    return _files(root, index.stat().st_mtime_ns).files.get(_URL_PREFIX + path)


def _ohif(request, path: str):
    root = _root()
    if not ohif_installed():
        return HttpResponse("The OHIF Viewer is not installed on this server (scripts/install-ohif.sh).",
                            status=404, content_type="text/plain; charset=utf-8")
    if path == "app-config.js":
        return HttpResponse(app_config(request), content_type="text/javascript; charset=utf-8")
    static_file = _static_file(root, path) if path and path != "index.html" else None
    if static_file is not None:
        response = WhiteNoiseMiddleware.serve(static_file, request)
        if isinstance(response, FileResponse):
            response.block_size = _BLOCK_SIZE
        return response
    if "." in Path(path).name:  # a missing file, not a route of the app
        raise Http404("No such file in the OHIF Viewer.")
    return FileResponse(open(root / "index.html", "rb"), content_type="text/html; charset=utf-8")
