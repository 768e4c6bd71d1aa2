"""Shared fixtures: a small 医共体, users of every role, API clients, a real Celery worker."""
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from directory.models import Organisation, User
from tests.factories import (ConsultationFactory, ExpertFactory, OrganisationFactory, PatientFactory,
                             SpecialtyFactory, UserFactory)
from tests.factories.scheduling import AssignmentFactory, OnCallShiftFactory
from tests.ports import free_port  # noqa: F401  (re-exported: tests import it from here)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"


@dataclass
class Community:
    """lead -> township A -> villages A1, A2; lead -> township B -> village B1; plus a foreign community."""

    lead: Organisation
    township_a: Organisation
    village_a1: Organisation
    village_a2: Organisation
    township_b: Organisation
    village_b1: Organisation
    foreign_lead: Organisation
    foreign_village: Organisation


@pytest.fixture
def community(db) -> Community:
    K = Organisation.Kind
    lead = OrganisationFactory(code="lead", name="县人民医院", kind=K.LEAD_HOSPITAL)
    township_a = OrganisationFactory(code="town-a", name="城关镇卫生院", kind=K.TOWNSHIP_CENTRE, parent=lead)
    township_b = OrganisationFactory(code="town-b", name="青山镇卫生院", kind=K.TOWNSHIP_CENTRE, parent=lead)
    foreign_lead = OrganisationFactory(code="other-lead", name="邻县医院", kind=K.LEAD_HOSPITAL)
    return Community(
        lead=lead, township_a=township_a, township_b=township_b, foreign_lead=foreign_lead,
        village_a1=OrganisationFactory(code="vil-a1", name="东风村卫生室", parent=township_a),
        village_a2=OrganisationFactory(code="vil-a2", name="红旗村卫生室", parent=township_a),
        village_b1=OrganisationFactory(code="vil-b1", name="石桥村卫生室", parent=township_b),
        foreign_village=OrganisationFactory(code="other-vil", name="外县村卫生室", parent=foreign_lead),
    )


@pytest.fixture
def cardiology(db):
    return SpecialtyFactory(code="cardiology", name="心血管内科")


@pytest.fixture
def people(community, cardiology):
    """One user per role, placed in the community fixture's tree."""
    R = User.Role
    expert = ExpertFactory(user=UserFactory(username="expert", role=R.EXPERT, organisation=community.lead),
                           specialties=[cardiology])
    return {
        "village_doctor": UserFactory(username="vdoc", role=R.VILLAGE_DOCTOR, organisation=community.village_a1),
        "other_village_doctor": UserFactory(username="vdoc-a2", role=R.VILLAGE_DOCTOR, organisation=community.village_a2),
        "township_doctor": UserFactory(username="tdoc", role=R.TOWNSHIP_DOCTOR, organisation=community.township_a),
        "expert": expert.user,
        "other_expert": ExpertFactory(user=UserFactory(username="expert2", role=R.EXPERT, organisation=community.lead),
                                      specialties=[cardiology]).user,
        "coordinator": UserFactory(username="coord", role=R.COORDINATOR, organisation=community.lead),
        "foreign_coordinator": UserFactory(username="coord-x", role=R.COORDINATOR, organisation=community.foreign_lead),
        "admin": UserFactory(username="admin", role=R.ADMIN, organisation=community.lead, is_staff=True,
                             is_superuser=True),
    }


@pytest.fixture
def patient_factory(db):
    return PatientFactory


@pytest.fixture
def consultation_factory(db):
    return ConsultationFactory


@pytest.fixture
def assignment_factory(db):
    return AssignmentFactory


@pytest.fixture
def on_duty(people, cardiology):
    """Both cardiology experts on an on-call shift right now; their Expert rows."""
    experts = people["expert"].expert, people["other_expert"].expert
    for expert in experts:
        OnCallShiftFactory(expert=expert, specialty=cardiology)
    return experts


@pytest.fixture
def api():
    """An API client logged in as the given user: api(user)."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def postgres_url(*, user: str | None = None, password: str | None = None) -> str:
    """The test database's URL for another process (its password included), or for another role."""
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    user = user or s["USER"] or "postgres"
    password = s["PASSWORD"] if password is None and user == (s["USER"] or "postgres") else password
    secret = f":{quote(password, safe='')}" if password else ""
    return f"postgres://{quote(user, safe='')}{secret}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class _SharedWorker:
    """The session's Celery worker, supervised: a worker that died since the last test (kombu's Redis
    transport crashes the worker when Redis restarts while it holds unacknowledged ETA tasks, as
    tests/ops/test_redis_restart.py does) is started again, as compose's restart policy and
    scripts/scaled.sh do in production."""

    def __init__(self, database_url: str, directory: Path):
        self.database_url, self.directory, self.proc, self.starts = database_url, directory, None, 0

    def ensure(self) -> subprocess.Popen:
        if self.proc is not None and self.proc.poll() is None:
            return self.proc
        if self.proc is not None:
            print(f"the shared Celery worker had exited ({self.proc.returncode}); its log: {self.proc.log_path}; "
                  f"starting it again")
        self.starts += 1
        log = self.directory / f"worker-{self.starts}.log"
        env = dict(os.environ, DATABASE_URL=self.database_url, DJANGO_SETTINGS_MODULE="teleclinic.test_settings")
        name = f"test-{uuid.uuid4().hex[:8]}@%h"
        command = [sys.executable, "-m", "celery", "-A", "teleclinic", "worker", "-l", "info", "-c", "2",
                   "--without-gossip", "--without-mingle", "-n", name]
        with open(log, "w") as out:
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"Celery worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        proc.log_path = log
        self.proc = proc
        return proc

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def _shared_celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    from teleclinic.celery import app

    with django_db_blocker.unblock():
        database_url = postgres_url()
    app.control.purge()
    worker = _SharedWorker(database_url, tmp_path_factory.mktemp("celery"))
    yield worker
    worker.stop()


def task_result(worker: subprocess.Popen, result, timeout: float = 30.0) -> str:
    """The return value (its repr) that `worker` logged for the task behind `result` (an AsyncResult of
    .delay()), once it has run. The settings keep no result backend (CELERY_TASK_IGNORE_RESULT), so the
    worker's own log line "Task <name>[<id>] succeeded in <s>: <value>" is where the result is seen."""
    pattern = re.compile(rf"Task [\w.]+\[{re.escape(result.id)}\] (succeeded in [\d.e-]+s: (.*)|raised .*)$", re.M)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = pattern.search(worker.log_path.read_text())
        if match:
            assert match.group(2) is not None, f"the task failed in the worker: {match.group(0)}"
            return match.group(2)
        time.sleep(0.1)
    raise AssertionError(f"task {result.id} did not finish within {timeout} s; worker log: {worker.log_path}")


@pytest.fixture
def celery_worker_process(_shared_celery_worker):
    """A real Celery worker in its own process, on the test database and the test Redis (alive for this test)."""
    return _shared_celery_worker.ensure()
