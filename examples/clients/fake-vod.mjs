// Answers shaped like VOD's upload API (ApplyUploadUGC / CommitUploadUGC on vod2.qcloud.com,
// as the SDKs read them) for the client examples' tests. Only Tencent's cloud is faked:
// the signatures inside the requests come from a running vodsign.
import { randomBytes } from "node:crypto";

export const APP_ID = 1250000000;
export const BUCKET = "vodsignexample";
export const REGION = "ap-guangzhou";

/** PrepareUploadUGC: one storage region, so the SDK skips its region race. */
export function prepareAnswer() {
  return {
    code: 0,
    message: "",
    data: { appId: APP_ID, cosRegionList: [{ region: REGION, domain: `${BUCKET}-${APP_ID}.cos.${REGION}.myqcloud.com` }] },
  };
}

/** ApplyUploadUGC: where to put the file and temporary storage credentials. */
export function applyAnswer(request) {
  const now = Math.floor(Date.now() / 1000);
  const type = request.videoType || "mp4";
  return {
    code: 0,
    message: "成功",
    data: {
      video: { storageSignature: "fake", storagePath: `/${APP_ID}/${randomBytes(8).toString("hex")}/f0.${type}` },
      storageAppId: APP_ID,
      storageBucket: BUCKET,
      storageRegion: "gzp",
      storageRegionV5: REGION,
      StorageRegionV5: REGION,
      domain: `${BUCKET}-${APP_ID}.cos.${REGION}.myqcloud.com`,
      vodSessionKey: `fake-session-${randomBytes(8).toString("hex")}`,
      tempCertificate: {
        secretId: "AKIDfakeTemporaryCredential",
        secretKey: "fake-temporary-key",
        token: "fake-token",
        expiredTime: now + 3600,
      },
      appId: APP_ID,
      timestamp: now,
    },
  };
}

/** CommitUploadUGC: the new media's FileId and URL. */
export function commitAnswer() {
  const fileId = `52858907${String(Math.floor(Math.random() * 1e10)).padStart(10, "0")}`;
  return {
    code: 0,
    message: "成功",
    data: {
      fileId,
      video: { url: `https://${APP_ID}.vod2.myqcloud.com/fake/${fileId}/f0.mp4`, verify_content: "fake" },
    },
  };
}

/** The VOD action a request URL names (ApplyUploadUGC, ...), or "". */
export function vodAction(url) {
  return new URL(url).searchParams.get("Action") ?? "";
}

/** Storage hosts the SDKs upload to (COS, under either of its domains). */
export const STORAGE_HOST = /^https?:\/\/[a-z0-9.-]+\.(myqcloud\.com|tencentcos\.cn)\//;

const xml = (body) => ({
  status: 200,
  headers: { "Content-Type": "application/xml", "x-cos-request-id": "fake" },
  body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}`,
});

/**
 * COS's multipart upload, as the SDKs drive it for a new file: list unfinished uploads
 * (none), initiate, put each part, complete. Returns { status, headers, body }.
 */
export function storageAnswer(method, url) {
  const { hostname, pathname, searchParams } = new URL(url);
  const bucket = hostname.split(".")[0];
  const key = decodeURIComponent(pathname.slice(1));
  const etag = '"0123456789abcdef0123456789abcdef"';
  if (method === "GET" && searchParams.has("uploads")) {
    return xml(`<ListMultipartUploadsResult><Bucket>${bucket}</Bucket><Encoding-Type>url</Encoding-Type><Prefix>${searchParams.get("prefix") ?? ""}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`);
  }
  if (method === "GET" && searchParams.has("uploadId")) {
    return xml(`<ListPartsResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${searchParams.get("uploadId")}</UploadId><IsTruncated>false</IsTruncated></ListPartsResult>`);
  }
  if (method === "POST" && searchParams.has("uploads")) {
    return xml(`<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>fake-upload-${randomBytes(6).toString("hex")}</UploadId></InitiateMultipartUploadResult>`);
  }
  if (method === "PUT") {
    return { status: 200, headers: { ETag: etag, "x-cos-request-id": "fake" }, body: "" };
  }
  if (method === "POST" && searchParams.has("uploadId")) {
    return xml(`<CompleteMultipartUploadResult><Location>${hostname}/${key}</Location><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>"0123456789abcdef0123456789abcdef-1"</ETag></CompleteMultipartUploadResult>`);
  }
  return { status: 400, headers: { "Content-Type": "application/xml" }, body: `<Error><Code>InvalidRequest</Code><Message>the fake storage does not know ${method} ${url}</Message></Error>` };
}
