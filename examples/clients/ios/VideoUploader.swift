// Publishes a video with the UGSV SDK's TXUGCPublish, with a fresh signature from vodsign for
// every publish. TXUGCPublish takes the signature in TXPublishParam.signature, uses it to
// apply for and commit the upload, and never asks for another: fetch right before each
// publish, ask for a validity that covers a slow upload, and when a publish fails because
// the signature expired or was already used, publish again (which fetches a new one).
// With vodsign's upload tickets on (useTickets), each video gets an UploadTicket: publish()
// makes the upload (POST /v1/uploads, with the title as metadata), publishAgain() re-signs the
// same upload (rate, not quota), and .done carries the uploadId; uploadRecord() reads it.
// Not compiled here: see docs/clients.md.
import Foundation
import TXLiteAVSDK_UGC // or the stand-alone upload module your project links

@MainActor
final class VideoUploader: NSObject, TXVideoPublishListener {
    enum State {
        case progress(sent: Int, total: Int)
        case done(videoId: String, videoURL: String, uploadId: String?)
        case failed(String)
        /// The user's session ended: show the sign-in screen.
        case signInAgain
    }

    private let signatures: VodSignatureClient
    private let apiBase: URL
    private let useTickets: Bool
    private let publisher = TXUGCPublish(userID: "vodsign-example")
    private var onState: ((State) -> Void)?
    private var ticket: UploadTicket?
    private var uploadId: String?
    private var last: (videoPath: String, coverPath: String?)?

    /// - Parameters:
    ///   - apiBase: vodsign's base URL for upload tickets, e.g. https://api.example.com
    init(signatures: VodSignatureClient, apiBase: URL, useTickets: Bool = true) {
        self.signatures = signatures
        self.apiBase = apiBase
        self.useTickets = useTickets
        super.init()
        publisher?.delegate = self
    }

    /// Publishes a new video: with tickets, a new upload.
    func publish(videoPath: String, coverPath: String? = nil, title: String? = nil, onState: @escaping (State) -> Void) {
        self.onState = onState
        // Long enough for a slow upload; vodsign caps it at the policy's maximum.
        ticket = useTickets
            ? UploadTicket(client: signatures, apiBase: apiBase, fields: ["validitySeconds": 3600],
                           metadata: title.map { ["title": $0] })
            : nil
        last = (videoPath, coverPath)
        start()
    }

    /// Publishes the last video again after a failure (an expired or used signature, a
    /// network error): with tickets, the same upload, re-signed.
    func publishAgain() { start() }

    /// vodsign's record of the current upload: status, signaturesIssued, metadata, ...
    func uploadRecord() async throws -> [String: Any]? { try await ticket?.read() }

    private func start() {
        guard let last, let onState else { return }
        let videoPath = last.videoPath, coverPath = last.coverPath
        Task {
            let signature: String
            do {
                if let ticket {
                    signature = try await ticket.signature()
                    uploadId = await ticket.uploadId
                } else {
                    signature = try await signatures.fetchSignature(fields: ["validitySeconds": 3600])
                }
            } catch SignatureError.signInAgain {
                onState(.signInAgain)
                return
            } catch {
                onState(.failed(error.localizedDescription))
                return
            }
            let param = TXPublishParam()
            param.signature = signature
            param.videoPath = videoPath
            if let coverPath { param.coverPath = coverPath }
            let ret = publisher?.publishVideo(param) ?? -1
            if ret != 0 { onState(.failed("the SDK refused to start the upload (\(ret))")) }
        }
    }

    func cancel() { _ = publisher?.canclePublish() } // sic: the SDK's spelling

    // MARK: TXVideoPublishListener

    nonisolated func onPublishProgress(_ uploadBytes: Int, totalBytes: Int) {
        Task { @MainActor in self.onState?(.progress(sent: uploadBytes, total: totalBytes)) }
    }

    nonisolated func onPublishComplete(_ result: TXPublishResult!) {
        let ok = result.retCode == 0
        let videoId = result.videoId ?? "", videoURL = result.videoURL ?? ""
        let failure = "upload failed (\(result.retCode)): \(result.descMsg ?? "")"
        Task { @MainActor in
            // An expired or used signature lands in .failed too: publishAgain() gets a fresh
            // one (with tickets, for the same upload).
            self.onState?(ok ? .done(videoId: videoId, videoURL: videoURL, uploadId: self.uploadId) : .failed(failure))
        }
    }
}
