// The host's "ask for an expert now" in the live room: the consultation's true state (offered, accepted by
// whom, escalated), kept current by the notification socket; the button offers the case to an on-duty expert.
import { api } from "../frontend/js/api.js";
import { CONSULTATION, LIVE_EXPERT_REQUEST } from "../frontend/js/endpoints.js";
import { NotificationSocket } from "../frontend/js/socket.js";
import { t } from "../frontend/js/strings.js";
import { formatDateTime } from "../frontend/js/time.js";

const root = document.getElementById("live-room");
const roomId = Number(root.dataset.room);
const consultationId = Number(root.dataset.consultation);
const line = document.getElementById("expert-state");
const button = document.getElementById("btn-ask-expert");

const STATE = {
  requested: t("No expert asked yet"),
  offered: t("An on-duty expert is being asked…"),
  escalated: t("No expert on duty: the coordinators were told"),
  in_progress: t("In progress"),
  reported: t("Reported"),
  closed: t("Closed"),
  cancelled: t("Cancelled"),
};
const ASKABLE = new Set(["requested", "escalated"]);

function show(c) {
  line.dataset.state = c.state;
  if (c.expert_name) {
    line.textContent = t("Expert {name} accepted", { name: c.expert_name })
      + (c.booked_at ? ` · ${t("Booked {time}", { time: formatDateTime(c.booked_at) })}` : "");
  } else {
    line.textContent = STATE[c.state] || c.state;
  }
  button.hidden = !ASKABLE.has(c.state) || Boolean(c.expert_name);
}

async function refresh() {
  try { show(await api(CONSULTATION(consultationId))); } catch (error) { line.textContent = error.message; }
}

button.addEventListener("click", async () => {
  button.disabled = true;
  try {
    await api(LIVE_EXPERT_REQUEST(roomId), { method: "POST", body: {} });
  } catch (error) {
    line.textContent = error.message;
  }
  button.disabled = false;
  await refresh();
});

new NotificationSocket({ onEvent: (event) => {
  const type = event.type || "";
  if (event.consultation === consultationId && (type.startsWith("consultation.") || type.startsWith("assignment."))) refresh();
} }).start();
refresh().then(() => { root.dataset.expertReady = "true"; });
