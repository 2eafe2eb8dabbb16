// Fetches VOD upload signatures from vodsign for TXUGCPublish (iOS, Swift, URLSession).
//
// Not compiled here (no Swift toolchain for iOS on this machine): docs/clients.md says which
// examples are tested and how. The rules are the tested browser example's:
// - every publish gets a fresh signature (one-time signatures work once);
// - 401: the credential is missing, wrong or expired: sign the user in again (not retried);
// - 429 and 503: wait Retry-After seconds and ask again, a bounded number of times, and only
//   when the wait is short (a daily quota that ran out is shown, not waited for);
// - any other refusal (400, 403) is shown with vodsign's message and request id.
// UploadTicket (below) uses the same rules for vodsign's upload tickets.
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

/// vodsign's envelope: {"code":0,"message":"ok","data":{...}} on success,
/// {"code":40102,"message":"...","requestId":"..."} on error. `data` is read as a dictionary:
/// a signature's, an upload's or a re-sign's fields.
private struct Envelope {
    let code: Int
    let message: String
    let data: [String: Any]?
    let requestId: String?

    init?(_ body: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let code = object["code"] as? Int else { return nil }
        self.code = code
        message = object["message"] as? String ?? ""
        data = object["data"] as? [String: Any]
        requestId = object["requestId"] as? String
    }
}

final class VodSignatureClient {
    let endpoint: URL
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
        let data = try await call(endpoint, method: "POST", body: fields)
        guard let signature = data["signature"] as? String else {
            throw SignatureError.refused(status: 200, code: 0, message: "no signature in the answer", requestId: "")
        }
        return signature
    }

    /// One request to vodsign with the rules above; the envelope's `data` of a 2xx answer.
    /// `body` nil sends none (a re-sign, a GET).
    func call(_ url: URL, method: String, body: [String: Any]?) async throws -> [String: Any] {
        var attempt = 1
        while true {
            var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 15)
            request.httpMethod = method
            request.setValue("Bearer \(try await credential())", forHTTPHeaderField: "Authorization")
            if let body {
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                request.httpBody = try JSONSerialization.data(withJSONObject: body)
            }

            let data: Data
            let response: HTTPURLResponse
            do {
                let (answer, urlResponse) = try await session.data(for: request)
                data = answer
                response = urlResponse as! HTTPURLResponse // an http(s) URL gives an HTTPURLResponse
            } catch {
                guard attempt < maxAttempts else { throw SignatureError.unreachable(error) }
                try await Task.sleep(nanoseconds: UInt64(backoff(attempt)) * 1_000_000_000)
                attempt += 1
                continue
            }

            let envelope = Envelope(data)
            if (200..<300).contains(response.statusCode), let envelope, envelope.code == 0, let payload = envelope.data {
                return payload
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

/// An upload ticket for one video (vodsign's [uploads] on). `signature()` makes the upload on
/// its first call (POST /v1/uploads with `fields` and `metadata`; one quota unit) and
/// re-signs it on later ones (POST /v1/uploads/{uploadId}/signature; rate only), for
/// publishing again after VOD refused an expired or used signature. A re-sign refused with
/// 409 (40901: no signatures left, or finished) or 410 (41001: expired) makes a new upload.
/// `read()` is the upload's record (GET /v1/uploads/{uploadId}).
actor UploadTicket {
    private let client: VodSignatureClient
    private let base: URL
    private let fields: [String: Any]
    private let metadata: [String: Any]?
    /// The upload the last signature belongs to; nil before the first.
    private(set) var uploadId: String?

    /// - Parameters:
    ///   - apiBase: vodsign's base URL, e.g. https://api.example.com
    ///   - fields: optional POST /v1/uploads fields, e.g. ["validitySeconds": 3600]
    ///   - metadata: stored with the upload and returned as given
    init(client: VodSignatureClient, apiBase: URL, fields: [String: Any] = [:], metadata: [String: Any]? = nil) {
        self.client = client
        base = apiBase
        self.fields = fields
        self.metadata = metadata
    }

    func signature() async throws -> String {
        guard let current = uploadId else { return try await create() }
        do {
            let url = base.appendingPathComponent("v1/uploads/\(current)/signature")
            let data = try await client.call(url, method: "POST", body: nil)
            return try Self.signature(in: data)
        } catch let SignatureError.refused(status, _, _, _) where status == 409 || status == 410 {
            return try await create()
        }
    }

    func read() async throws -> [String: Any] {
        guard let current = uploadId else {
            throw SignatureError.refused(status: 0, code: 0, message: "no upload yet: ask for a signature first", requestId: "")
        }
        return try await client.call(base.appendingPathComponent("v1/uploads/\(current)"), method: "GET", body: nil)
    }

    private func create() async throws -> String {
        var body = fields
        if let metadata { body["metadata"] = metadata }
        let data = try await client.call(base.appendingPathComponent("v1/uploads"), method: "POST", body: body)
        uploadId = data["uploadId"] as? String
        return try Self.signature(in: data)
    }

    private static func signature(in data: [String: Any]) throws -> String {
        guard let signature = data["signature"] as? String else {
            throw SignatureError.refused(status: 200, code: 0, message: "no signature in the answer", requestId: "")
        }
        return signature
    }
}
