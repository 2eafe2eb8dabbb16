// The page: a file picker that uploads with vod-js-sdk-v6 (loaded by index.html as the
// global TcVod) and gets each signature from vodsign through ./vodsign.js, either with
// POST /v1/signature on every call or, with "upload ticket" ticked, through an upload
// ticket (POST /v1/uploads, then re-signs), whose record the page reads when done.
import { createGetSignature, createUploadTicket } from "./vodsign.js";

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

function onEvent(event) {
  if (event.type === "new-upload") {
    note(event.replaces ? `new upload ${event.uploadId} (${event.replaces}: ${event.reason})` : `upload ${event.uploadId} created`);
  }
  if (event.type === "signature") {
    const which = event.uploadId ? ` for ${event.uploadId} (#${event.signaturesIssued})` : "";
    note(`signature issued${which} (expires ${event.expireTime})`);
  }
  if (event.type === "wait") {
    const source = event.retryAfter ? `Retry-After: ${event.retryAfter}` : "no Retry-After";
    note(`${event.reason}: waiting ${event.seconds} s (${source}), attempt ${event.attempt}`);
  }
}

// In a real app the credential is the signed-in user's access token (refreshed by your
// auth library); here it is whatever the field holds when the SDK asks.
const credential = () => $("credential").value.trim();

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
  const endpoint = $("endpoint").value;
  // One ticket per file: its first signature makes the upload, later ones re-sign it.
  const ticket = $("ticket").checked
    ? createUploadTicket({
        apiBase: endpoint.replace(/\/v1\/signature$/, ""),
        credential,
        metadata: { title: $("title").value || file.name },
        onEvent,
      })
    : null;
  const getSignature = ticket ? ticket.getSignature : createGetSignature({ endpoint, credential, onEvent });
  const tcVod = new TcVod.default({ getSignature });
  const uploader = tcVod.upload({ mediaFile: file });
  uploader.on("media_progress", (info) => show("uploading", `Uploading: ${Math.round(info.percent * 100)} %`));
  show("uploading", "Uploading…");
  try {
    const result = await uploader.done();
    if (ticket) {
      // vodsign's record of the upload: the page (or your backend) can show it any time.
      const record = await ticket.read();
      $("record").textContent = JSON.stringify(record);
      $("record").dataset.uploadId = record.uploadId;
    }
    show("done", `Uploaded: fileId ${result.fileId}${ticket ? `, upload ${ticket.uploadId}` : ""}`);
  } catch (error) {
    if (error.reauthenticate) {
      show("reauth", `Your session has ended: sign in again. (${error.message})`);
    } else {
      show("error", `Upload failed: ${error.message}`);
    }
  }
});
