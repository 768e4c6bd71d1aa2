"""tus-js-client (unmodified, in Node) against a live Daphne. `make install-test` installs the pinned
client into tests/js/node_modules (scripts/install-test-js.sh); a missing client or node fails the test."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from studies.models import Upload
from tests.conftest import ROOT
from tests.studies.conftest import upload_id_of

MODULES = ROOT / "tests" / "js" / "node_modules"
pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = """
const tus = require("tus-js-client");
const data = Buffer.alloc(300 * 1024, 7);
const upload = new tus.Upload(data, {
  endpoint: process.argv[2], chunkSize: 64 * 1024, retryDelays: [0, 100],
  headers: {Authorization: "Token " + process.argv[3]},
  metadata: {filename: "../../paper-ecg.jpg", kind: "auto"},
  onSuccess: () => console.log(JSON.stringify({url: upload.url})),
  onError: (e) => { console.log(JSON.stringify({error: String(e)})); process.exit(1); },
});
upload.start();
"""


def test_tus_js_client_uploads_in_chunks(daphne_server, people, token_for, tmp_path):
    assert shutil.which("node"), "node is missing: run `make install-test` (scripts/install-system-deps.sh)"
    assert (MODULES / "tus-js-client").is_dir(), "tus-js-client is missing: run `make install-test`"
    script = tmp_path / "upload.js"
    script.write_text(SCRIPT)
    result = subprocess.run(["node", str(script), f"{daphne_server.url}/api/uploads/",
                             token_for(people["village_doctor"])], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, NODE_PATH=str(MODULES)))
    assert result.returncode == 0, result.stdout + result.stderr
    upload = Upload.objects.get(pk=upload_id_of(json.loads(result.stdout)["url"]))
    assert upload.offset == upload.length == 300 * 1024
    assert upload.sha256 == hashlib.sha256(bytes([7]) * 300 * 1024).hexdigest()
    assert upload.filename == "paper-ecg.jpg"
