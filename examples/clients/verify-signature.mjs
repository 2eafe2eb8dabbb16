// Checks a VOD upload signature the way VOD does, independently of vodsign's own code:
// Base64-decode, split off the 20-byte HMAC-SHA1, recompute it over the rest with the
// SecretKey, then read the rest as a query string. Used by the client examples' tests.
import { createHmac, timingSafeEqual } from "node:crypto";

const REQUIRED = ["secretId", "currentTimeStamp", "expireTime", "random"];

/**
 * Returns the signed parameters (a plain object) when `signature` verifies with
 * `secretKey` and is currently valid for `secretId`; throws an Error saying why not.
 */
export function verifySignature(signature, { secretKey, secretId, now = Math.floor(Date.now() / 1000) }) {
  if (typeof signature !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(signature) || signature.length % 4 !== 0) {
    throw new Error(`not standard padded Base64: ${JSON.stringify(signature).slice(0, 80)}`);
  }
  const bytes = Buffer.from(signature, "base64");
  if (bytes.length <= 20) throw new Error("too short to hold an HMAC-SHA1 and a query");
  const mac = bytes.subarray(0, 20);
  const original = bytes.subarray(20);
  const expected = createHmac("sha1", Buffer.from(secretKey, "utf8")).update(original).digest();
  if (!timingSafeEqual(mac, expected)) throw new Error("HMAC-SHA1 does not match: not signed with this SecretKey");

  const query = original.toString("utf8");
  const pairs = [...new URLSearchParams(query)];
  const names = pairs.map(([name]) => name);
  if (REQUIRED.some((name, index) => names[index] !== name)) {
    throw new Error(`the query does not start with ${REQUIRED.join(", ")}: ${names.join(", ")}`);
  }
  if (new Set(names).size !== names.length) throw new Error(`a parameter appears twice: ${names.join(", ")}`);
  const params = Object.fromEntries(pairs);
  if (params.secretId !== secretId) throw new Error(`secretId is ${params.secretId}, expected ${secretId}`);
  for (const name of ["currentTimeStamp", "expireTime", "random"]) {
    if (!/^(0|[1-9]\d*)$/.test(params[name])) throw new Error(`${name} is not a plain integer: ${params[name]}`);
  }
  const issued = Number(params.currentTimeStamp);
  const expires = Number(params.expireTime);
  if (issued > now + 5) throw new Error(`issued in the future: ${issued} > ${now}`);
  if (expires <= now) throw new Error(`expired: ${expires} <= ${now}`);
  if (Number(params.random) > 0xffffffff) throw new Error(`random out of range: ${params.random}`);
  return params;
}

/**
 * Checks an upload ticket's context token (`vs1.<uploadId>.<tag>`) the way the event relay
 * does, independently of vodsign's code: `tag` must be the first 16 bytes of
 * HMAC-SHA256("vs1.<uploadId>") under the context key, in URL-safe Base64 without padding.
 * Returns the uploadId; throws an Error saying why not.
 */
export function verifyContextToken(token, { contextKey }) {
  const match = /^vs1\.(upl_[A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})$/.exec(String(token));
  if (!match) throw new Error(`not a vs1 context token: ${JSON.stringify(token).slice(0, 80)}`);
  const [, uploadId, tag] = match;
  const expected = createHmac("sha256", Buffer.from(contextKey, "utf8")).update(`vs1.${uploadId}`).digest().subarray(0, 16);
  if (!timingSafeEqual(Buffer.from(tag, "base64url"), expected)) throw new Error(`the tag of ${token} does not verify under the context key`);
  return uploadId;
}
