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
 * Makes the getSignature(callback) function vod-wx-sdk-v2 takes.
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
function createGetSignature({
  endpoint,
  credential,
  onError,
  request = {},
  maxAttempts = 4,
  maxWaitSeconds = 30,
  onEvent = () => {},
}) {
  return function getSignature(callback) {
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
      wx.request({
        url: endpoint,
        method: "POST",
        header: { Authorization: `Bearer ${credential()}`, "Content-Type": "application/json" },
        data: request,
        dataType: "json",
        timeout: 10000,
        success(response) {
          const body = response.data && typeof response.data === "object" ? response.data : {};
          if (response.statusCode === 200 && body.code === 0 && body.data && body.data.signature) {
            onEvent({ type: "signature", attempt, expireTime: body.data.expireTime });
            callback(body.data.signature);
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
  };
}

module.exports = { createGetSignature, retryDelaySeconds, SignatureError };
