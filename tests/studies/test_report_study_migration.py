"""studies 0004: existing reports keep their study_ref text and get its foreign key (studies.ReportStudy)."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("latest_schema_after")]

BEFORE = [("studies", "0003_ecg_computed_statements")]
AFTER = [("studies", "0004_report_study_links")]


def test_existing_reports_are_linked_to_the_studies_their_refs_name_and_keep_their_text(people, assigned_case):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE + [("reports", "0003_delivered_at_index")]).apps
    consultation = old.get_model("consult", "Consultation").objects.get(pk=assigned_case.pk)
    ecg = old.get_model("studies", "EcgRecord").objects.create(
        patient_id=consultation.patient_id, consultation_id=consultation.pk, source_format="csv", sampling_rate=500.0,
        lead_names=["I"], n_samples=10, samples_file="x.npz")
    study = old.get_model("studies", "ImagingStudy").objects.create(study_instance_uid="1.2.3.99",
                                                                    patient_id=consultation.patient_id)
    Report = old.get_model("reports", "Report")
    made = {kind: Report.objects.create(consultation_id=consultation.pk, kind=kind, study_ref=ref,
                                        author_id=people["expert"].pk)
            for kind, ref in (("ecg", f"ecg:{ecg.pk}"), ("imaging", "dicom:1.2.3.99"), ("consultation", "ecg:999999"))}
    # when the migration runs
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER + [("reports", "0003_delivered_at_index")]).apps
    links = {link.report_id: (link.ecg_id, link.imaging_study_id)
             for link in new.get_model("studies", "ReportStudy").objects.all()}
    # then each report naming a stored study is linked to it, one naming nothing is left unlinked, texts kept
    assert links == {made["ecg"].pk: (ecg.pk, None), made["imaging"].pk: (None, study.pk)}
    refs = dict(new.get_model("reports", "Report").objects.values_list("kind", "study_ref"))
    assert refs == {"ecg": f"ecg:{ecg.pk}", "imaging": "dicom:1.2.3.99", "consultation": "ecg:999999"}


@pytest.fixture
def assigned_case(people, community, patient_factory, consultation_factory):
    return consultation_factory(patient=patient_factory(home_clinic=community.village_a1),
                                requested_by=people["village_doctor"], assigned_expert=people["expert"].expert,
                                state="assigned")


@pytest.fixture
def latest_schema_after():
    """Leave the database at the latest migrations: the tests after this one flush every table the models
    name (a later migration's tables missing made them fail with "relation ... does not exist")."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
