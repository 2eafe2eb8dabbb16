// The page: a file picker that uploads with vod-js-sdk-v6 (loaded by index.html as the
// global TcVod) and gets each signature from vodsign through ./vodsign.js.
import { createGetSignature } from "./vodsign.js";

const $ = (id) => document.getElementById(id);
const status = $("status");
const log = $("log");

function show(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

function note(text) {
  const item = document.createElement("li");
  item.textContent = text;
  log.append(item);
}

// In a real app the credential is the signed-in user's access token (refreshed by your
// auth library); here it is whatever the field holds when the SDK asks.
const getSignature = createGetSignature({
  endpoint: $("endpoint").value,
  credential: () => $("credential").value.trim(),
  request: {},
  onEvent(event) {
    if (event.type === "signature") note(`signature issued (expires ${event.expireTime})`);
    if (event.type === "wait") {
      const source = event.retryAfter ? `Retry-After: ${event.retryAfter}` : "no Retry-After";
      note(`${event.reason}: waiting ${event.seconds} s (${source}), attempt ${event.attempt}`);
    }
  },
});

$("endpoint").addEventListener("change", () => {
  // Rebuild with the new endpoint; kept simple for the example.
  window.location.search = `?endpoint=${encodeURIComponent($("endpoint").value)}`;
});

$("upload").addEventListener("click", async () => {
  const file = $("file").files[0];
  if (!file) {
    show("error", "Choose a video file first.");
    return;
  }
  const tcVod = new TcVod.default({ getSignature });
  const uploader = tcVod.upload({ mediaFile: file });
  uploader.on("media_progress", (info) => show("uploading", `Uploading: ${Math.round(info.percent * 100)} %`));
  show("uploading", "Uploading…");
  try {
    const result = await uploader.done();
    show("done", `Uploaded: fileId ${result.fileId}`);
  } catch (error) {
    if (error.reauthenticate) {
      show("reauth", `Your session has ended: sign in again. (${error.message})`);
    } else {
      show("error", `Upload failed: ${error.message}`);
    }
  }
});
