"""The county medical community (医共体): organisations, staff, specialties, experts, patients."""
from django.contrib.auth.models import AbstractUser
from django.db import models


class Organisation(models.Model):
    class Kind(models.TextChoices):
        LEAD_HOSPITAL = "lead_hospital", "牵头医院 lead hospital"
        TOWNSHIP_CENTRE = "township_centre", "乡镇卫生院 township centre"
        VILLAGE_CLINIC = "village_clinic", "村卫生室 village clinic"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # The root of the tree (the lead hospital), kept on every row so that a community-wide
    # filter is one indexed equality instead of a tree walk.
    community = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    dicom_ae_title = models.CharField(max_length=16, blank=True, help_text="AE title of its modalities")
    # A calling AE title is guessable: a C-STORE is taken only from these addresses as well (issue 13).
    dicom_peers = models.CharField(
        max_length=500, blank=True,
        help_text="addresses or networks its modalities send C-STORE from, space-separated (10.2.0.7 10.3.0.0/24); "
                  "empty: none accepted")

    def dicom_peer_allowed(self, address: str) -> bool:
        """Whether a C-STORE association from `address` may speak for this organisation."""
        import ipaddress

        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        for entry in self.dicom_peers.split():
            try:
                if peer in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:  # a typo in the setting admits no one through it
                continue
        return False

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.community_id = self.parent.community_id if self.parent_id else self.pk
        super().save(*args, **kwargs)
        if self.community_id is None:  # a new root is its own community
            Organisation.objects.filter(pk=self.pk).update(community_id=self.pk)
            self.community_id = self.pk

    @property
    def is_grassroots(self) -> bool:
        return self.kind in (self.Kind.TOWNSHIP_CENTRE, self.Kind.VILLAGE_CLINIC)


class User(AbstractUser):
    class Role(models.TextChoices):
        VILLAGE_DOCTOR = "village_doctor", "村医 village doctor"
        TOWNSHIP_DOCTOR = "township_doctor", "乡镇医生 township doctor"
        EXPERT = "expert", "专家 expert"
        COORDINATOR = "coordinator", "协调员 coordinator"
        ADMIN = "admin", "管理员 admin"
        SYSTEM = "system", "系统接口 system client"  # a hospital system's OAuth2 client (fhir app), read only

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VILLAGE_DOCTOR)
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")
    display_name = models.CharField(max_length=60, blank=True)
    phone = models.CharField(max_length=20, blank=True)

    def __str__(self):
        return self.display_name or self.username

    def save(self, *args, **kwargs):
        # set_password() leaves the new raw password in _password until saved: whichever way the
        # password changes (page, admin, changepassword), the API token of the old one dies with it
        password_changed = self._password is not None and self.pk is not None
        super().save(*args, **kwargs)
        if password_changed:
            # (the token table directly, not directory.services.api_tokens_revoke: models import no service)
            from rest_framework.authtoken.models import Token

            Token.objects.filter(user_id=self.pk).delete()

    @property
    def is_administrator(self) -> bool:
        """Superusers and the admin role: what apps below the directory (audit) ask of a user."""
        return bool(self.is_superuser or self.role == self.Role.ADMIN)


class Specialty(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=60)
    name_en = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "specialties"

    def __str__(self):
        return self.name


class Expert(models.Model):
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="expert")
    specialties = models.ManyToManyField(Specialty, related_name="experts")
    title = models.CharField(max_length=40, blank=True, help_text="主任医师, 副主任医师, ...")
    max_open_assignments = models.PositiveSmallIntegerField(default=10)
    on_call = models.BooleanField(default=False, help_text="on the on-call roster outside sessions")

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.user} ({self.title})" if self.title else str(self.user)


def mask_id_number(value: str) -> str:
    """Resident ID as shown in every listing: the region prefix and last four only."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


class Patient(models.Model):
    class Sex(models.TextChoices):
        MALE = "M", "男 male"
        FEMALE = "F", "女 female"
        OTHER = "O", "其他 other"

    name = models.CharField(max_length=60)
    sex = models.CharField(max_length=1, choices=Sex.choices)
    birth_date = models.DateField()
    phone = models.CharField(max_length=20, blank=True)
    id_number = models.CharField(max_length=18, blank=True, help_text="resident ID; shown masked")
    home_clinic = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="patients")
    # The clinic's own number (健康档案号): unique within the clinic, not across the community, so that
    # registering a number tells nothing about other clinics' patients (no existence oracle).
    health_record_no = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["home_clinic", "name"]),
                   models.Index(fields=["id_number"]),  # search by, and one record per, resident ID number
                   models.Index(fields=["health_record_no"])]  # DICOM PatientID, search
        constraints = [models.UniqueConstraint(fields=["home_clinic", "health_record_no"],
                                               name="patient_record_no_unique_in_clinic")]

    def __str__(self):
        return f"{self.name} ({self.health_record_no})"

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)
