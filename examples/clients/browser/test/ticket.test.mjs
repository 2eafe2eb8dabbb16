// The upload-ticket client of vodsign.js (createUploadTicket) under Node, against a running
// vodsign whose tickets run out fast (2 signatures each, 2 s of life): a re-sign refused
// with 409 or 410 makes a new upload, a refused credential asks to sign in again without
// making one, and a rate-limited call waits Retry-After. The browser test covers the SDK;
// this covers the refusals a short upload never meets. The rate-limit case runs against the
// development config's instance (VODSIGN_URL), whose tickets outlive the wait.
//
//   VODSIGN_URL=http://127.0.0.1:8080 VODSIGN_TICKET_LIMITS_URL=http://127.0.0.1:8090 \
//   TEST_VOD_SECRET_ID=... TEST_VOD_SECRET_KEY=... TEST_CONTEXT_KEY=... node test/ticket.test.mjs
//
// scripts/clients.sh starts that vodsign and runs this.
import assert from "node:assert/strict";
import { test } from "node:test";

import { verifyContextToken, verifySignature } from "../../verify-signature.mjs";
import { createUploadTicket } from "../vodsign.js";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (scripts/clients.sh sets it)`);
  return value;
};
const BASE = env("VODSIGN_TICKET_LIMITS_URL");
const MAIN = env("VODSIGN_URL");
const SECRET_ID = env("TEST_VOD_SECRET_ID");
const SECRET_KEY = env("TEST_VOD_SECRET_KEY");
const CONTEXT_KEY = env("TEST_CONTEXT_KEY");
const DEMO_KEY = "vsk_demo_public-development-key-not-a-secret";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The upload a signature was issued for, from its verified context token. */
function uploadOf(signature) {
  const params = verifySignature(signature, { secretKey: SECRET_KEY, secretId: SECRET_ID });
  assert.equal(params.sourceContext, params.sessionContext);
  return verifyContextToken(params.sourceContext, { contextKey: CONTEXT_KEY });
}

/** The upload as vodsign has it, read by the test itself (waiting out a 429). */
async function record(uploadId, base = BASE) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(`${base}/v1/uploads/${uploadId}`, { headers: { Authorization: `Bearer ${DEMO_KEY}` } });
    if (response.status === 429 && attempt < 5) {
      await sleep(1000 * Number(response.headers.get("retry-after") ?? 1));
      continue;
    }
    assert.equal(response.status, 200);
    return (await response.json()).data;
  }
}

function newTicket(extra = {}) {
  const events = [];
  const ticket = createUploadTicket({ apiBase: BASE, credential: () => DEMO_KEY, onEvent: (e) => events.push(e), ...extra });
  return { ticket, events };
}

test("re-signs the same upload, and makes a new one when it has had all its signatures (409)", async () => {
  const { ticket, events } = newTicket({ metadata: { title: "long upload" } });
  const first = await ticket.getSignature();
  const second = await ticket.getSignature();
  const [upload] = ticket.uploadIds;
  assert.equal(uploadOf(first), upload);
  assert.equal(uploadOf(second), upload, "the second call re-signed the same upload");
  assert.notEqual(first, second);
  assert.equal((await record(upload)).signaturesIssued, 2);

  const third = await ticket.getSignature();
  const [, replacement] = ticket.uploadIds;
  assert.ok(replacement && replacement !== upload, `a new upload: ${ticket.uploadIds}`);
  assert.equal(uploadOf(third), replacement);
  assert.equal(ticket.uploadId, replacement);
  const refused = events.find((e) => e.type === "new-upload" && e.replaces === upload);
  assert.equal(refused?.reason, "HTTP 409 (40901)", JSON.stringify(events));
  const now = await ticket.read();
  assert.equal(now.uploadId, replacement);
  assert.equal(now.signaturesIssued, 1);
  assert.deepEqual(now.metadata, { title: "long upload" }, "the new upload has the same metadata");
  assert.equal((await record(upload)).signaturesIssued, 2, "the refused re-sign counted nothing");
});

test("makes a new upload when the upload has expired (410)", async () => {
  const { ticket, events } = newTicket();
  await ticket.getSignature();
  const [upload] = ticket.uploadIds;
  await sleep(3000); // the instance's tickets live 2 s
  const signature = await ticket.getSignature();
  assert.equal(ticket.uploadIds.length, 2);
  assert.equal(uploadOf(signature), ticket.uploadId);
  assert.notEqual(ticket.uploadId, upload);
  assert.equal(events.find((e) => e.type === "new-upload" && e.replaces === upload)?.reason, "HTTP 410 (41001)");
});

test("a refused credential asks to sign in again and makes no upload", async () => {
  const ticket = createUploadTicket({ apiBase: BASE, credential: () => "vsk_demo_no-such-key" });
  await assert.rejects(ticket.getSignature(), (error) => {
    assert.equal(error.status, 401);
    assert.equal(error.reauthenticate, true);
    assert.match(error.message, /sign in again/);
    return true;
  });
  assert.deepEqual(ticket.uploadIds, []);
  await assert.rejects(ticket.read(), /no upload yet/);
});

test("a rate-limited re-sign waits Retry-After, then re-signs the same upload", async () => {
  const { ticket, events } = newTicket({ apiBase: MAIN });
  await ticket.getSignature();
  const [upload] = ticket.uploadIds;
  // Spend the caller's burst from here (reads spend rate too), so the re-sign gets 429.
  let limited = false;
  for (let i = 0; i < 60 && !limited; i += 1) {
    const response = await fetch(`${MAIN}/v1/uploads/${upload}`, { headers: { Authorization: `Bearer ${DEMO_KEY}` } });
    limited = response.status === 429;
  }
  assert.ok(limited, "the burst ran out within 60 requests");
  const signature = await ticket.getSignature();
  assert.equal(uploadOf(signature), upload);
  const waits = events.filter((e) => e.type === "wait");
  assert.ok(waits.length >= 1, JSON.stringify(events));
  assert.ok(waits.every((w) => /^HTTP 429 \(42901\)$/.test(w.reason) && /^\d+$/.test(w.retryAfter)), JSON.stringify(waits));
  assert.equal((await record(upload, MAIN)).signaturesIssued, 2, "the refused tries counted nothing");
});
