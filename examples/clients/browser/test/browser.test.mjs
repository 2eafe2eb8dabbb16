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
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

import { startServer } from "../serve.mjs";
import { STORAGE_HOST, applyAnswer, commitAnswer, prepareAnswer, storageAnswer, vodAction } from "../../fake-vod.mjs";
import { verifySignature } from "../../verify-signature.mjs";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (scripts/clients.sh sets it)`);
  return value;
};
const VODSIGN_URL = env("VODSIGN_URL");
const ENDPOINT = `${VODSIGN_URL}/v1/signature`;
const SECRET_ID = env("TEST_VOD_SECRET_ID");
const SECRET_KEY = env("TEST_VOD_SECRET_KEY");
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
async function openPage() {
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

  page.on("response", async (response) => {
    if (response.url() === ENDPOINT && response.request().method() === "POST" && response.status() === 200) {
      const body = await response.json().catch(() => null);
      if (body?.data?.signature) issued.push(body.data.signature);
    }
  });

  await page.goto(`${site.origin}/?endpoint=${encodeURIComponent(ENDPOINT)}`);
  await page.waitForFunction(() => typeof window.TcVod?.default === "function");
  return { context, page, vod, storage, issued, unexpected, consoleErrors };
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
