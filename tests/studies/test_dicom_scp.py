"""The C-STORE receiver: real files sent by pynetdicom's store client (storescu-style)."""
import io
import os
import socket
import subprocess
import sys
import time

import pydicom
import pytest
from pynetdicom import AE, evt
from pynetdicom.sop_class import (CTImageStorage, MRImageStorage, NuclearMedicineImageStorage,
                                  SecondaryCaptureImageStorage)

from studies import dicom_scp
from studies.models import ImagingStudy, Instance
from tests.conftest import free_port
from tests.studies.conftest import sample_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver():
    port = free_port()
    server = dicom_scp.start(host="127.0.0.1", port=port, block=False)
    port_server = PortServer(port, server)
    yield port_server
    server.shutdown()


class PortServer(int):
    def __new__(cls, port, server):
        obj = super().__new__(cls, port)
        obj.server = server
        return obj


def send(port: int, names: list[str], calling: str) -> list[int]:
    ae = AE(ae_title=calling)
    for sop in (CTImageStorage, MRImageStorage, NuclearMedicineImageStorage, SecondaryCaptureImageStorage):
        for syntax in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"):
            ae.add_requested_context(sop, syntax)  # one context per syntax, as storescu does
    assoc = ae.associate("127.0.0.1", port, ae_title="TELECLINIC",
                         evt_handlers=[(evt.EVT_CONN_OPEN, dicom_scp.set_nodelay)])
    assert assoc.is_established
    try:
        return [assoc.send_c_store(pydicom.dcmread(io.BytesIO(sample_bytes(n)))).Status for n in names]
    finally:
        assoc.release()


def test_modality_of_a_known_organisation_stores_studies_by_c_store(receiver, community, patient_factory):
    # given a township centre whose CT has AE title TOWNA_CT and the patients of the files
    community.township_a.dicom_ae_title = "TOWNA_CT"
    community.township_a.dicom_peers = "127.0.0.1"
    community.township_a.save()
    for hr in ("1CT1", "4MR1", "8NM1"):
        patient_factory(home_clinic=community.township_a, health_record_no=hr)
    # when the CT sends three instances, one twice
    statuses = send(receiver, ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "CT_small.dcm"], "TOWNA_CT")
    # then all succeed and three instances are stored, de-duplicated, under the matching patients
    assert statuses == [0, 0, 0, 0]
    assert Instance.objects.count() == 3
    assert ImagingStudy.objects.get(dicom_patient_id="1CT1").organisation == community.township_a


def test_unknown_ae_title_is_refused_and_nothing_stored(receiver, community):
    statuses = send(receiver, ["CT_small.dcm"], "STRANGER")
    assert statuses == [dicom_scp.NOT_AUTHORISED] and not Instance.objects.exists()


def test_a_patient_id_held_outside_the_organisation_waits_unmatched_as_an_unknown_one(receiver, community,
                                                                                     patient_factory):
    # the other township's patient holds CT_small's Patient ID; the sender is told nothing of them
    community.township_a.dicom_ae_title = "TOWNA_CT"
    community.township_a.dicom_peers = "127.0.0.1"
    community.township_a.save()
    other = patient_factory(home_clinic=community.township_b, health_record_no="1CT1")
    assert send(receiver, ["CT_small.dcm"], "TOWNA_CT") == [0]
    study = ImagingStudy.objects.get()
    assert study.patient_id is None and study.organisation_id == community.township_a.pk
    assert not other.imaging_studies.exists()


def test_management_command_starts_and_answers_c_echo(django_db_setup):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "manage.py", "dicom_scp", "--port", str(port), "--host", "127.0.0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        ae = AE(ae_title="ECHO")
        ae.add_requested_context("1.2.840.10008.1.1")
        assoc = ae.associate("127.0.0.1", port, ae_title="TELECLINIC")
        assert assoc.is_established and assoc.send_c_echo().Status == 0
        assoc.release()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_both_ends_of_an_association_set_tcp_nodelay(receiver):
    ae = AE(ae_title="ANY")
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate("127.0.0.1", receiver, ae_title="TELECLINIC",
                         evt_handlers=[(evt.EVT_CONN_OPEN, dicom_scp.set_nodelay)])
    try:
        assert assoc.is_established
        sender = assoc.dul.socket.socket
        server_side = receiver.server.active_associations[0].dul.socket.socket
        for sock in (sender, server_side):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        assoc.release()


def test_the_receivers_associations_wait_on_their_socket_and_queues_not_polling(receiver, monkeypatch):
    from studies import dicom_wakeup

    installed = []
    real_install = dicom_wakeup.install
    monkeypatch.setattr(dicom_wakeup, "install", lambda assoc: installed.append(real_install(assoc)) or installed[-1])
    ae = AE(ae_title="ANY")
    ae.add_requested_context("1.2.840.10008.1.1")
    # when a sender opens an association, is answered on it twice, and releases it
    assoc = ae.associate("127.0.0.1", receiver, ae_title="TELECLINIC")
    assert assoc.is_established
    server_side = receiver.server.active_associations[0]
    statuses = [assoc.send_c_echo().Status for _ in range(2)]
    assoc.release()
    # then the receiver's end ran on the waking loops (this pynetdicom has what they rely on), without
    # pynetdicom's per-PDU log handlers, and answered and released as pynetdicom's own loops do
    assert installed == [True]
    assert server_side._run_reactor.__func__ is not type(server_side)._run_reactor
    assert not server_side.get_handlers(evt.EVT_PDU_RECV)
    assert statuses == [0, 0] and assoc.is_released
    server_side.join(timeout=30)
    assert server_side.is_released and not server_side.is_alive() and not server_side.dul.is_alive()


def _ct_slices(n: int) -> list[pydicom.Dataset]:
    """CT_small as `n` slices of one new series (new UIDs)."""
    from pydicom.uid import generate_uid

    study, series = generate_uid(), generate_uid()
    out = []
    for k in range(n):
        ds = pydicom.dcmread(io.BytesIO(sample_bytes("CT_small.dcm")))
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = k + 1
        out.append(ds)
    return out


def test_an_associations_instances_are_stored_in_batches_and_indexed_when_it_is_released(receiver, community,
                                                                                        patient_factory, monkeypatch):
    from audit.models import AuditEvent
    from studies.services import cstore

    monkeypatch.setattr(cstore, "FLUSH_AFTER_S", 3600)  # batches cut by size and by the release only

    # given a CT whose organisation is known, and a series of more slices than one batch holds
    community.township_a.dicom_ae_title = "TOWNA_CT"
    community.township_a.dicom_peers = "127.0.0.1"
    community.township_a.save()
    patient_factory(home_clinic=community.township_a, health_record_no="1CT1")
    slices = _ct_slices(cstore.BATCH_MAX + 6)
    broken = pydicom.dcmread(io.BytesIO(sample_bytes("CT_small.dcm")))
    broken.SOPInstanceUID = broken.file_meta.MediaStorageSOPInstanceUID = "1.2.3.999"
    broken.PixelData = broken.PixelData[:100]  # shorter than its rows x columns say
    ae = AE(ae_title="TOWNA_CT")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", receiver, ae_title="TELECLINIC",
                         evt_handlers=[(evt.EVT_CONN_OPEN, dicom_scp.set_nodelay)])
    # when it sends them on one association, a broken one among them, and releases it
    statuses = [assoc.send_c_store(ds).Status for ds in slices[:10] + [broken] + slices[10:]]
    assoc.release()
    # then the broken one alone is refused at once, and once released every other is indexed
    assert statuses.count(dicom_scp.CANNOT_UNDERSTAND) == 1 and statuses[10] == dicom_scp.CANNOT_UNDERSTAND
    assert statuses.count(0) == len(slices)
    assert Instance.objects.count() == len(slices)
    # in three transactions (one audit row per study per batch), not one per instance: the series' first
    # instance alone (checked before it is answered), a full batch, and the rest at the release
    created = AuditEvent.objects.filter(object_type="ImagingStudy", action="create", interface="dicom")
    assert sorted(e.detail["instances"] for e in created) == [1, 5, cstore.BATCH_MAX]
    # and no journal is left behind
    assert not list(cstore.media_path(cstore.SPOOL).glob("*.journal"))


def test_instances_answered_but_not_yet_stored_are_stored_when_the_receiver_starts_again(community,
                                                                                      patient_factory, monkeypatch):
    from studies.services import cstore

    monkeypatch.setattr(cstore, "FLUSH_AFTER_S", 3600)  # a slow machine's own timer must not store them first

    # given a receiver that answered two instances (durable in its journal) and stopped before storing them
    community.township_a.dicom_ae_title = "TOWNA_CT"
    community.township_a.dicom_peers = "127.0.0.1"
    community.township_a.save()
    batch = cstore.AssociationBatch(community.township_a)
    datas = []
    for ds in _ct_slices(2):
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        datas.append(buffer.getvalue())
        batch.add(datas[-1])
    batch.timer.cancel()  # the process "dies" here: only the series' first instance, stored before its answer
    assert Instance.objects.count() == 1
    # and a third record cut short by the crash (never answered)
    with open(batch.journal_path, "ab") as journal:
        journal.write(cstore._RECORD.pack(len(datas[0])) + datas[0][:100])
    # when the receiver starts again
    port = free_port()
    server = dicom_scp.start(host="127.0.0.1", port=port, block=False)
    server.shutdown()
    # then both answered instances are stored, and the journal is gone
    assert Instance.objects.count() == 2
    assert not batch.journal_path.exists()
    os.close(batch.journal)


def test_an_instance_of_a_study_waiting_in_another_organisations_list_is_refused_in_its_answer(receiver, community):
    # given a study that township B's CT sent for a patient nobody there knows: it waits in B's unmatched list
    for org, title in ((community.township_a, "TOWNA_CT"), (community.township_b, "TOWNB_CT")):
        org.dicom_ae_title, org.dicom_peers = title, "127.0.0.1"
        org.save()
    first, second = _ct_slices(2)
    ae = AE(ae_title="TOWNB_CT")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", receiver, ae_title="TELECLINIC")
    assert assoc.send_c_store(first).Status == 0
    assoc.release()
    # when township A's CT sends another instance of that study
    ae = AE(ae_title="TOWNA_CT")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", receiver, ae_title="TELECLINIC")
    status = assoc.send_c_store(second).Status
    assoc.release()
    # then its answer says it was not stored (it used to say "stored" and drop it when its batch was stored)
    assert status == dicom_scp.CANNOT_UNDERSTAND
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [first.SOPInstanceUID]


def test_a_repeated_instance_of_a_study_out_of_reach_is_refused_in_its_answer_inside_an_accepted_series(
        receiver, community, monkeypatch):
    from audit.models import AuditEvent
    from studies.services import cstore

    monkeypatch.setattr(cstore, "FLUSH_AFTER_S", 3600)  # the accepted series' later instances wait for the release
    for org, title in ((community.township_a, "TOWNA_CT"), (community.township_b, "TOWNB_CT")):
        org.dicom_ae_title, org.dicom_peers = title, "127.0.0.1"
        org.save()
    # given an instance that township B's CT stored (its study waits in B's list, out of A's reach)
    (theirs,) = _ct_slices(1)
    ae = AE(ae_title="TOWNB_CT")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", receiver, ae_title="TELECLINIC")
    assert assoc.send_c_store(theirs).Status == 0
    assoc.release()
    # when township A's CT sends a new series whose third instance repeats that SOP Instance UID
    first, second, fourth = _ct_slices(3)
    repeated = _ct_slices(1)[0]
    repeated.StudyInstanceUID, repeated.SeriesInstanceUID = first.StudyInstanceUID, first.SeriesInstanceUID
    repeated.SOPInstanceUID = repeated.file_meta.MediaStorageSOPInstanceUID = theirs.SOPInstanceUID
    ae = AE(ae_title="TOWNA_CT")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", receiver, ae_title="TELECLINIC")
    statuses = [assoc.send_c_store(ds).Status for ds in (first, second, repeated, fourth)]
    assoc.release()
    # then the repeated one's answer says it was not stored (it said "stored", and its batch then refused it)
    assert statuses == [0, 0, dicom_scp.CANNOT_UNDERSTAND, 0]
    # and the others of the series are stored, B's study untouched
    assert set(Instance.objects.filter(series__series_instance_uid=first.SeriesInstanceUID)
               .values_list("sop_instance_uid", flat=True)) == {first.SOPInstanceUID, second.SOPInstanceUID,
                                                                fourth.SOPInstanceUID}
    assert Instance.objects.get(sop_instance_uid=theirs.SOPInstanceUID).series.study.organisation == \
        community.township_b
    # and the refusal is audited once, under B's study
    refused = AuditEvent.objects.filter(action=AuditEvent.Action.REFUSED, interface="dicom")
    assert [(e.object_type, e.detail["code"]) for e in refused] == [("ImagingStudy", "study_out_of_reach")]


def test_an_instance_sent_twice_before_its_batch_is_stored_is_answered_stored_both_times(receiver, community,
                                                                                       monkeypatch):
    from studies.services import cstore

    monkeypatch.setattr(cstore, "FLUSH_AFTER_S", 3600)
    community.township_a.dicom_ae_title, community.township_a.dicom_peers = "TOWNA_CT", "127.0.0.1"
    community.township_a.save()
    # when a CT sends a series' second slice twice while it waits in the association's journal
    first, second = _ct_slices(2)
    ae = AE(ae_title="TOWNA_CT")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", receiver, ae_title="TELECLINIC")
    statuses = [assoc.send_c_store(ds).Status for ds in (first, second, second)]
    assoc.release()
    # then each answer says stored, and it is stored once
    assert statuses == [0, 0, 0]
    assert sorted(Instance.objects.values_list("sop_instance_uid", flat=True)) == sorted(
        [first.SOPInstanceUID, second.SOPInstanceUID])


def test_a_batch_whose_store_fails_stays_pending_and_journalled_until_a_store_succeeds(community, monkeypatch):
    from django.db import OperationalError

    from studies.services import cstore

    monkeypatch.setattr(cstore, "FLUSH_AFTER_S", 3600)
    batch = cstore.AssociationBatch(community.township_a)
    for ds in _ct_slices(2):
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        batch.add(buffer.getvalue())
    # when the database is away for the first store (the one edge a running PostgreSQL will not produce here)
    real = cstore.store_parsed_dicom

    def away(**kwargs):
        raise OperationalError("the database restarted")

    monkeypatch.setattr(cstore, "store_parsed_dicom", away)
    with pytest.raises(OperationalError):
        batch.flush()
    assert batch.journal_path.stat().st_size > 0  # the answered instances are still in the journal
    # then the next store, once it is back, stores both
    monkeypatch.setattr(cstore, "store_parsed_dicom", real)
    batch.close()
    assert Instance.objects.count() == 2
    assert not batch.journal_path.exists()


def test_a_paused_associations_instances_are_indexed_without_waiting_for_its_release(receiver, community,
                                                                                     patient_factory, monkeypatch):
    from studies.services import cstore

    monkeypatch.setattr(cstore, "FLUSH_AFTER_S", 0.2)
    community.township_a.dicom_ae_title = "TOWNA_CT"
    community.township_a.dicom_peers = "127.0.0.1"
    community.township_a.save()
    ae = AE(ae_title="TOWNA_CT")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", receiver, ae_title="TELECLINIC")
    try:
        # when a modality sends three slices and then pauses, its association still open
        assert [assoc.send_c_store(ds).Status for ds in _ct_slices(3)] == [0, 0, 0]
        # then they are indexed (listed, routed) without waiting for the release
        deadline = time.monotonic() + 60
        while Instance.objects.count() < 3:
            assert time.monotonic() < deadline, "the paused association's batch was never stored"
            time.sleep(0.1)
    finally:
        assoc.release()
    assert Instance.objects.count() == 3


def test_a_full_batch_stored_while_the_association_goes_on_is_kept_and_stored_again_if_its_store_fails(
        community, monkeypatch):
    from django.db import OperationalError

    from studies.services import cstore

    monkeypatch.setattr(cstore, "FLUSH_AFTER_S", 3600)
    monkeypatch.setattr(cstore, "BATCH_MAX", 2)
    datas = []
    for ds in _ct_slices(5):
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        datas.append(buffer.getvalue())
    batch = cstore.AssociationBatch(community.township_a)
    batch.add(datas[0])  # the series' first instance: stored before its answer
    real = cstore.store_parsed_dicom

    def away(**kwargs):
        raise OperationalError("the database restarted")

    # when a full batch goes to the storing thread while the database is away (the one edge a running
    # PostgreSQL will not produce here), and the association goes on meanwhile
    monkeypatch.setattr(cstore, "store_parsed_dicom", away)
    batch.add(datas[1])
    batch.add(datas[2])
    batch.storing.exception(timeout=60)
    monkeypatch.setattr(cstore, "store_parsed_dicom", real)
    batch.add(datas[3])
    # then nothing of it is lost: its journal is kept beside the new one until it is stored

    assert Instance.objects.count() == 1
    assert len(list(cstore.media_path(cstore.SPOOL).glob("*.journal"))) == 2
    # and the next full batch's store puts it back in front of the pending ones, which the end stores
    batch.add(datas[4])
    batch.close()
    assert sorted(Instance.objects.values_list("instance_number", flat=True)) == [1, 2, 3, 4, 5]
    assert not list(cstore.media_path(cstore.SPOOL).glob("*.journal"))
