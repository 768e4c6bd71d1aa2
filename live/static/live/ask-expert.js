// The host's "ask for an expert now" in the live room: the consultation's true state (offered, accepted by
// whom, escalated), kept current by the notification socket; the button offers the case to an on-duty expert.
import { api } from "../frontend/js/api.js";
import { CONSULTATION, LIVE_EXPERT_REQUEST } from "../frontend/js/endpoints.js";
import { NotificationSocket } from "../frontend/js/socket.js";
import { formatDateTime } from "../frontend/js/time.js";

const root = document.getElementById("live-room");
const roomId = Number(root.dataset.room);
const consultationId = Number(root.dataset.consultation);
const line = document.getElementById("expert-state");
const button = document.getElementById("btn-ask-expert");

const STATE = {
  requested: "尚未请专家 No expert asked yet",
  offered: "正在邀请值班专家… An on-duty expert is being asked…",
  escalated: "暂无值班专家，已转协调员 No expert on duty: the coordinators were told",
  in_progress: "会诊进行中 In progress",
  reported: "已出报告 Reported",
  closed: "已完成 Closed",
  cancelled: "已取消 Cancelled",
};
const ASKABLE = new Set(["requested", "escalated"]);

function show(c) {
  line.dataset.state = c.state;
  if (c.expert_name) {
    line.textContent = `专家 ${c.expert_name} 已接诊 ${c.expert_name} accepted`
      + (c.booked_at ? ` · 预约 Booked ${formatDateTime(c.booked_at)}` : "");
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
