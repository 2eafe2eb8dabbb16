// The mini-program example under Node: Tencent's real vod-wx-sdk-v2 (its published bundle)
// with a small `wx` shim, getSignature(callback) served by a running vodsign. Only Tencent's
// cloud is faked (in the shim). scripts/clients.sh starts vodsign and runs this.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { verifyContextToken, verifySignature } from "../../verify-signature.mjs";
import { createWx } from "./wx-shim.mjs";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (scripts/clients.sh sets it)`);
  return value;
};
const VODSIGN_URL = env("VODSIGN_URL");
const ENDPOINT = `${VODSIGN_URL}/v1/signature`;
const SECRET_ID = env("TEST_VOD_SECRET_ID");
const SECRET_KEY = env("TEST_VOD_SECRET_KEY");
const CONTEXT_KEY = env("TEST_CONTEXT_KEY");
const DEMO_KEY = "vsk_demo_public-development-key-not-a-secret";
/** What docs/clients.md tells developers to allow, besides their vodsign host. */
const TENCENT_DOMAINS = ["vod2.qcloud.com", "vodreport.qcloud.com"];

// The SDK's bundled storage client asks for wx at load time: the shim comes first.
const { wx, log } = createWx({ localOrigin: VODSIGN_URL });
globalThis.wx = wx;
// The bundle's UMD wrapper names `window`, which the mini-program runtime provides.
globalThis.window ??= globalThis;
// The SDK logs each request and report with console.log: kept out of the test's output.
const sdkOutput = [];
console.log = (...args) => sdkOutput.push(args);
const require = createRequire(import.meta.url);
const VodUploader = require("vod-wx-sdk-v2");
const { createGetSignature, createUploadTicket } = require("../getSignature.js");

const dir = mkdtempSync(join(tmpdir(), "vodsign-wx-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const FILE_BYTES = 48 * 1024;
// Mini-program temporary files have 32-character names; the SDK keys resumption on it.
const tempFilePath = join(dir, "0123456789abcdef0123456789abcdef.mp4");
writeFileSync(tempFilePath, Buffer.alloc(FILE_BYTES, 5));

function within(ms, what, executor) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
    executor(
      (value) => { clearTimeout(timer); resolve(value); },
      (error) => { clearTimeout(timer); reject(error); },
    );
  });
}

test("getSignature(callback) hands the SDK a signature vodsign issued, a fresh one per call", { timeout: 20_000 }, async () => {
  const getSignature = (resolve, reject) => createGetSignature({ endpoint: ENDPOINT, credential: () => DEMO_KEY, onError: reject });
  const ask = () => within(10_000, "getSignature", (resolve, reject) => getSignature(resolve, reject)(resolve));
  const first = await ask();
  const second = await ask();
  for (const signature of [first, second]) {
    const params = verifySignature(signature, { secretKey: SECRET_KEY, secretId: SECRET_ID });
    assert.equal(params.oneTimeValid, "1");
  }
  assert.notEqual(first, second, "each call fetched a fresh signature");
});

test("a refused credential reaches onError, never the SDK's callback", { timeout: 20_000 }, async () => {
  let called = false;
  const error = await within(10_000, "onError", (resolve) => {
    createGetSignature({ endpoint: ENDPOINT, credential: () => "vsk_demo_no-such-key", onError: resolve })(() => { called = true; });
  });
  assert.equal(error.status, 401);
  assert.equal(error.reauthenticate, true);
  assert.match(error.message, /sign in again/);
  assert.equal(called, false);
});

test("vod-wx-sdk-v2 uploads with a signature from vodsign", { timeout: 30_000 }, async () => {
  const events = [];
  const result = await within(25_000, "upload", (resolve, reject) => {
    const getSignature = createGetSignature({
      endpoint: ENDPOINT,
      credential: () => DEMO_KEY,
      onError: reject,
      onEvent: (event) => events.push(event),
    });
    VodUploader.start({
      mediaFile: { tempFilePath, size: FILE_BYTES },
      mediaName: "clip",
      getSignature,
      progress: () => {},
      finish: resolve,
      error: (error) => reject(new Error(`SDK error: ${JSON.stringify(error)}`)),
    });
  });
  assert.match(String(result.fileId), /^\d+$/, JSON.stringify(result));

  const sent = Object.values(log.vod).flat().map((body) => body.signature);
  assert.ok(log.vod.ApplyUploadUGC?.length >= 1 && log.vod.CommitUploadUGC?.length >= 1, JSON.stringify(Object.keys(log.vod)));
  for (const signature of sent) {
    assert.ok(log.issued.includes(signature), "the SDK sent only signatures vodsign issued");
    const params = verifySignature(signature, { secretKey: SECRET_KEY, secretId: SECRET_ID });
    assert.deepEqual(JSON.parse(params.sourceContext), { uid: "demo-user", app: "demo" });
  }
  const stored = log.storage.filter((r) => r.method === "PUT").reduce((sum, r) => sum + r.bytes, 0);
  assert.equal(stored, FILE_BYTES, `the SDK stored the whole file: ${JSON.stringify(log.storage)}`);

  const vodsignHost = new URL(VODSIGN_URL).host;
  const contacted = [...log.hosts.request, ...log.hosts.uploadFile];
  for (const host of contacted) {
    assert.ok(host === vodsignHost || TENCENT_DOMAINS.includes(host), `${host} is not in the documented domain list`);
  }
  process.stdout.write(`# wx upload done: ${events.filter((e) => e.type === "signature").length} signature(s) asked for, ` +
    `VOD calls: ${Object.entries(log.vod).map(([a, b]) => `${a}×${b.length}`).join(", ")}, ` +
    `wx.request hosts: ${[...log.hosts.request].join(", ")}; wx.uploadFile hosts: ${[...log.hosts.uploadFile].join(", ") || "none"}\n`);
});

test("with a ticket, vod-wx-sdk-v2 uploads with signatures vodsign issued for that upload", { timeout: 30_000 }, async () => {
  const before = Object.fromEntries(Object.entries(log.vod).map(([action, bodies]) => [action, bodies.length]));
  const issuedBefore = log.issued.length;
  const events = [];
  let ticket;
  const result = await within(25_000, "upload", (resolve, reject) => {
    ticket = createUploadTicket({
      apiBase: VODSIGN_URL,
      credential: () => DEMO_KEY,
      metadata: { title: "mini-program clip" },
      onError: reject,
      onEvent: (event) => events.push(event),
    });
    VodUploader.start({
      mediaFile: { tempFilePath, size: FILE_BYTES },
      mediaName: "clip",
      getSignature: ticket.getSignature,
      progress: () => {},
      finish: resolve,
      error: (error) => reject(new Error(`SDK error: ${JSON.stringify(error)}`)),
    });
  });
  assert.match(String(result.fileId), /^\d+$/, JSON.stringify(result));
  const [uploadId] = ticket.uploadIds();
  assert.deepEqual(ticket.uploadIds(), [uploadId], "one upload for the file");

  // This upload's VOD calls: each carries a signature issued in this test, for this upload.
  const calls = Object.entries(log.vod).flatMap(([action, bodies]) => bodies.slice(before[action] ?? 0).map((body) => [action, body]));
  const actions = calls.map(([action]) => action);
  assert.ok(actions.includes("ApplyUploadUGC") && actions.includes("CommitUploadUGC"), actions.join(", "));
  const issuedHere = log.issued.slice(issuedBefore);
  for (const [action, { signature }] of calls) {
    assert.ok(issuedHere.includes(signature), `${action}: a signature vodsign issued to this ticket`);
    const params = verifySignature(signature, { secretKey: SECRET_KEY, secretId: SECRET_ID });
    assert.equal(params.sourceContext, params.sessionContext, `${action}: the same token as both contexts`);
    assert.equal(verifyContextToken(params.sourceContext, { contextKey: CONTEXT_KEY }), uploadId, `${action}: the token names the upload`);
  }

  const record = await within(10_000, "readUpload", (resolve, reject) => ticket.readUpload(resolve, reject));
  const asked = events.filter((e) => e.type === "signature").length;
  assert.equal(record.uploadId, uploadId);
  assert.equal(record.status, "authorized");
  assert.equal(record.signaturesIssued, asked, "signaturesIssued matches the SDK's getSignature calls");
  assert.equal(issuedHere.length, asked);
  assert.deepEqual(record.metadata, { title: "mini-program clip" });

  // A later getSignature(callback) (the SDK asks again after a failed step) re-signs it.
  const again = await within(10_000, "re-sign", (resolve) => ticket.getSignature(resolve));
  const params = verifySignature(again, { secretKey: SECRET_KEY, secretId: SECRET_ID });
  assert.equal(verifyContextToken(params.sourceContext, { contextKey: CONTEXT_KEY }), uploadId);
  const reread = await within(10_000, "readUpload", (resolve, reject) => ticket.readUpload(resolve, reject));
  assert.equal(reread.signaturesIssued, asked + 1);
  process.stdout.write(`# wx ticket upload done: ${uploadId}, ${asked} getSignature call(s), then one re-sign\n`);
});
