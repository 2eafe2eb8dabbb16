// getSignature for Tencent's VOD upload SDKs, served by vodsign.
//
// The SDK calls getSignature() before each step of an upload (2-3 times per file, more when
// its storage credentials are refreshed). Every call asks vodsign for a fresh signature:
// with oneTimeValid (the default policy) a signature works once, so none is cached.
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
 * Makes the getSignature function the SDK takes.
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
export function createGetSignature({
  endpoint,
  credential,
  request = {},
  maxAttempts = 4,
  maxWaitSeconds = 30,
  onEvent = () => {},
  fetch: fetchImpl = globalThis.fetch.bind(globalThis),
  sleep: sleepImpl = sleep,
}) {
  return async function getSignature() {
    for (let attempt = 1; ; attempt += 1) {
      let response;
      try {
        response = await fetchImpl(endpoint, {
          method: "POST",
          headers: {
            Authorization: `Bearer ${await credential()}`,
            "Content-Type": "application/json",
          },
          body: JSON.stringify(request),
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

      const body = await response.json().catch(() => null);
      if (response.ok && body && body.code === 0 && typeof body.data?.signature === "string") {
        onEvent({ type: "signature", attempt, expireTime: body.data.expireTime });
        return body.data.signature;
      }

      const code = body?.code ?? 0;
      const requestId = body?.requestId ?? response.headers.get("x-request-id") ?? "";
      const message = body?.message ?? `HTTP ${response.status}`;
      if (response.status === 401) {
        throw new SignatureError(`please sign in again: ${message}`, {
          status: 401,
          code,
          requestId,
          reauthenticate: true,
        });
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
        throw new SignatureError(`signature refused for now: ${message}${when}`, {
          status: response.status,
          code,
          requestId,
        });
      }
      throw new SignatureError(`signature refused (${response.status}, ${code}): ${message}`, {
        status: response.status,
        code,
        requestId,
      });
    }
  };
}
