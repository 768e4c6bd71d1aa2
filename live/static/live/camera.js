// The camera and microphone: opened (the mic alone if the camera is refused), and why not, for a person.
import { t } from "../frontend/js/strings.js";

export function cameraErrorText(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return t("Camera and microphone access was denied. Click the camera icon in the address bar, choose Allow, then reload the page.");
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") return t("No camera or microphone found.");
  if (name === "NotReadableError") return t("The camera is in use by another program; close it and try again.");
  return t("Could not open the camera or microphone.");
}

export async function openCamera() {
  // Camera and mic; if the camera is refused or missing, try the mic alone.
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } }) };
  } catch (error) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia({ audio: true }), error };
    } catch (_) {
      return { stream: null, error };
    }
  }
}
