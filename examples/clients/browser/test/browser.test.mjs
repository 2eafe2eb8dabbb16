// The browser example, driven by Tencent's real vod-js-sdk-v6 in headless Chromium against a
// running vodsign. Only Tencent's cloud is faked: the SDK's calls to VOD (vod2.qcloud.com)
// and to storage (*.myqcloud.com) are intercepted and answered like VOD answers; the page's
// calls to vodsign are real, cross-origin, with CORS.
//
//   VODSIGN_URL=http://127.0.0.1:8080 TEST_VOD_SECRET_ID=... TEST_VOD_SECRET_KEY=... \
//   CHROMIUM=/usr/bin/chromium node test/browser.test.mjs
//
// scripts/clients.sh starts vodsign with generated VOD credentials and runs this.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

import { startServer } from "../serve.mjs";
import { STORAGE_HOST, applyAnswer, commitAnswer, prepareAnswer, storageAnswer, vodAction } from "../../fake-vod.mjs";
import { verifyContextToken, verifySignature } from "../../verify-signature.mjs";

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
const UPLOADS = `${VODSIGN_URL}/v1/uploads`;
const DEMO_KEY = "vsk_demo_public-development-key-not-a-secret";
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const STEP_TIMEOUT = 20_000;
const FILE_BYTES = 64 * 1024;

let site;
let browser;

before(async () => {
  site = await startServer();
  browser = await chromium.launch({ executablePath: env("CHROMIUM"), args: FLAGS, timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  site?.server.close();
});

const CORS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "*",
  "Access-Control-Allow-Methods": "GET, POST, PUT, HEAD, OPTIONS",
  "Access-Control-Expose-Headers": "ETag, x-cos-request-id",
};

/**
 * A page with Tencent's cloud faked. Returns { page, vod, issued, unexpected }: the JSON
 * bodies the SDK sent to VOD by action, the signatures vodsign issued to the page, and any
 * request to a host that is neither the page, vodsign nor a faked Tencent host.
 */
async function openPage({ ticket = false } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  const vod = { PrepareUploadUGC: [], ApplyUploadUGC: [], CommitUploadUGC: [] };
  const storage = [];
  const issued = [];
  const unexpected = [];
  const consoleErrors = [];
  page.on("console", (message) => message.type() === "error" && consoleErrors.push(message.text()));
  page.on("requestfailed", (request) => consoleErrors.push(`failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`));

  const local = (url) => url.startsWith(site.origin) || url.startsWith(VODSIGN_URL);
  // Routes match last-registered first: this catch-all sees only what no fake below takes.
  await context.route((url) => !local(url.href), (route) => {
    unexpected.push(`${route.request().method()} ${route.request().url()}`);
    return route.abort("blockedbyclient");
  });
  await context.route(/^https:\/\/vodreport\.qcloud\.com\//, (route) => route.fulfill({ status: 200, headers: CORS, body: "" }));
  await context.route(STORAGE_HOST, (route) => {
    const request = route.request();
    if (request.method() === "OPTIONS") return route.fulfill({ status: 200, headers: CORS });
    storage.push({ method: request.method(), url: request.url(), bytes: request.postDataBuffer()?.length ?? 0 });
    const { status, headers, body } = storageAnswer(request.method(), request.url());
    return route.fulfill({ status, headers: { ...CORS, ...headers }, body });
  });
  await context.route(/^https:\/\/vod2\.(qcloud|dnsv1)\.com\//, (route) => {
    const request = route.request();
    if (request.method() === "OPTIONS") return route.fulfill({ status: 200, headers: CORS });
    const action = vodAction(request.url());
    const body = request.postDataJSON();
    (vod[action] ??= []).push(body);
    const answers = { PrepareUploadUGC: prepareAnswer, ApplyUploadUGC: applyAnswer, CommitUploadUGC: commitAnswer };
    const answer = answers[action];
    if (!answer) return route.fulfill({ status: 200, headers: CORS, contentType: "application/json", body: JSON.stringify({ code: 10000, message: `unknown action ${action}` }) });
    return route.fulfill({ status: 200, headers: CORS, contentType: "application/json", body: JSON.stringify(answer(body)) });
  });

  // Signatures vodsign answered the page with: from /v1/signature, or from the ticket
  // endpoints (POST /v1/uploads 201, POST /v1/uploads/{id}/signature 200), with the upload.
  const tickets = [];
  const reads = [];
  page.on("response", async (response) => {
    const url = response.url();
    const method = response.request().method();
    if (method === "GET" && url.startsWith(`${UPLOADS}/`) && response.status() === 200) {
      reads.push(url);
      return;
    }
    const signing = url === ENDPOINT || url === UPLOADS || (url.startsWith(`${UPLOADS}/`) && url.endsWith("/signature"));
    if (method !== "POST" || !signing || ![200, 201].includes(response.status())) return;
    const body = await response.json().catch(() => null);
    if (!body?.data?.signature) return;
    issued.push(body.data.signature);
    if (body.data.uploadId) tickets.push({ ...body.data, url, httpStatus: response.status() });
  });

  await page.goto(`${site.origin}/?endpoint=${encodeURIComponent(ENDPOINT)}${ticket ? "&ticket=1" : ""}`);
  await page.waitForFunction(() => typeof window.TcVod?.default === "function");
  return { context, page, vod, storage, issued, tickets, reads, unexpected, consoleErrors };
}

async function upload(page, credential, name = "clip.mp4") {
  await page.fill("#credential", credential);
  // A small generated "video": the bytes do not matter to the SDK or to the fake storage.
  await page.setInputFiles("#file", { name, mimeType: "video/mp4", buffer: Buffer.alloc(FILE_BYTES, 7) });
  await page.click("#upload");
  await page.waitForFunction(() => ["done", "error", "reauth"].includes(document.getElementById("status").dataset.state));
  return {
    state: await page.getAttribute("#status", "data-state"),
    text: await page.textContent("#status"),
    log: await page.$$eval("#log li", (items) => items.map((item) => item.textContent)),
  };
}

function checkSignatures(vod, issued) {
  const sent = Object.values(vod).flat().map((body) => body.signature);
  assert.ok(vod.ApplyUploadUGC.length >= 1, "the SDK applied for the upload");
  assert.ok(vod.CommitUploadUGC.length >= 1, "the SDK committed the upload");
  for (const signature of sent) {
    assert.ok(issued.includes(signature), "every signature the SDK sent to VOD was issued by vodsign");
    const params = verifySignature(signature, { secretKey: SECRET_KEY, secretId: SECRET_ID });
    assert.equal(params.oneTimeValid, "1", "the development policy makes one-time signatures");
    assert.deepEqual(JSON.parse(params.sourceContext), { uid: "demo-user", app: "demo" });
  }
  assert.equal(new Set(sent).size, sent.length, "each getSignature call fetched a fresh signature");
}

test("the SDK uploads with signatures from vodsign", { timeout: 60_000 }, async () => {
  const { context, page, vod, storage, issued, unexpected, consoleErrors } = await openPage();
  try {
    const result = await upload(page, DEMO_KEY);
    assert.equal(result.state, "done", `${result.text}\n${result.log.join("\n")}\n${JSON.stringify({ storage, unexpected, consoleErrors }, null, 1)}`);
    assert.match(result.text, /fileId \d+/);
    checkSignatures(vod, issued);
    assert.ok(issued.length >= 3, `prepare, apply and commit each asked for a signature: ${issued.length}`);
    const stored = storage.filter((r) => r.method === "PUT").reduce((sum, r) => sum + r.bytes, 0);
    assert.equal(stored, FILE_BYTES, `the SDK stored the whole file: ${JSON.stringify(storage)}`);
    assert.deepEqual(unexpected, [], "no request left the machine");
    console.log(`# upload done: ${issued.length} signatures issued, VOD calls: ${Object.entries(vod).map(([a, b]) => `${a}×${b.length}`).join(", ")}; storage: ${storage.map((r) => r.method).join(",")}`);
  } finally {
    await context.close();
  }
});

test("a refused credential asks the user to sign in again and uploads nothing", { timeout: 60_000 }, async () => {
  const { context, page, vod, unexpected } = await openPage();
  try {
    const result = await upload(page, "vsk_demo_this-key-does-not-exist");
    assert.equal(result.state, "reauth", result.text);
    assert.match(result.text, /sign in again/);
    assert.equal(vod.ApplyUploadUGC.length, 0, "no upload was applied for");
    assert.deepEqual(unexpected, []);
  } finally {
    await context.close();
  }
});

test("a rate-limited page waits Retry-After and then uploads", { timeout: 60_000 }, async () => {
  // Spend the demo key's burst from here, so the page's first request gets 429.
  let limited = null;
  for (let i = 0; i < 40 && !limited; i += 1) {
    const response = await fetch(ENDPOINT, { method: "POST", headers: { Authorization: `Bearer ${DEMO_KEY}` } });
    if (response.status === 429) limited = response.headers.get("retry-after");
    else assert.equal(response.status, 200, `unexpected ${response.status}`);
  }
  assert.ok(limited, "the development policy's burst ran out within 40 requests");

  const { context, page, vod, issued, unexpected } = await openPage();
  try {
    const result = await upload(page, DEMO_KEY);
    assert.equal(result.state, "done", `${result.text}\n${result.log.join("\n")}`);
    const waits = result.log.filter((line) => line.includes("waiting"));
    assert.ok(waits.length >= 1, `the page waited at least once: ${result.log.join(" | ")}`);
    // The page could read the header: vodsign exposes Retry-After to cross-origin pages.
    assert.ok(waits.every((line) => /HTTP 429 \(4290\d\): waiting \d+ s \(Retry-After: \d+\)/.test(line)), waits.join(" | "));
    checkSignatures(vod, issued);
    assert.deepEqual(unexpected, []);
    console.log(`# rate limited: ${waits.length} waits, then done`);
  } finally {
    await context.close();
  }
});

/** A ticket's upload as vodsign has it, read by the test itself (not through the page). */
async function uploadRecord(uploadId) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(`${UPLOADS}/${uploadId}`, { headers: { Authorization: `Bearer ${DEMO_KEY}` } });
    if (response.status === 429 && attempt < 5) {
      await new Promise((resolve) => setTimeout(resolve, 1000 * Number(response.headers.get("retry-after") ?? 1)));
      continue;
    }
    assert.equal(response.status, 200, `GET /v1/uploads/${uploadId}`);
    return (await response.json()).data;
  }
}

/**
 * Every signature the SDK sent to VOD was issued by vodsign for one upload ticket: it
 * verifies with the VOD key, and its sourceContext and sessionContext are the same vs1
 * token, whose tag verifies under the context key and which names that upload. Returns the
 * uploadId.
 */
function checkTicketSignatures(vod, issued, tickets) {
  assert.ok(vod.ApplyUploadUGC.length >= 1, "the SDK applied for the upload");
  assert.ok(vod.CommitUploadUGC.length >= 1, "the SDK committed the upload");
  const ids = new Set();
  for (const [action, bodies] of Object.entries(vod)) {
    for (const { signature } of bodies) {
      assert.ok(issued.includes(signature), `${action}: the signature was issued by vodsign`);
      const params = verifySignature(signature, { secretKey: SECRET_KEY, secretId: SECRET_ID });
      assert.equal(params.sourceContext, params.sessionContext, `${action}: sourceContext and sessionContext are the same token`);
      const uploadId = verifyContextToken(params.sourceContext, { contextKey: CONTEXT_KEY });
      const ticket = tickets.find((t) => t.signature === signature);
      assert.ok(ticket, `${action}: the signature came from a ticket endpoint`);
      assert.equal(ticket.uploadId, uploadId, `${action}: the token names the upload the signature was issued for`);
      ids.add(uploadId);
    }
  }
  assert.equal(ids.size, 1, `one upload for the whole file: ${[...ids].join(", ")}`);
  return [...ids][0];
}

test("with a ticket, the SDK uploads with signatures vodsign issued for that upload", { timeout: 60_000 }, async () => {
  const { context, page, vod, storage, issued, tickets, reads, unexpected, consoleErrors } = await openPage({ ticket: true });
  try {
    await page.fill("#title", "holiday clip");
    const result = await upload(page, DEMO_KEY);
    assert.equal(result.state, "done", `${result.text}\n${result.log.join("\n")}\n${JSON.stringify({ storage, unexpected, consoleErrors }, null, 1)}`);
    const uploadId = checkTicketSignatures(vod, issued, tickets);
    assert.match(result.text, new RegExp(`fileId \\d+, upload ${uploadId}$`));
    // The SDK's getSignature calls: the first made the upload (201), the others re-signed it.
    assert.equal(tickets[0].url, UPLOADS);
    assert.equal(tickets[0].httpStatus, 201);
    assert.ok(tickets.slice(1).every((t) => t.url === `${UPLOADS}/${uploadId}/signature` && t.httpStatus === 200), JSON.stringify(tickets));
    assert.ok(tickets.length >= 3, `prepare, apply and commit each asked for a signature: ${tickets.length}`);
    assert.equal(new Set(issued).size, issued.length, "each getSignature call fetched a fresh signature");

    // The page read the record after the upload, and so does the test: every signature the
    // SDK asked for is counted on that upload, once.
    assert.deepEqual(reads, [`${UPLOADS}/${uploadId}`]);
    const shown = JSON.parse(await page.textContent("#record"));
    const record = await uploadRecord(uploadId);
    for (const seen of [shown, record]) {
      assert.equal(seen.uploadId, uploadId);
      assert.equal(seen.status, "authorized");
      assert.equal(seen.signaturesIssued, tickets.length, "signaturesIssued matches the SDK's getSignature calls");
      assert.deepEqual(seen.metadata, { title: "holiday clip" });
    }
    assert.deepEqual(unexpected, [], "no request left the machine");
    console.log(`# ticket upload done: ${uploadId}, ${record.signaturesIssued} signatures, VOD calls: ${Object.entries(vod).map(([a, b]) => `${a}×${b.length}`).join(", ")}`);
  } finally {
    await context.close();
  }
});

/** The README's ticket example: the js block after its marker line. */
function readmeTicketSnippet() {
  const readme = readFileSync(new URL("../../../../README.md", import.meta.url), "utf8");
  const marker = "// vod-js-sdk-v6 with an upload ticket (examples/clients/browser)";
  const start = readme.indexOf(marker);
  assert.ok(start >= 0, `README.md has no block starting with ${marker}`);
  return readme.slice(start, readme.indexOf("```", start));
}

test("the README's ticket example, run as written in the page, uploads through a ticket", { timeout: 60_000 }, async () => {
  const snippet = readmeTicketSnippet();
  assert.match(snippet, /"https:\/\/api\.example\.com"/, "the README example names the placeholder base URL");
  const { context, page, vod, issued, tickets, reads, unexpected } = await openPage();
  try {
    // The example's free names: the picked file and the user's token. Only the base URL is
    // replaced (by this run's vodsign); the rest runs as the README shows it.
    const bindings = `const file = new File([new Uint8Array(${FILE_BYTES}).fill(3)], "readme.mp4", { type: "video/mp4" });\nconst accessToken = ${JSON.stringify(DEMO_KEY)};\n`;
    const code = bindings + snippet.replace('"https://api.example.com"', JSON.stringify(VODSIGN_URL)) + "\nwindow.readmeExampleDone = true;\n";
    await page.addScriptTag({ type: "module", content: code });
    await page.waitForFunction(() => window.readmeExampleDone === true);
    const uploadId = checkTicketSignatures(vod, issued, tickets);
    assert.deepEqual(reads, [`${UPLOADS}/${uploadId}`], "the example read its upload after the SDK finished");
    const record = await uploadRecord(uploadId);
    assert.equal(record.signaturesIssued, tickets.length);
    assert.deepEqual(record.metadata, { title: "readme.mp4" });
    assert.deepEqual(unexpected, []);
  } finally {
    await context.close();
  }
});
