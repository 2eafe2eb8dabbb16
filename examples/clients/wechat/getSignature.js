// getSignature for vod-wx-sdk-v2 in a WeChat mini-program, served by vodsign.
//
// The SDK calls getSignature(callback) and waits for callback(signature); it has no error
// path of its own. So a refusal goes to the page's onError, and the callback is not called:
// that upload stops there, and the page tells the user what to do.
//
// Every call asks vodsign for a fresh signature (with oneTimeValid, the default policy, a
// signature works once). 401: the user must sign in again (not retried). 429/503: wait
// Retry-After seconds and ask again, a bounded number of times, only for a short wait.
//
// With vodsign's upload tickets on, createTicketGetSignature makes the upload on the first
// call (POST /v1/uploads, with metadata) and re-signs it on later ones
// (POST /v1/uploads/{uploadId}/signature); a re-sign refused with 409 (no signatures left)
// or 410 (expired) makes a new upload instead. readUpload() reads the upload's record.
//
// wx.request only reaches domains listed in the mini-program's "request legal domains"
// (docs/clients.md lists what to add).

/** A refusal or failure of the signature service. */
class SignatureError extends Error {
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

/** Seconds before the next attempt: Retry-After when sent, else a short backoff. */
function retryDelaySeconds(retryAfter, attempt) {
  if (retryAfter !== undefined && retryAfter !== null && /^\s*\d+\s*$/.test(String(retryAfter))) {
    return Number(String(retryAfter).trim());
  }
  return Math.min(2 ** (attempt - 1), 8);
}

function headerValue(headers, name) {
  const wanted = name.toLowerCase();
  for (const key of Object.keys(headers || {})) {
    if (key.toLowerCase() === wanted) return headers[key];
  }
  return undefined;
}

/**
 * One request to vodsign with the rules above, in wx.request's callback style: onData gets
 * the envelope's `data` of a 2xx answer, onError a SignatureError (after the bounded waits).
 */
function callVodsign({ url, method = "POST", data, credential, maxAttempts, maxWaitSeconds, onEvent }, onData, onError) {
  let attempt = 0;
  const retryOrFail = (seconds, event, error) => {
    if (attempt < maxAttempts && seconds <= maxWaitSeconds) {
      onEvent({ type: "wait", seconds, attempt, ...event });
      setTimeout(ask, seconds * 1000);
    } else {
      onError(error);
    }
  };
  const ask = () => {
    attempt += 1;
    const header = { Authorization: `Bearer ${credential()}` };
    if (data !== undefined) header["Content-Type"] = "application/json";
    wx.request({
      url,
      method,
      header,
      data,
      dataType: "json",
      timeout: 10000,
      success(response) {
        const body = response.data && typeof response.data === "object" ? response.data : {};
        if (response.statusCode >= 200 && response.statusCode < 300 && body.code === 0 && body.data) {
          onData(body.data);
          return;
        }
        const details = {
          status: response.statusCode,
          code: body.code || 0,
          requestId: body.requestId || headerValue(response.header, "x-request-id") || "",
        };
        const message = body.message || `HTTP ${response.statusCode}`;
        if (response.statusCode === 401) {
          onError(new SignatureError(`please sign in again: ${message}`, { ...details, reauthenticate: true }));
        } else if (response.statusCode === 429 || response.statusCode === 503) {
          const retryAfter = headerValue(response.header, "Retry-After");
          const seconds = retryDelaySeconds(retryAfter, attempt);
          retryOrFail(
            seconds,
            { reason: `HTTP ${response.statusCode} (${details.code})`, retryAfter },
            new SignatureError(`signature refused for now: ${message}; try again in ${seconds} s`, details),
          );
        } else {
          onError(new SignatureError(`signature refused (${response.statusCode}, ${details.code}): ${message}`, details));
        }
      },
      fail(failure) {
        // Also what a domain missing from the request legal domains looks like.
        const seconds = retryDelaySeconds(undefined, attempt);
        retryOrFail(
          seconds,
          { reason: "network" },
          new SignatureError(`cannot reach the signature service: ${failure && failure.errMsg}`),
        );
      },
    });
  };
  ask();
}

function callOptions({ credential, maxAttempts = 4, maxWaitSeconds = 30, onEvent = () => {} }) {
  return { credential, maxAttempts, maxWaitSeconds, onEvent };
}

/**
 * Makes the getSignature(callback) function vod-wx-sdk-v2 takes: POST /v1/signature on
 * every call.
 *
 * @param {object} options
 * @param {string} options.endpoint  vodsign's URL, e.g. "https://api.example.com/v1/signature"
 * @param {() => string} options.credential  the user's current API key or access token
 * @param {(error: SignatureError) => void} options.onError  told when no signature comes
 * @param {object} [options.request]  fields for POST /v1/signature, e.g. { classId: 1 }
 * @param {number} [options.maxAttempts=4]
 * @param {number} [options.maxWaitSeconds=30]
 * @param {(event: object) => void} [options.onEvent]  every wait and every signature
 */
function createGetSignature({ endpoint, onError, request = {}, ...options }) {
  const call = callOptions(options);
  return function getSignature(callback) {
    callVodsign({ ...call, url: endpoint, data: request }, (data) => {
      if (typeof data.signature !== "string") {
        onError(new SignatureError("the signature service answered without a signature"));
        return;
      }
      call.onEvent({ type: "signature", expireTime: data.expireTime });
      callback(data.signature);
    }, onError);
  };
}

/**
 * An upload ticket for one file (vodsign's [uploads] on): `getSignature(callback)` for
 * vod-wx-sdk-v2, and `readUpload(onData)` for the upload's record. The first call makes the
 * upload (POST /v1/uploads with `request` and `metadata`), later calls re-sign it
 * (POST /v1/uploads/{uploadId}/signature); a re-sign refused with 409 or 410 makes a new
 * upload instead (a "new-upload" event). `uploadId()` is the current upload, `uploadIds()`
 * every upload made.
 *
 * @param {object} options
 * @param {string} options.apiBase  vodsign's base URL, e.g. "https://api.example.com"
 * @param {() => string} options.credential
 * @param {(error: SignatureError) => void} options.onError  told when no signature comes
 * @param {object} [options.request]   fields for POST /v1/uploads, e.g. { classId: 1 }
 * @param {object} [options.metadata]  stored with the upload and returned as given
 * @param {number} [options.maxAttempts=4]
 * @param {number} [options.maxWaitSeconds=30]
 * @param {(event: object) => void} [options.onEvent]  each wait, signature and new upload
 */
function createUploadTicket({ apiBase, onError, request = {}, metadata, ...options }) {
  const call = callOptions(options);
  const base = apiBase.replace(/\/+$/, "");
  const made = [];
  let current = null;

  const create = (callback, replaces, reason) => {
    const data = metadata === undefined ? Object.assign({}, request) : Object.assign({}, request, { metadata });
    callVodsign({ ...call, url: `${base}/v1/uploads`, data }, (answer) => {
      if (typeof answer.signature !== "string" || typeof answer.uploadId !== "string") {
        onError(new SignatureError("the signature service answered without an upload"));
        return;
      }
      current = answer.uploadId;
      made.push(current);
      call.onEvent({ type: "new-upload", uploadId: current, replaces, reason });
      call.onEvent({ type: "signature", uploadId: current, signaturesIssued: 1, expireTime: answer.expireTime });
      callback(answer.signature);
    }, onError);
  };

  function getSignature(callback) {
    if (current === null) {
      create(callback, null, "first signature");
      return;
    }
    const uploadId = current;
    callVodsign({ ...call, url: `${base}/v1/uploads/${encodeURIComponent(uploadId)}/signature` }, (answer) => {
      call.onEvent({ type: "signature", uploadId, signaturesIssued: answer.signaturesIssued, expireTime: answer.expireTime });
      callback(answer.signature);
    }, (error) => {
      if (error.status === 409 || error.status === 410) create(callback, uploadId, `HTTP ${error.status} (${error.code})`);
      else onError(error);
    });
  }

  /** GET /v1/uploads/{uploadId}: onData gets status, signaturesIssued, metadata, ... */
  function readUpload(onData, onReadError = onError) {
    if (current === null) {
      onReadError(new SignatureError("no upload yet: the SDK has not asked for a signature"));
      return;
    }
    callVodsign({ ...call, method: "GET", url: `${base}/v1/uploads/${encodeURIComponent(current)}` }, onData, onReadError);
  }

  return { getSignature, readUpload, uploadId: () => current, uploadIds: () => made.slice() };
}

module.exports = { createGetSignature, createUploadTicket, retryDelaySeconds, SignatureError };
