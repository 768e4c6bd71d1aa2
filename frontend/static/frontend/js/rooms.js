// Going to a consultation's live room from a list. The requesting doctor opens it (the live app
// creates it or returns the open one); an expert joins the room the doctor has opened.

import { api } from "./api.js";
import { LIVE_ROOM_OF, LIVE_ROOM_PAGE, LIVE_ROOMS } from "./endpoints.js";
import { el } from "./dom.js";
import { t } from "./strings.js";

export function liveRoomButton(consultationId, onError, { join = false } = {}) {
  return el("button", { type: "button", class: "small", dataset: { room: consultationId }, onclick: async () => {
    try {
      const room = join ? await api(LIVE_ROOM_OF(consultationId))
        : await api(LIVE_ROOMS, { method: "POST", body: { consultation: consultationId } });
      window.location.assign(room.page || LIVE_ROOM_PAGE(room.id));
    } catch (error) {
      onError(error);
    }
  } }, t("Live room"));
}
