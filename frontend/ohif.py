"""The OHIF Viewer at /ohif/: its prebuilt files (scripts/install-ohif.sh puts them in OHIF_ROOT),
our app-config.js, and index.html for every route of its single-page app.

Same origin as our DICOMweb: the viewer reads with the user's session cookie, so no token is ever
put in the page; every read goes through the DICOMweb views' permission checks and audit.
"""
import json
import mimetypes
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse

mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".js")


def _root() -> Path:
    return Path(settings.OHIF_ROOT)


def ohif_installed() -> bool:
    return (_root() / "index.html").exists()


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
        "customizationService": {}, "maxNumberOfWebWorkers": 2, "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": True, "showLoadingIndicator": True, "strictZSpacingForVolumeViewport": True,
        "investigationalUseDialog": {"option": "never"},
        "maxNumRequests": {"interaction": 100, "thumbnail": 5, "prefetch": 10},
        "defaultDataSourceName": "teleclinic", "dataSources": [source],
    }
    roots = ("wadoUriRoot", "qidoRoot", "wadoRoot")
    return ("window.config = " + json.dumps(config, indent=1) + ";\n"
            # the roots are this page's origin: right behind any proxy, and no host baked in
            + "".join(f"window.config.dataSources[0].configuration.{r} = window.location.origin + '/dicomweb';\n"
                      for r in roots))


@login_required
def ohif(request, path: str = ""):
    root = _root()
    if not ohif_installed():
        return HttpResponse("The OHIF Viewer is not installed on this server (scripts/install-ohif.sh).",
                            status=404, content_type="text/plain; charset=utf-8")
    if path == "app-config.js":
        return HttpResponse(app_config(request), content_type="text/javascript; charset=utf-8")
    target = (root / path).resolve()
    if path and target.is_file() and target.is_relative_to(root.resolve()):
        response = FileResponse(open(target, "rb"), content_type=mimetypes.guess_type(target.name)[0])
        response["Cache-Control"] = "private, max-age=86400"
        return response
    if "." in Path(path).name:  # a missing file, not a route of the app
        raise Http404("No such file in the OHIF Viewer.")
    return FileResponse(open(root / "index.html", "rb"), content_type="text/html; charset=utf-8")
