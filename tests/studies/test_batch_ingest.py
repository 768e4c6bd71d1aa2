"""DICOM ingest in batches (STOW-RS): per-instance outcomes, de-duplication, files durable before
rows, one event per study."""
import hashlib
import io

import pydicom
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pydicom.uid import generate_uid

from studies.formats.errors import FormatError
from studies.models import ImagingStudy, Instance, Series
from studies.services import dicom_store
from studies.services import ingest as ingest_service
from studies.services.ingest import Source, Stored, ingest_dicom_batch
from studies.services.storage import FileBatch, files_or_nothing, media_path
from tests.studies.conftest import sample_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def consultation(consultation_factory, community, people, cardiology):
    return consultation_factory(patient__home_clinic=community.village_a1, requested_by=people["village_doctor"],
                                specialty=cardiology)


@pytest.fixture
def source(people, consultation):
    doctor = people["village_doctor"]
    return Source(by=doctor, organisation=doctor.organisation, consultation=consultation, interface="dicomweb")


def instances(name: str, count: int, study_uid: str | None = None) -> list[bytes]:
    """`count` instances of one series of a pydicom test file, each with its own SOP Instance UID."""
    ds = pydicom.dcmread(io.BytesIO(sample_bytes(name)))
    ds.StudyInstanceUID = study_uid or ds.StudyInstanceUID
    blobs = []
    for number in range(1, count + 1):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = number
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        blobs.append(out.getvalue())
    return blobs


def stored_files(root) -> list:
    return sorted(p for p in (root / "studies").rglob("*") if p.is_file()) if (root / "studies").exists() else []


def test_a_batch_stores_every_instance_with_its_original_bytes_preamble_zeroed(source, media):
    # given two series of two studies in one STOW-RS request
    blobs = instances("CT_small.dcm", 5) + instances("MR_small.dcm", 3)
    # when it is ingested as one batch
    results = ingest_dicom_batch(datas=blobs, source=source)
    # then every instance is stored once, its file the original with a zeroed preamble
    assert all(isinstance(r, Stored) and r.created for r in results)
    assert (ImagingStudy.objects.count(), Series.objects.count(), Instance.objects.count()) == (2, 2, 8)
    for blob, result in zip(blobs, results):
        stored = media_path(result.instance.file).read_bytes()
        assert stored == bytes(128) + blob[128:]
        assert result.instance.sha256 == hashlib.sha256(stored).hexdigest()
    assert len(stored_files(media)) == 8
    # and the first instance of each study is the one that created it
    assert [r.study_created for r in results] == [True, False, False, False, False, True, False, False]


def test_duplicates_in_the_batch_and_already_stored_are_not_stored_again(source, media):
    blobs = instances("CT_small.dcm", 3)
    first = ingest_dicom_batch(datas=blobs[:1], source=source)[0]
    # when the batch repeats the stored instance and one of its own
    results = ingest_dicom_batch(datas=[blobs[0], blobs[1], blobs[2], blobs[1]], source=source)
    # then those are reported as already stored, pointing to the stored rows, and no file is left for them
    assert [r.created for r in results] == [False, True, True, False]
    assert results[0].instance.pk == first.instance.pk and results[3].instance.pk == results[1].instance.pk
    assert Instance.objects.count() == 3 and len(stored_files(media)) == 3


def test_a_bad_instance_gets_its_error_and_the_others_are_stored(source, people, consultation_factory, media):
    # given a batch with a truncated instance and an instance of a study already filed under another patient
    other = consultation_factory(patient__home_clinic=people["village_doctor"].organisation)
    foreign = instances("MR_small.dcm", 1)
    ingest_dicom_batch(datas=foreign, source=Source(by=source.by, organisation=source.organisation,
                                                    consultation=other))
    good = instances("CT_small.dcm", 2)
    again = instances("MR_small.dcm", 1)  # same study UID as `foreign`
    truncated = good[0][: len(good[0]) // 2]
    # when it is ingested
    results = ingest_dicom_batch(datas=[good[0], truncated, again[0], good[1]], source=source)
    # then each bad one has its own clear error, the good ones are stored, and no file is left for the bad ones
    assert results[0].created and results[3].created
    assert isinstance(results[1], FormatError) and results[1].code == "truncated_file"
    assert results[2].code == "study_patient_mismatch"
    assert Instance.objects.count() == 3 and len(stored_files(media)) == 3


def test_a_batch_costs_a_few_queries_not_a_few_per_instance(source):
    ingest_dicom_batch(datas=instances("CT_small.dcm", 1), source=source)  # the study and series exist
    blobs = instances("CT_small.dcm", 40)
    with CaptureQueriesContext(connection) as queries:
        results = ingest_dicom_batch(datas=blobs, source=source)
    assert all(r.created for r in results)
    assert len(queries) <= 8, [q["sql"][:80] for q in queries]


def test_one_study_ready_event_per_new_study_not_per_instance(source, monkeypatch):
    events = []
    monkeypatch.setattr(ingest_service.notify, "studies_ready", lambda items, **_: events.extend(items))
    ingest_dicom_batch(datas=instances("CT_small.dcm", 10) + instances("MR_small.dcm", 10), source=source)
    assert sorted(e.study_instance_uid for e in events) == sorted(ImagingStudy.objects.values_list(
        "study_instance_uid", flat=True))


def test_the_study_ready_events_of_a_batch_reach_the_users_after_commit(source, consultation,
                                                                       django_capture_on_commit_callbacks):
    import asyncio

    from asgiref.sync import async_to_sync, sync_to_async
    from channels.layers import get_channel_layer

    from teleclinic.events import user_group

    layer, group = get_channel_layer(), user_group(consultation.requested_by_id)
    blobs = instances("CT_small.dcm", 3) + instances("MR_small.dcm", 3)

    def ingest_and_commit():
        with django_capture_on_commit_callbacks(execute=True):
            ingest_dicom_batch(datas=blobs, source=source)

    async def scenario():
        # given the requesting doctor listening on their notification group (the real channel layer)
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            # when a batch with two new studies commits
            await sync_to_async(ingest_and_commit, thread_sensitive=True)()
            return [(await asyncio.wait_for(layer.receive(channel), 10))["payload"] for _ in range(2)]
        finally:
            await layer.group_discard(group, channel)

    events = async_to_sync(scenario)()
    # then they get one study.ready per study
    assert {e["type"] for e in events} == {"study.ready"}
    assert sorted(e["study_instance_uid"] for e in events) == sorted(
        ImagingStudy.objects.values_list("study_instance_uid", flat=True))


def test_every_file_is_durable_before_the_rows_commit(source, monkeypatch):
    # given a record of when files are written, fsynced (the files, then their folder) and rows inserted
    from studies.services import storage

    steps = []
    real_stage, real_fsync, real_folder = FileBatch.stage, storage._fsync_and_close, storage._fsync_path
    real_store = dicom_store.store_dicom_instances

    def stage(self, name, data):
        steps.append("write")
        return real_stage(self, name, data)

    def fsync(fds):
        real_fsync(fds)
        steps.extend(["fsync"] * len(fds))

    def folder(path):
        real_folder(path)
        steps.append("folder")

    def store(*, items, **kwargs):
        steps.append("rows")
        assert all(media_path(name).read_bytes() == parsed.stored_bytes for parsed, name in items)
        return real_store(items=items, **kwargs)

    monkeypatch.setattr(FileBatch, "stage", stage)
    monkeypatch.setattr(storage, "_fsync_and_close", fsync)
    monkeypatch.setattr(storage, "_fsync_path", folder)
    monkeypatch.setattr(dicom_store, "store_dicom_instances", store)
    # when a batch of 20 is ingested
    ingest_dicom_batch(datas=instances("CT_small.dcm", 20), source=source)
    # then every file and its folder were fsynced before any row was written
    rows = steps.index("rows")
    assert steps.count("write") == steps[:rows].count("fsync") == 20
    assert "folder" in steps[:rows] and steps[rows:] == ["rows"]


def test_staged_files_are_removed_when_the_transaction_rolls_back(media):
    from django.db import transaction

    with pytest.raises(RuntimeError):
        with files_or_nothing() as files, transaction.atomic():
            for n in range(5):
                files.stage(f"studies/t/{n}.bin", b"x" * 1000)
            raise RuntimeError("boom")
    assert stored_files(media) == []


def test_a_name_taken_already_is_never_overwritten(media):
    FileBatch().write("studies/t/a.bin", b"first")
    with pytest.raises(FileExistsError):
        FileBatch().write("studies/t/a.bin", b"second")
    assert media_path("studies/t/a.bin").read_bytes() == b"first"


def test_an_instance_whose_series_is_filed_under_another_study_is_refused_and_leaves_no_study(source, media):
    # given a stored series
    stored = ingest_dicom_batch(datas=instances("CT_small.dcm", 1), source=source)[0]
    # when an instance of that series arrives claiming a new study
    moved = instances("CT_small.dcm", 1, study_uid=generate_uid())
    result = ingest_dicom_batch(datas=moved, source=source)[0]
    # then it is refused, and no empty study is left behind
    assert result.code == "series_study_mismatch"
    assert list(ImagingStudy.objects.all()) == [stored.instance.series.study]
    assert Instance.objects.count() == 1 and len(stored_files(media)) == 1


def test_the_batch_path_keeps_the_size_limit_and_the_deflate_bomb_guard(source, settings, media):
    from tests.studies import badfiles

    # given a batch with a deflate bomb, a file over the upload limit and a good instance
    bomb, good = badfiles.deflate_bomb(), instances("CT_small.dcm", 1)[0]
    settings.STUDIES_MAX_UPLOAD_BYTES = len(bomb) + 1000
    too_large = instances("CT_small.dcm", 1)[0] + bytes(len(bomb))
    # when it is ingested
    results = ingest_dicom_batch(datas=[bomb, too_large, good], source=source)
    # then the bomb and the large file are refused as the worker refuses them, and the good one is stored
    assert [getattr(r, "code", None) for r in results[:2]] == ["decompression_bomb", "file_too_large"]
    assert results[2].created and Instance.objects.count() == 1 and len(stored_files(media)) == 1


def test_one_instance_is_made_durable_without_the_thread_pool(source, monkeypatch):
    from studies.services import storage

    monkeypatch.setattr(storage, "_sync_pool", lambda: pytest.fail("a single instance needs no fsync threads"))
    assert ingest_service.ingest_dicom_bytes(data=instances("CT_small.dcm", 1)[0], source=source).created
