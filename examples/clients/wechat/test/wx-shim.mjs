// A small `wx` for running vod-wx-sdk-v2 under Node: wx.request reaches vodsign for real
// (with fetch); Tencent's hosts are faked (VOD's upload API and the storage it forwards to),
// and every host the SDK contacts is recorded, to check the domain allow-list.
import { readFile, stat } from "node:fs";

import { STORAGE_HOST, applyAnswer, commitAnswer, prepareAnswer, storageAnswer, vodAction } from "../../fake-vod.mjs";

/**
 * Returns { wx, log }: log.hosts (every host contacted, by wx API), log.vod (request bodies
 * by VOD action), log.storage (storage calls), log.issued (signatures vodsign returned).
 */
const SYSTEM_INFO = { brand: "node", model: "shim", version: "8.0.50", system: "Linux", platform: "devtools", SDKVersion: "3.4.0" };

export function createWx({ localOrigin }) {
  const log = { hosts: { request: new Set(), uploadFile: new Set() }, vod: {}, storage: [], issued: [] };
  const storage = new Map();

  const fake = (method, url, header, body) => {
    const { pathname } = new URL(url);
    if (pathname === "/v3/index.php") {
      const action = vodAction(url);
      const data = typeof body === "string" ? JSON.parse(body) : body;
      (log.vod[action] ??= []).push(data);
      const answers = { PrepareUploadUGC: prepareAnswer, ApplyUploadUGC: applyAnswer, CommitUploadUGC: commitAnswer };
      const answer = answers[action];
      return { statusCode: 200, header: {}, data: answer ? answer(data) : { code: 10000, message: `unknown action ${action}` } };
    }
    if (new URL(url).hostname === "vodreport.qcloud.com") return { statusCode: 200, header: {}, data: "" };
    // The SDK sends storage calls to VOD's host, naming the storage host in Vod-Forward-Cos.
    const forward = header["Vod-Forward-Cos"] ?? header["vod-forward-cos"];
    const storageUrl = forward ? url.replace(new URL(url).host, forward) : url;
    if (!STORAGE_HOST.test(storageUrl)) return { statusCode: 502, header: {}, data: `no fake for ${url}` };
    const bytes = body instanceof ArrayBuffer || ArrayBuffer.isView(body) ? body.byteLength : typeof body === "string" ? body.length : 0;
    log.storage.push({ method, url: storageUrl, bytes });
    const answer = storageAnswer(method, storageUrl);
    return { statusCode: answer.status, header: answer.headers, data: answer.body };
  };

  const wx = {
    request({ url, method = "GET", header = {}, data, dataType = "json", timeout = 60000, success, fail, complete }) {
      const host = new URL(url).host;
      log.hosts.request.add(host);
      const finish = (result, ok) => {
        (ok ? success : fail)?.(result);
        complete?.(result);
      };
      const json = header["Content-Type"]?.includes("json") || header["content-type"]?.includes("json");
      const body = method === "GET" || data === undefined ? undefined : typeof data === "string" || data instanceof ArrayBuffer ? data : json || typeof data === "object" ? JSON.stringify(data) : String(data);
      if (url.startsWith(localOrigin)) {
        fetch(url, { method, headers: header, body, signal: AbortSignal.timeout(timeout) })
          .then(async (response) => {
            const text = await response.text();
            let parsed = text;
            if (dataType === "json") try { parsed = JSON.parse(text); } catch {}
            if (parsed?.data?.signature) log.issued.push(parsed.data.signature);
            finish({ statusCode: response.status, header: Object.fromEntries(response.headers), data: parsed }, true);
          })
          .catch((error) => finish({ errMsg: `request:fail ${error.message}` }, false));
      } else {
        setImmediate(() => {
          const answer = fake(method.toUpperCase(), url, header, data);
          let parsed = answer.data;
          if (dataType !== "json" && typeof parsed !== "string") parsed = JSON.stringify(parsed);
          finish({ statusCode: answer.statusCode, header: answer.header, data: parsed }, true);
        });
      }
      return { abort() {}, onHeadersReceived() {} };
    },
    uploadFile({ url, filePath, header = {}, success, fail }) {
      log.hosts.uploadFile.add(new URL(url).host);
      const task = { onProgressUpdate() {}, abort() {} };
      readFile(filePath, (error, bytes) => {
        if (error) return fail?.({ errMsg: `uploadFile:fail ${error.message}` });
        const answer = fake("PUT", url, header, bytes);
        success?.({ statusCode: answer.statusCode, header: answer.header, data: answer.data });
      });
      return task;
    },
    getFileSystemManager() {
      return {
        readFile({ filePath, position = 0, length, success, fail }) {
          readFile(filePath, (error, bytes) => {
            if (error) return fail?.({ errMsg: error.message });
            const slice = bytes.subarray(position, length === undefined ? undefined : position + length);
            success?.({ data: slice.buffer.slice(slice.byteOffset, slice.byteOffset + slice.byteLength) });
          });
        },
        stat({ path, success, fail }) {
          stat(path, (error, info) => (error ? fail?.({ errMsg: error.message }) : success?.({ stats: { size: info.size, isFile: () => info.isFile(), isDirectory: () => info.isDirectory() } })));
        },
      };
    },
    getSystemInfoSync: () => SYSTEM_INFO,
    getSystemInfo: ({ success }) => setImmediate(() => success?.(SYSTEM_INFO)),
    getNetworkType: ({ success }) => setImmediate(() => success?.({ networkType: "wifi" })),
    canIUse: (name) => typeof wx[name] === "function",
    getStorageSync: (key) => storage.get(key) ?? "",
    setStorageSync: (key, value) => void storage.set(key, value),
    removeStorageSync: (key) => void storage.delete(key),
  };
  return { wx, log };
}
