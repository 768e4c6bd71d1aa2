// Every URL the pages call, in one place: wiring a page to a back end is a one-line change here.
// Each is served by the app named above it (its urls.py / api.py); the comments give the reply's shape.

// directory, consult, audit
export const ME = "/api/me/";
export const PATIENTS = "/api/patients/";                     // GET ?q= (paginated), POST
export const PATIENT = (id) => `/api/patients/${id}/`;
export const SPECIALTIES = "/api/specialties/";
export const ORGANISATIONS = "/api/organisations/";
export const CONSULTATIONS = "/api/consultations/";           // GET ?state= (paginated), POST
export const CONSULTATION = (id) => `/api/consultations/${id}/`;
export const ESCALATIONS = "/api/consultations/?state=escalated";
export const AUDIT = "/api/audit/";                           // GET ?q=patient&actor=&action=..., admins only (paginated; rows name the patient)
export const NOTIFICATIONS_SOCKET = "/ws/notifications/";

// studies: tus 1.0.0 creation endpoint (metadata: filename, kind, consultation, patient)
export const UPLOADS = "/api/uploads/";
export const ECG = (id) => `/api/ecgs/${id}/`;                 // {device_measurements: {values, statements}, computed_measurements: {values, error}, ...}
export const ECG_SAMPLES = (id) => `/api/ecgs/${id}/samples/`; // {sampling_rate, n_samples, units: "uV", encoding, leads}
export const UNMATCHED_STUDIES = "/api/imaging-studies/unmatched/"; // [{id, dicom_patient_id, dicom_patient_name, dicom_patient_birth_date, dicom_patient_sex, study_date, description, modalities, instances, received_at}]
export const STUDY_MATCH = (id) => `/api/imaging-studies/${id}/match/`; // POST {patient, consultation?}
export const IMAGING_STUDY = (id) => `/api/imaging-studies/${id}/`; // {series: [{modality, description, instances: [{id, frames}]}]}
/** One frame (1-based, as in DICOMweb) rendered to PNG with a window; the reply's X-Window header is "center,width,source". */
export const FRAME = (instanceId, frame, center, width) => {
  const q = new URLSearchParams({ image_format: "png" });
  if (center !== null && center !== undefined) q.set("window_center", center);
  if (width !== null && width !== undefined) q.set("window_width", width);
  return `/api/instances/${instanceId}/frames/${frame}/rendered/?${q}`;
};
// the studies of one consultation, newest first: [{type: "ecg"|"imaging", id, created_at, study_instance_uid?}]
export const CONSULTATION_STUDIES = (id) => `/api/consultations/${id}/studies/`;

// scheduling
export const WORKLIST = "/api/scheduling/worklist/";          // [{consultation, patient_name, urgency, status: "offered"|"assigned", assignment, offer_expires_at, overdue, due_at, ...}]
export const OFFER_ACCEPT = (assignmentId) => `/api/scheduling/assignments/${assignmentId}/accept/`;
export const OFFER_DECLINE = (assignmentId) => `/api/scheduling/assignments/${assignmentId}/decline/`; // {reason}
export const MY_CALENDAR = "/api/scheduling/me/calendar/";    // ?from=&to= -> [{starts_at, ends_at, specialty, slots: [{bookings}]}]
export const ROSTERS = "/api/scheduling/rosters/";            // paginated; POST {expert, specialty, weekdays, ...}
export const ROSTER = (id) => `/api/scheduling/rosters/${id}/`; // PATCH {weekdays, start_time, capacity, active, ...}
export const ROSTER_EXCEPTION = (id, exceptionId) => `/api/scheduling/rosters/${id}/exceptions/${exceptionId}/`; // DELETE {cancel_bookings?}: undo
export const ROSTER_EXCEPTIONS = (id) => `/api/scheduling/rosters/${id}/exceptions/`; // GET (paginated), POST {date, kind: leave|extra, start_time, end_time, note}
export const ON_CALL = "/api/scheduling/on-call/";            // GET (paginated), POST {expert, specialty, starts_at, ends_at}
export const ON_CALL_SHIFT = (id) => `/api/scheduling/on-call/${id}/`; // DELETE: ends the shift
export const SESSIONS = "/api/scheduling/sessions/";          // ?from=&to= (paginated)
export const SLOTS = "/api/scheduling/slots/";                // ?from=&to=&specialty=&free=1 (paginated)
export const BOOKINGS = "/api/scheduling/bookings/";          // GET ?status= (paginated), POST {slot, patient, consultation}
export const BOOKING_CANCEL = (id) => `/api/scheduling/bookings/${id}/cancel/`;         // POST {}
export const BOOKING_RESCHEDULE = (id) => `/api/scheduling/bookings/${id}/reschedule/`; // POST {slot} -> the new booking
export const REFERRALS = "/api/scheduling/referrals/";        // paginated, each with follow_ups
export const REFERRAL_DOWN = "/api/scheduling/referrals/down/"; // POST {consultation, summary, plan: [{title, due_in_days}]}
export const REFERRAL_ACK = (id) => `/api/scheduling/referrals/${id}/acknowledge/`;
export const EXPERTS_TO_ASSIGN = (specialty) => `/api/scheduling/experts/?specialty=${encodeURIComponent(specialty)}`; // coordinators: [{id, name, title, load, max_open_assignments, on_duty}]
// coordinators: also marks who declined this consultation (declined: true), those last
export const EXPERTS_TO_ASSIGN_FOR = (specialty, consultationId) =>
  `/api/scheduling/experts/?${new URLSearchParams({ specialty, consultation: consultationId })}`;
// coordinators: [{id, patient_name, requesting_org_name, specialty, urgency, escalation_reason, declines: [{expert_name, reason, at}], expired, ...}]
export const SCHEDULING_ESCALATIONS = "/api/scheduling/escalations/";
export const CONSULTATION_ASSIGN = (id) => `/api/scheduling/consultations/${id}/assign/`; // POST {expert}
export const FOLLOW_UP_COMPLETE = (id) => `/api/scheduling/follow-ups/${id}/complete/`; // {note}

// reports
export const REPORTS_PENDING = "/api/reports/deliveries/pending/"; // paginated deliveries not yet acknowledged
// every report the clinic received, acknowledged or not: ?q=&patient=&consultation=&from=&to=&state= (paginated)
export const REPORTS_RECEIVED = "/api/reports/deliveries/";
export const DELIVERY_ACK = (deliveryId) => `/api/reports/deliveries/${deliveryId}/acknowledge/`;
export const REPORT_PDF = (reportId, version) => `/api/reports/${reportId}/versions/${version}/pdf/`;
export const REPORT_TEMPLATES = "/api/reports/templates/";    // {kind: [{name, label, type, unit, required_to_sign}]}
export const CONSULTATION_REPORTS = (id) => `/api/consultations/${id}/reports/`; // GET list, POST {kind, study_ref, measurements}
export const REPORT = (id) => `/api/reports/${id}/`;
export const REPORT_DRAFT = (id) => `/api/reports/${id}/draft/`;   // PUT {content}
export const REPORT_SIGN = (id) => `/api/reports/${id}/sign/`;     // POST
export const REPORT_AMEND = (id) => `/api/reports/${id}/amend/`;   // POST {reason}: opens an amendment draft
// studies: [{id, instance, frame, window_center, window_width, rendered_url}]; PUT {key_images: [{instance, frame, window_center, window_width}]} replaces all
export const REPORT_KEY_IMAGES = (id) => `/api/reports/${id}/key-images/`;
// {days, by_urgency: {urgency: {step: {n, median, p90}}}, by_expert: {name: {...}}}, steps below; minutes
export const TURNAROUND = "/api/reports/turnaround/";         // ?days=
export const QC = "/api/reports/quality/figures/";            // [{expert, sampled, read, agree, minor, major, agreement_rate}]
export const QC_SAMPLE = "/api/reports/quality/samples/";     // POST {share}: coordinators draw a second-read sample
export const QC_READS = "/api/reports/quality/reads/";        // the second reader's queue [{id, report, version, kind, content, read_at}]
export const QC_RECORD = (id) => `/api/reports/quality/samples/${id}/`; // POST {agreement: agree|minor|major, comment}
// (a constant set to null shows "not available" without a request)

// live: open (or find) the consultation's room; the reply's "page" is the room page
export const LIVE_ROOMS = "/api/live/rooms/";                 // POST {consultation} -> {id, page, ...}
export const LIVE_ROOM_OF = (consultationId) => `/api/live/rooms/?consultation=${consultationId}`; // GET: the open room (experts join)
export const LIVE_ROOM_PAGE = (id) => `/live/rooms/${id}/`;
export const LIVE_EXPERT_REQUEST = (roomId) => `/api/live/rooms/${roomId}/expert-request/`; // POST: offer the case to an on-duty expert now
export const LIVE_ROOM_CLOSE = (roomId) => `/api/live/rooms/${roomId}/close/`; // POST: the host ends the call for everyone
export const LIVE_INVITES = (roomId) => `/api/live/rooms/${roomId}/invites/`; // POST {} -> {id, url, qr_svg, expires_at, phone}
export const LIVE_INVITE_SMS = (roomId, inviteId) => `/api/live/rooms/${roomId}/invites/${inviteId}/sms/`; // POST {phone} -> {phone}
// the patient's phone, no account: POST {token}; refusals are 403 {code, detail}
export const LIVE_LINK_CHECK = (roomId) => `/api/live/rooms/${roomId}/link-check/`;
export const LIVE_JOIN = (roomId) => `/api/live/rooms/${roomId}/join/`;   // -> {ws_path}: a single-use ticket for one socket
export const LIVE_ROOM_SOCKET = (roomId) => `/ws/rooms/${roomId}/`;       // staff (session); the patient uses LIVE_JOIN's ws_path
export const READING_PAGE = (consultationId) => `/read/${consultationId}/`;

// records: the patient's record across the community (issue 17)
export const RECORD_PAGE = (patientId) => `/patients/${patientId}/record/`;
// {patient: {id, name, sex, birth_date, id_number_masked, health_record_no, home_clinic}, results: [{kind, id, at, consultation, ...}], next_cursor}
export const RECORD_TIMELINE = (patientId) => `/api/records/patients/${patientId}/timeline/`; // ?kind=a,b&from=&to=&cursor=&limit=
export const RECORD_BREAK_GLASS = (patientId) => `/api/records/patients/${patientId}/break-glass/`; // POST {reason}
export const BREAK_GLASS_READS = "/api/records/break-glass/"; // coordinators (paginated): [{user_name, patient, patient_name, reason, created_at, expires_at}]
export const RECORD_PRIORS = (consultationId) => `/api/records/consultations/${consultationId}/priors/`; // {attached: [...], priors: [{kind, id, at, consultation, study_instance_uid?}]}
// GET {kinds, days, studies: [...]}: the record's recent studies of the kind asked for; POST {study: "ecg:<id>"|"imaging:<id>"} attaches one
export const RECORD_ECG_COMPARISON = (ecgId) => `/api/records/ecgs/${ecgId}/comparison/`; // {current, prior|null, measurements: [{key, label, unit, current, prior, change, withheld}], statements: {new, gone, unchanged, device_new, device_gone}}
export const RECORD_RECOGNISED = (consultationId) => `/api/records/consultations/${consultationId}/recognised/`;
// the expert's phrase library (常用语): GET ?kind= -> [{id, kind, field, code, label, text, specialty, mine}], POST {kind, field, code, label, text}
export const PHRASES = "/api/reports/phrases/";
export const PHRASE = (id) => `/api/reports/phrases/${id}/`; // PATCH {label, text, code, field}, DELETE: the expert's own only
// one case's offers and their outcome: [{expert_name, status, decided_at, reason, decline_code}] (paginated)
export const CONSULTATION_OFFERS = (id) => `/api/scheduling/assignments/?consultation=${id}`;
