// Publishes a video with the UGSV SDK's TXUGCPublish, with a fresh signature from vodsign for
// every publish. TXUGCPublish takes the signature in TXPublishParam.signature, uses it to
// apply for and commit the upload, and never asks for another: fetch right before each
// publish, ask for a validity that covers a slow upload, and when a publish fails because
// the signature expired or was already used, publish again (which fetches a new one).
// Not compiled here: see docs/clients.md.
import Foundation
import TXLiteAVSDK_UGC // or the stand-alone upload module your project links

@MainActor
final class VideoUploader: NSObject, TXVideoPublishListener {
    enum State {
        case progress(sent: Int, total: Int)
        case done(videoId: String, videoURL: String)
        case failed(String)
        /// The user's session ended: show the sign-in screen.
        case signInAgain
    }

    private let signatures: VodSignatureClient
    private let publisher = TXUGCPublish(userID: "vodsign-example")
    private var onState: ((State) -> Void)?

    init(signatures: VodSignatureClient) {
        self.signatures = signatures
        super.init()
        publisher?.delegate = self
    }

    func publish(videoPath: String, coverPath: String? = nil, onState: @escaping (State) -> Void) {
        self.onState = onState
        Task {
            let signature: String
            do {
                // Long enough for a slow upload; vodsign caps it at the policy's maximum.
                signature = try await signatures.fetchSignature(fields: ["validitySeconds": 3600])
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
        let state: State = result.retCode == 0
            ? .done(videoId: result.videoId ?? "", videoURL: result.videoURL ?? "")
            : .failed("upload failed (\(result.retCode)): \(result.descMsg ?? "")")
        Task { @MainActor in self.onState?(state) }
    }
}
