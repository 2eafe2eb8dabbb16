// Fetches VOD upload signatures from vodsign for TXUGCPublish (iOS, Swift, URLSession).
//
// Not compiled here (no Swift toolchain for iOS on this machine): docs/clients.md says which
// examples are tested and how. The rules are the tested browser example's:
// - every publish gets a fresh signature (one-time signatures work once);
// - 401: the credential is missing, wrong or expired: sign the user in again (not retried);
// - 429 and 503: wait Retry-After seconds and ask again, a bounded number of times, and only
//   when the wait is short (a daily quota that ran out is shown, not waited for);
// - any other refusal (400, 403) is shown with vodsign's message and request id.
import Foundation

enum SignatureError: Error, LocalizedError {
    /// The user must sign in again (HTTP 401).
    case signInAgain(message: String, requestId: String)
    /// Refused for now (429/503) after the allowed waits; `retryAfter` in seconds.
    case tryLater(message: String, retryAfter: Int, requestId: String)
    /// Refused (400, 403, ...): vodsign's message names the field or the policy rule.
    case refused(status: Int, code: Int, message: String, requestId: String)
    case unreachable(Error)

    var errorDescription: String? {
        switch self {
        case let .signInAgain(message, _): return "Please sign in again: \(message)"
        case let .tryLater(message, seconds, _): return "\(message); try again in \(seconds) s"
        case let .refused(status, code, message, _): return "Signature refused (\(status), \(code)): \(message)"
        case let .unreachable(error): return "Cannot reach the signature service: \(error.localizedDescription)"
        }
    }
}

/// vodsign's envelope: {"code":0,"message":"ok","data":{"signature":"...","expireTime":...}}
/// on success, {"code":40102,"message":"...","requestId":"..."} on error.
private struct Envelope: Decodable {
    struct Payload: Decodable { let signature: String; let expireTime: Int }
    let code: Int
    let message: String
    let data: Payload?
    let requestId: String?
}

final class VodSignatureClient {
    private let endpoint: URL
    private let credential: () async throws -> String
    private let session: URLSession
    private let maxAttempts: Int
    private let maxWaitSeconds: Int

    /// - Parameters:
    ///   - endpoint: e.g. https://api.example.com/v1/signature
    ///   - credential: the signed-in user's current access token, asked for on every call
    init(endpoint: URL, credential: @escaping () async throws -> String,
         session: URLSession = .shared, maxAttempts: Int = 4, maxWaitSeconds: Int = 30) {
        self.endpoint = endpoint
        self.credential = credential
        self.session = session
        self.maxAttempts = maxAttempts
        self.maxWaitSeconds = maxWaitSeconds
    }

    /// A fresh signature; `fields` are optional POST /v1/signature fields, e.g. ["classId": 1].
    func fetchSignature(fields: [String: Any] = [:]) async throws -> String {
        var attempt = 1
        while true {
            var request = URLRequest(url: endpoint, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 15)
            request.httpMethod = "POST"
            request.setValue("Bearer \(try await credential())", forHTTPHeaderField: "Authorization")
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: fields)

            let data: Data
            let response: HTTPURLResponse
            do {
                let (body, urlResponse) = try await session.data(for: request)
                data = body
                response = urlResponse as! HTTPURLResponse // an http(s) URL gives an HTTPURLResponse
            } catch {
                guard attempt < maxAttempts else { throw SignatureError.unreachable(error) }
                try await Task.sleep(nanoseconds: UInt64(backoff(attempt)) * 1_000_000_000)
                attempt += 1
                continue
            }

            let envelope = try? JSONDecoder().decode(Envelope.self, from: data)
            if response.statusCode == 200, let envelope, envelope.code == 0, let payload = envelope.data {
                return payload.signature
            }
            let message = envelope?.message ?? "HTTP \(response.statusCode)"
            let requestId = envelope?.requestId ?? response.value(forHTTPHeaderField: "x-request-id") ?? ""
            switch response.statusCode {
            case 401:
                throw SignatureError.signInAgain(message: message, requestId: requestId)
            case 429, 503:
                let header = response.value(forHTTPHeaderField: "Retry-After")
                let seconds = header.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? backoff(attempt)
                guard attempt < maxAttempts, seconds <= maxWaitSeconds else {
                    throw SignatureError.tryLater(message: message, retryAfter: seconds, requestId: requestId)
                }
                try await Task.sleep(nanoseconds: UInt64(seconds) * 1_000_000_000)
                attempt += 1
            default:
                throw SignatureError.refused(status: response.statusCode, code: envelope?.code ?? 0,
                                             message: message, requestId: requestId)
            }
        }
    }

    private func backoff(_ attempt: Int) -> Int { min(1 << (attempt - 1), 8) }
}
