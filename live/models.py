"""Live rooms: one per live consultation, its participants, its numbered event log, patient links."""
from django.conf import settings
from django.db import models


class Room(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "进行中 open"
        CLOSED = "closed", "已结束 closed"

    consultation = models.ForeignKey("consult.Consultation", on_delete=models.PROTECT, related_name="rooms")
    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    # The last sequence number handed out; the next event takes last_seq + 1 under this
    # row's lock, so numbers are gap-free and unique per room (RoomEvent's constraint backs it).
    last_seq = models.BigIntegerField(default=0)
    relay_worker = models.ForeignKey("RelayWorker", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="rooms")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # one open room per consultation: opening twice returns the open one
            models.UniqueConstraint(fields=["consultation"], condition=models.Q(state="open"),
                                    name="live_one_open_room_per_consultation"),
        ]

    def __str__(self):
        return f"room {self.pk} (consultation {self.consultation_id})"


class Participant(models.Model):
    class Role(models.TextChoices):
        HOST = "host", "村医(主持) village doctor"
        EXPERT = "expert", "专家 expert"
        SECOND_EXPERT = "second_expert", "第二专家 second expert"
        FAMILY = "family", "家属 family member"
        PATIENT = "patient", "患者 patient"

    class State(models.TextChoices):
        WAITING = "waiting", "等候中 waiting"
        ADMITTED = "admitted", "已入会 admitted"
        REMOVED = "removed", "已移出 removed"
        LEFT = "left", "已离开 left"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="participants")
    role = models.CharField(max_length=20, choices=Role.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    join_token = models.OneToOneField("JoinToken", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="participant")
    display_name = models.CharField(max_length=60)
    audio_muted = models.BooleanField(default=False)
    video_muted = models.BooleanField(default=False)
    audio_only = models.BooleanField(default=False)
    # The channel name of its newest socket: a late disconnect of an older socket (a 4G
    # link the server notices dead only after the client reconnected) must not mark it gone.
    connection = models.CharField(max_length=200, blank=True)
    connected = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="live_one_participant_per_staff_user"),
            models.CheckConstraint(condition=models.Q(user__isnull=False) | models.Q(join_token__isnull=False),
                                   name="live_participant_is_staff_or_invited"),
        ]

    def __str__(self):
        return f"{self.display_name} ({self.role}, {self.state})"


class RoomEvent(models.Model):
    """What happened in a room, numbered. Stored before it is fanned out, so a client that
    missed the fan-out (dropped link, Daphne restart, the layer dropping) reads it here."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=30)
    participant = models.ForeignKey(Participant, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="+")
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["room", "seq"]
        constraints = [models.UniqueConstraint(fields=["room", "seq"], name="live_event_seq_unique_per_room")]


class JoinToken(models.Model):
    """An invitation for a phone: the link carries a signed token naming this row.

    The first device to exchange it claims it (its session key, hashed); another device
    presenting the same link later is refused as a reuse."""

    class Role(models.TextChoices):
        PATIENT = "patient", "患者 patient"
        FAMILY = "family", "家属 family member"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="join_tokens")
    patient = models.ForeignKey("directory.Patient", on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.PATIENT)
    display_name = models.CharField(max_length=60)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    claimed_by_hash = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]


class Ticket(models.Model):
    """A short-lived single-use pass for one WebSocket connection. Only its hash is stored."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="tickets")
    secret_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class RelayWorker(models.Model):
    """A relay_worker process: it hosts the rooms placed on it and beats every few seconds."""

    name = models.CharField(max_length=100, unique=True)
    channel = models.CharField(max_length=200)
    last_seen = models.DateTimeField()
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class EcgStream(models.Model):
    """A live ECG that everyone in a room sees: the village side's device, or an uploaded ECG the
    server replays at real time. Its start and end are room events; its samples arrive in EcgChunk
    rows (not room events: four a second would flood the room's numbered log) and, once it ends,
    become an ECG study of the consultation (studies.EcgRecord, measured like an upload)."""

    class Source(models.TextChoices):
        DEVICE = "device", "设备 device"
        REPLAY = "replay", "回放 replay"

    class State(models.TextChoices):
        LIVE = "live", "直播中 live"
        ENDED = "ended", "已结束，保存中 ended, being saved"
        SAVED = "saved", "已保存 saved"
        DISCARDED = "discarded", "无数据 nothing to save"
        FAILED = "failed", "保存失败 could not be saved"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="ecg_streams")
    started_by = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    replay_of = models.ForeignKey("studies.EcgRecord", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", help_text="the uploaded ECG a replay plays")
    lead_names = models.JSONField(default=list)
    sampling_rate = models.FloatField()
    # The next chunk's seq and first sample: chunks are numbered 0, 1, 2... under this row's lock.
    n_chunks = models.IntegerField(default=0)
    n_samples = models.BigIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.LIVE)
    stop_reason = models.CharField(max_length=20, blank=True)
    error = models.CharField(max_length=255, blank=True)
    study = models.ForeignKey("studies.EcgRecord", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text="where its samples are kept once it ended")
    started_at = models.DateTimeField(auto_now_add=True)
    last_chunk_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # one stream at a time per room: a second start is refused (the service checks first)
            models.UniqueConstraint(fields=["room"], condition=models.Q(state="live"),
                                    name="live_one_ecg_stream_per_room"),
        ]
        indexes = [models.Index(fields=["state", "started_at"])]

    def __str__(self):
        return f"ECG stream {self.pk} ({self.source}, {self.state})"


class EcgChunk(models.Model):
    """A piece of a live ECG as it arrived: `n_samples` int16 little-endian microvolts per lead,
    lead after lead in the stream's lead order. Deleted once the stream is saved as a study."""

    stream = models.ForeignKey(EcgStream, on_delete=models.CASCADE, related_name="chunks")
    seq = models.IntegerField()
    start = models.BigIntegerField(help_text="index of its first sample in the stream")
    n_samples = models.IntegerField()
    samples = models.BinaryField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stream", "seq"]
        constraints = [models.UniqueConstraint(fields=["stream", "seq"], name="live_ecg_chunk_seq_unique")]
