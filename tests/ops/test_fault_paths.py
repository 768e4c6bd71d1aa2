"""The recovery paths the fault runs rely on, one at a time: the stalled-ingest sweep, and a delivery
that goes out once although the channel layer is down."""
import datetime as dt
import io
import uuid

import pytest
from channels.layers import channel_layers
from django.utils import timezone

from reports.models import Delivery
from reports.services import drafting
from reports.services.delivery import delivery_deliver
from studies.models import EcgRecord, Upload
from studies.services.ingest import uploads_ingest_stalled
from studies.services.uploads import upload_append, upload_create
from teleclinic.celery import app, beat_schedule
from tests.reports.conftest import MEASUREMENTS, fill
from tests.reports.workers import reports_tasks_routed_to
from tests.studies.ecgfiles import ecg_csv
from tests.reports.realdata import stored_real_ecg_ref

pytestmark = pytest.mark.django_db(transaction=True)
LOST = f"lost-{uuid.uuid4().hex[:8]}"  # a queue no worker consumes


@pytest.fixture
def eager_tasks():
    """Tasks run in this process, as in the embedded default (the sweep's effect is then visible here)."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def dead_channel_layer(settings):
    """The Redis channel layer pointed at a port where nothing listens: Redis is down."""
    channel_layers.backends.clear()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:9"]}}}
    yield
    channel_layers.backends.clear()


def _received_upload(doctor, consultation, completed_ago_s: float) -> Upload:
    """An ECG upload complete (state received) whose ingest task was lost: queued where no worker listens."""
    blob = ecg_csv()
    upload = upload_create(by=doctor, length=len(blob), metadata={"kind": "ecg", "consultation": str(consultation.pk)})
    app.conf.task_always_eager = False
    try:
        with reports_tasks_routed_to(LOST, patterns=("studies.*",)):
            upload_append(upload_id=upload.pk, by=doctor, offset=0, body=io.BytesIO(blob), checksum=None)
    finally:
        app.conf.task_always_eager = True
    Upload.objects.filter(pk=upload.pk).update(completed_at=timezone.now() - dt.timedelta(seconds=completed_ago_s))
    return upload


def test_an_upload_whose_ingest_was_lost_is_ingested_by_the_sweep_and_a_recent_one_is_left_alone(
        people, assigned, settings, tmp_path, eager_tasks, lost_queue_dropped):
    # given two received uploads whose tasks were lost: one completed 10 minutes ago, one just now
    settings.MEDIA_ROOT = str(tmp_path)
    doctor, consultation = people["village_doctor"], assigned()
    stalled = _received_upload(doctor, consultation, completed_ago_s=600)
    recent = _received_upload(doctor, consultation, completed_ago_s=0)
    # when beat's sweep runs twice
    swept = [uploads_ingest_stalled(), uploads_ingest_stalled()]
    # then the stalled one was ingested once, and the recent one waits for its own task
    assert swept == [1, 0]
    assert Upload.objects.get(pk=stalled.pk).state == Upload.State.INGESTED
    assert EcgRecord.objects.filter(upload=stalled.pk).count() == 1
    assert Upload.objects.get(pk=recent.pk).state == Upload.State.RECEIVED
    assert beat_schedule()["studies-sweep-stalled-ingests"]["task"] == "studies.tasks.sweep_stalled_ingests"


@pytest.fixture
def lost_queue_dropped():
    yield
    with app.connection_for_write() as connection:
        connection.default_channel.client.delete(LOST)


def test_a_delivery_made_while_the_channel_layer_is_down_is_sent_once_and_not_rolled_back(
        people, assigned, settings, tmp_path, mailoutbox, dead_channel_layer, eager_tasks):
    # given the clinic doctor with an e-mail address, and Redis (the channel layer) down
    settings.MEDIA_ROOT = str(tmp_path)
    settings.REPORTS_OUTBOUND_CHANNELS = ["email"]
    doctor, expert = people["village_doctor"], people["expert"]
    doctor.email = "vdoc@clinic.example"
    doctor.save()
    consultation = assigned()
    report = drafting.report_start(consultation_id=consultation.pk, kind="ecg", by=expert,
                                   study_ref=stored_real_ecg_ref(consultation), measurements=MEASUREMENTS)
    drafting.draft_save(report_id=report.pk, by=expert, content=fill("ecg"))
    # when the expert signs (render and delivery run at once, in this process) and the delivery runs again
    version = drafting.report_sign(report_id=report.pk, by=expert)
    delivery = Delivery.objects.get(version=version)
    again = delivery_deliver(delivery_id=delivery.pk)
    # then the signature and the delivery are committed, and exactly one e-mail went out
    assert Delivery.objects.get(pk=delivery.pk).state == Delivery.State.DELIVERED and again is False
    assert [m.extra_headers["Message-ID"].split("@")[0] for m in mailoutbox] == [f"<delivery-{delivery.pk}"]
