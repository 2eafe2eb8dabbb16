// getSignature for Tencent's VOD upload SDKs, served by vodsign.
//
// The SDK calls getSignature() before each step of an upload (2-3 times per file, more when
// its storage credentials are refreshed). Every call asks vodsign for a fresh signature:
// with oneTimeValid (the default policy) a signature works once, so none is cached.
//
// Two ways to ask (both below):
// - createGetSignature: POST /v1/signature on every call (each call spends quota);
// - createUploadTicket: an upload ticket (vodsign's [uploads] on): the first call makes the
//   upload (POST /v1/uploads, with metadata), later calls re-sign it
//   (POST /v1/uploads/{uploadId}/signature, rate but no quota), and the page can read the
//   upload afterwards (GET /v1/uploads/{uploadId}). 409 (the upload has had all its
//   signatures) and 410 (it expired) start a new upload, once per call.
//
// Errors arrive in vodsign's one envelope, {"code":40102,"message":"...","requestId":"..."}:
// - 401 (40101, 40102): the credential is missing, wrong or expired: sign the user in again.
//   Not retried.
// - 429 (rate limit, quota, too many requests in progress) and 503 (busy, shutting down):
//   wait Retry-After seconds and ask again, a bounded number of times, and only when the
//   wait is short (a quota that refills tomorrow is an error to show, not a wait).
// - anything else (400, 403: the policy refuses the request): shown as it is.
//
// Plain ES module, no dependencies: the page imports it, and so can any bundler.

/** A refusal or failure of the signature service, with what the page needs to react. */
export class SignatureError extends Error {
  constructor(message, { status = 0, code = 0, requestId = "", reauthenticate = false } = {}) {
    super(message);
    this.name = "SignatureError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    /** True when the user must sign in again (HTTP 401). */
    this.reauthenticate = reauthenticate;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Seconds to wait before the next attempt: the server's Retry-After (delta-seconds or an
 * HTTP date) when it sent one the page can read, else a short exponential backoff.
 */
export function retryDelaySeconds(retryAfter, attempt) {
  if (retryAfter !== null && retryAfter !== undefined && retryAfter !== "") {
    if (/^\d+$/.test(retryAfter.trim())) return Number(retryAfter.trim());
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - Date.now()) / 1000));
  }
  return Math.min(2 ** (attempt - 1), 8);
}

/**
 * One request to vodsign with the rules above: 401 throws with `reauthenticate`, 429/503
 * wait Retry-After (bounded), a network failure is retried with a short backoff, anything
 * else throws with vodsign's message. Resolves to the envelope's `data` on a 2xx answer.
 */
async function callVodsign(url, { method = "POST", body, credential, maxAttempts, maxWaitSeconds, onEvent, fetchImpl, sleepImpl }) {
  for (let attempt = 1; ; attempt += 1) {
    let response;
    try {
      const headers = { Authorization: `Bearer ${await credential()}` };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      response = await fetchImpl(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (cause) {
      // A network failure and a CORS refusal look the same to a page.
      if (attempt < maxAttempts) {
        const seconds = retryDelaySeconds(null, attempt);
        onEvent({ type: "wait", reason: "network", seconds, attempt });
        await sleepImpl(seconds * 1000);
        continue;
      }
      throw new SignatureError(
        `cannot reach the signature service (${cause.message}); check the network, ` +
          "and that this page's origin is in vodsign's [server.cors] allowed_origins",
      );
    }

    const envelope = await response.json().catch(() => null);
    if (response.ok && envelope && envelope.code === 0 && envelope.data) return envelope.data;

    const code = envelope?.code ?? 0;
    const requestId = envelope?.requestId ?? response.headers.get("x-request-id") ?? "";
    const message = envelope?.message ?? `HTTP ${response.status}`;
    const details = { status: response.status, code, requestId };
    if (response.status === 401) {
      throw new SignatureError(`please sign in again: ${message}`, { ...details, reauthenticate: true });
    }
    if (response.status === 429 || response.status === 503) {
      const header = response.headers.get("Retry-After");
      const seconds = retryDelaySeconds(header, attempt);
      if (attempt < maxAttempts && seconds <= maxWaitSeconds) {
        onEvent({ type: "wait", reason: `HTTP ${response.status} (${code})`, seconds, retryAfter: header, attempt });
        await sleepImpl(seconds * 1000);
        continue;
      }
      const when = header ? `; try again in ${seconds} s` : "";
      throw new SignatureError(`signature refused for now: ${message}${when}`, details);
    }
    throw new SignatureError(`signature refused (${response.status}, ${code}): ${message}`, details);
  }
}

function callOptions({ credential, maxAttempts = 4, maxWaitSeconds = 30, onEvent = () => {}, fetch: fetchImpl, sleep: sleepImpl = sleep }) {
  return {
    credential,
    maxAttempts,
    maxWaitSeconds,
    onEvent,
    fetchImpl: fetchImpl ?? globalThis.fetch.bind(globalThis),
    sleepImpl,
  };
}

/**
 * Makes the getSignature function the SDK takes: POST /v1/signature on every call.
 *
 * @param {object} options
 * @param {string} options.endpoint   vodsign's URL, e.g. "https://api.example.com/v1/signature"
 * @param {() => string | Promise<string>} options.credential
 *        the user's current API key or access token (asked for on every call, so a refreshed
 *        token is used as soon as the app has it)
 * @param {object} [options.request]  fields for POST /v1/signature, e.g. { classId: 1 }
 * @param {number} [options.maxAttempts=4]     attempts per signature, first one included
 * @param {number} [options.maxWaitSeconds=30] a longer Retry-After is reported, not waited
 * @param {(event: object) => void} [options.onEvent] told about every wait and every signature
 * @param {typeof fetch} [options.fetch]
 * @param {(ms: number) => Promise<void>} [options.sleep]
 */
export function createGetSignature({ endpoint, request = {}, ...options }) {
  const call = callOptions(options);
  return async function getSignature() {
    const data = await callVodsign(endpoint, { ...call, body: request });
    if (typeof data.signature !== "string") throw new SignatureError("the signature service answered without a signature");
    call.onEvent({ type: "signature", expireTime: data.expireTime });
    return data.signature;
  };
}

/**
 * An upload ticket for one file: `getSignature` for the SDK, and `read()` for the upload's
 * record afterwards. Needs vodsign's [uploads] on.
 *
 * The SDK's first getSignature() makes the upload (POST /v1/uploads with `request` and
 * `metadata`; one quota unit); each later call re-signs it (POST /v1/uploads/{id}/signature;
 * rate only). Every signature carries the upload's `vs1.<uploadId>.<tag>` context, so VOD's
 * events name it. When a re-sign is refused with 409 (40901: the upload has had all its
 * signatures, or is finished) or 410 (41001: it expired), that call makes a new upload
 * instead (told as a "new-upload" event); `uploadIds` lists every upload made.
 *
 * @param {object} options
 * @param {string} options.apiBase  vodsign's base URL, e.g. "https://api.example.com"
 * @param {() => string | Promise<string>} options.credential  as for createGetSignature
 * @param {object} [options.request]   fields for POST /v1/uploads, e.g. { classId: 1 }
 * @param {object} [options.metadata] stored with the upload and returned as given
 * @param {number} [options.maxAttempts=4]
 * @param {number} [options.maxWaitSeconds=30]
 * @param {(event: object) => void} [options.onEvent]
 *        each wait, each signature ({ type: "signature", uploadId, signaturesIssued }), each
 *        new upload ({ type: "new-upload", uploadId, replaces, reason })
 * @param {typeof fetch} [options.fetch]
 * @param {(ms: number) => Promise<void>} [options.sleep]
 */
export function createUploadTicket({ apiBase, request = {}, metadata, ...options }) {
  const call = callOptions(options);
  const base = apiBase.replace(/\/+$/, "");
  const uploadIds = [];
  let uploadId = null;

  async function create(replaces, reason) {
    const body = metadata === undefined ? { ...request } : { ...request, metadata };
    const data = await callVodsign(`${base}/v1/uploads`, { ...call, body });
    if (typeof data.signature !== "string" || typeof data.uploadId !== "string") {
      throw new SignatureError("the signature service answered without an upload");
    }
    uploadId = data.uploadId;
    uploadIds.push(uploadId);
    call.onEvent({ type: "new-upload", uploadId, replaces, reason, uploadExpiresAt: data.uploadExpiresAt });
    call.onEvent({ type: "signature", uploadId, signaturesIssued: 1, expireTime: data.expireTime });
    return data.signature;
  }

  async function getSignature() {
    if (uploadId === null) return create(null, "first signature");
    const path = `${base}/v1/uploads/${encodeURIComponent(uploadId)}/signature`;
    try {
      const data = await callVodsign(path, { ...call });
      call.onEvent({ type: "signature", uploadId, signaturesIssued: data.signaturesIssued, expireTime: data.expireTime });
      return data.signature;
    } catch (error) {
      if (error.status === 409 || error.status === 410) return create(uploadId, `HTTP ${error.status} (${error.code})`);
      throw error;
    }
  }

  /** The current upload's record (GET /v1/uploads/{uploadId}): status, signaturesIssued, metadata... */
  async function read() {
    if (uploadId === null) throw new SignatureError("no upload yet: the SDK has not asked for a signature");
    return callVodsign(`${base}/v1/uploads/${encodeURIComponent(uploadId)}`, { ...call, method: "GET" });
  }

  return {
    getSignature,
    read,
    /** The upload the last signature belongs to, or null before the first. */
    get uploadId() {
      return uploadId;
    },
    /** Every upload this ticket made, oldest first. */
    get uploadIds() {
      return [...uploadIds];
    },
  };
}
