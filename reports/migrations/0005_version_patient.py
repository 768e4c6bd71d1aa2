"""A report version carries its patient (copied from its report's consultation), indexed with the signing time."""
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    Report = apps.get_model("reports", "Report")
    ReportVersion = apps.get_model("reports", "ReportVersion")
    patient = Report.objects.filter(pk=OuterRef("report_id")).values("consultation__patient_id")[:1]
    ReportVersion.objects.filter(patient__isnull=True).update(patient_id=Subquery(patient))


class Migration(migrations.Migration):

    dependencies = [
        ("directory", "0001_initial"),
        ("reports", "0004_phrases"),
    ]

    operations = [
        migrations.AddField(
            model_name="reportversion",
            name="patient",
            field=models.ForeignKey(null=True, db_index=False, on_delete=models.deletion.PROTECT, related_name="+",
                                    to="directory.patient"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="reportversion",
            name="patient",
            field=models.ForeignKey(db_index=False, on_delete=models.deletion.PROTECT, related_name="+",
                                    to="directory.patient"),
        ),
        migrations.AddIndex(
            model_name="reportversion",
            index=models.Index(fields=["patient", "-signed_at", "-id"], name="version_patient_signed"),
        ),
    ]
