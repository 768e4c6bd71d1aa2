// Opening a consultation's live room from a list: the live app creates it (or returns the open one).

import { api } from "./api.js";
import { LIVE_ROOM_PAGE, LIVE_ROOMS } from "./endpoints.js";
import { el } from "./dom.js";
import { t } from "./strings.js";

export function liveRoomButton(consultationId, onError) {
  return el("button", { type: "button", class: "small", dataset: { room: consultationId }, onclick: async () => {
    try {
      const room = await api(LIVE_ROOMS, { method: "POST", body: { consultation: consultationId } });
      window.location.assign(room.page || LIVE_ROOM_PAGE(room.id));
    } catch (error) {
      onError(error);
    }
  } }, t("Live room"));
}
