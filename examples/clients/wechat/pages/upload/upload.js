// A mini-program page: pick a video, upload it with vod-wx-sdk-v2, signatures from vodsign
// through an upload ticket (vodsign's [uploads] on): the first getSignature makes the
// upload, later ones re-sign it, and the page reads the upload when the SDK is done. With
// tickets off, use createGetSignature({ endpoint: `${VODSIGN}/v1/signature`, ... }) instead.
// (Build npm in the WeChat developer tools so `require("vod-wx-sdk-v2")` resolves.)
const VodUploader = require("vod-wx-sdk-v2");
const { createUploadTicket } = require("../../getSignature");

// Your vodsign deployment; its domain must be in the request legal domains.
const VODSIGN = "https://api.example.com";

Page({
  data: { status: "", progress: 0 },

  chooseAndUpload() {
    wx.chooseMedia({
      mediaType: ["video"],
      count: 1,
      success: (chosen) => {
        const file = chosen.tempFiles[0];
        this.upload({ tempFilePath: file.tempFilePath, size: file.size });
      },
    });
  },

  upload(mediaFile) {
    const app = getApp();
    const ticket = createUploadTicket({
      apiBase: VODSIGN,
      metadata: { title: mediaFile.tempFilePath.split("/").pop() },
      // The signed-in user's access token, read on every call (refreshed by your login code).
      credential: () => app.globalData.accessToken,
      onError: (error) => {
        if (error.reauthenticate) {
          this.setData({ status: "Your session has ended: sign in again." });
          wx.navigateTo({ url: "/pages/login/login" });
        } else {
          this.setData({ status: `Upload failed: ${error.message}` });
        }
        if (this.uploader) this.uploader.cancel();
      },
    });
    this.setData({ status: "Uploading…", progress: 0 });
    this.uploader = VodUploader.start({
      mediaFile,
      getSignature: ticket.getSignature,
      progress: (info) => this.setData({ progress: Math.round(info.percent * 100) }),
      finish: (result) => {
        this.setData({ status: `Uploaded: fileId ${result.fileId}` });
        // vodsign's record: status, signaturesIssued, metadata (and fileId once VOD says).
        ticket.readUpload((upload) => this.setData({ upload }), () => {});
      },
      error: (error) => this.setData({ status: `Upload failed: ${error.message || JSON.stringify(error)}` }),
    });
  },
});
