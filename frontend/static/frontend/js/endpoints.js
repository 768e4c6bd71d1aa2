// Every URL the pages call, in one place: wiring a page to a back end is a one-line change here.
// Marked "main" where the endpoint exists on main; the others follow the shape of the named branch
// and are served by test fixtures (tests/frontend) until that branch lands.

// directory, consult, audit (main)
export const ME = "/api/me/";
export const PATIENTS = "/api/patients/";                     // GET ?q= (paginated), POST
export const PATIENT = (id) => `/api/patients/${id}/`;
export const SPECIALTIES = "/api/specialties/";
export const ORGANISATIONS = "/api/organisations/";
export const CONSULTATIONS = "/api/consultations/";           // GET ?state= (paginated), POST
export const CONSULTATION = (id) => `/api/consultations/${id}/`;
export const AUDIT = "/api/audit/";                           // GET, admins only (paginated)
export const NOTIFICATIONS_SOCKET = "/ws/notifications/";

// studies (branch studies): tus 1.0.0 endpoint; ECG samples JSON per studies/formats/ecg/serve.py
export const UPLOADS = "/api/uploads/";
export const CONSULTATION_STUDIES = (id) => `/api/consultations/${id}/studies/`;
export const ECG = (id) => `/api/ecgs/${id}/`;                // {device_measurements, computed_measurements, ...}
export const ECG_SAMPLES = (id) => `/api/ecgs/${id}/samples/`; // {sampling_rate, n_samples, units, encoding, leads}
export const IMAGING_STUDY = (id) => `/api/imaging-studies/${id}/`; // {series: [{id, description, modality, instances: [{id, frames}]}]}
export const FRAME = (instanceId, frame, center, width) => {
  const q = new URLSearchParams({ format: "png" });
  if (center !== null && center !== undefined) q.set("window_center", center);
  if (width !== null && width !== undefined) q.set("window_width", width);
  return `/api/instances/${instanceId}/frames/${frame}/rendered?${q}`;
};

// scheduling (branch scheduling)
export const WORKLIST = "/api/worklist/";
export const OFFERS = "/api/assignments/?state=offered";
export const OFFER_ACCEPT = (id) => `/api/assignments/${id}/accept/`;
export const OFFER_DECLINE = (id) => `/api/assignments/${id}/decline/`;
export const SESSIONS = "/api/sessions/";                     // GET ?from=&to= -> rostered cloud-clinic sessions
export const REFERRALS = "/api/referrals/";
export const ESCALATIONS = "/api/consultations/?state=escalated";

// reports (branch reports)
export const REPORTS_INCOMING = "/api/reports/incoming/";
export const REPORT_ACK = (id) => `/api/reports/${id}/acknowledge/`;
export const REPORT_PDF = (id) => `/api/reports/${id}/pdf/`;
export const CONSULTATION_REPORT = (id) => `/api/consultations/${id}/report/`; // GET draft or latest + template
export const REPORT_DRAFT = (id) => `/api/reports/${id}/draft/`;   // PATCH {content}
export const REPORT_SIGN = (id) => `/api/reports/${id}/sign/`;     // POST
export const REPORT_AMEND = (id) => `/api/reports/${id}/amend/`;   // POST {reason, content}
export const TURNAROUND = "/api/reports/turnaround/";
export const QC = "/api/reports/qc/";
