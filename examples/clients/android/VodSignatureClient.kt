// Fetches VOD upload signatures from vodsign for TXUGCPublish (Android, Kotlin).
//
// Dependencies: OkHttp 4 and kotlinx-coroutines; JSON through Android's built-in org.json.
// Not compiled in CI (docs/clients.md says why); the browser and mini-program examples,
// which follow the same rules, are tested against a running vodsign.
//
// Rules, as for every vodsign client:
// - every publish gets a fresh signature (one-time signatures work once);
// - 401: the credential is missing, wrong or expired: sign the user in again (not retried);
// - 429 and 503: wait Retry-After seconds and ask again, a bounded number of times, and only
//   when the wait is short (a daily quota that ran out is shown, not waited for);
// - any other refusal (400, 403) is shown with vodsign's message and request id.
// UploadTicket (below) uses the same rules for vodsign's upload tickets.
package com.example.vodupload

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.withContext
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import org.json.JSONException
import org.json.JSONObject
import java.io.IOException
import java.util.concurrent.TimeUnit

/** Why no signature came; [reauthenticate] is true when the user must sign in again. */
class SignatureException(
    message: String,
    val status: Int = 0,
    val code: Int = 0,
    val requestId: String = "",
    val reauthenticate: Boolean = false,
    cause: Throwable? = null,
) : Exception(message, cause)

class VodSignatureClient(
    /** vodsign's endpoint, e.g. "https://api.example.com/v1/signature". */
    val endpoint: String,
    /** The signed-in user's current access token (asked for on every call). */
    private val credential: suspend () -> String,
    private val http: OkHttpClient = OkHttpClient.Builder()
        .callTimeout(15, TimeUnit.SECONDS)
        .build(),
    private val maxAttempts: Int = 4,
    private val maxWaitSeconds: Long = 30,
) {
    /**
     * A fresh signature. [request] holds optional fields for POST /v1/signature, for
     * example `JSONObject().put("classId", 1)`.
     */
    suspend fun fetchSignature(request: JSONObject = JSONObject()): String =
        call(endpoint, "POST", request).getString("signature")

    /**
     * One request to vodsign with the rules above; the envelope's `data` of a 2xx answer.
     * [body] null sends none (a re-sign, a GET).
     */
    internal suspend fun call(url: String, method: String, body: JSONObject?): JSONObject {
        var attempt = 1
        while (true) {
            val outcome = try {
                send(url, method, body)
            } catch (e: IOException) {
                if (attempt >= maxAttempts) {
                    throw SignatureException("cannot reach the signature service: ${e.message}", cause = e)
                }
                delay(backoffSeconds(attempt) * 1000)
                attempt++
                continue
            }
            val (status, text, retryAfter) = outcome
            val envelope = try {
                JSONObject(text)
            } catch (e: JSONException) {
                JSONObject()
            }
            val code = envelope.optInt("code", -1)
            if (status in 200..299 && code == 0) {
                return envelope.getJSONObject("data")
            }
            val message = envelope.optString("message", "HTTP $status")
            val requestId = envelope.optString("requestId", "")
            when (status) {
                401 -> throw SignatureException(
                    "please sign in again: $message", status, code, requestId, reauthenticate = true,
                )
                429, 503 -> {
                    val seconds = retryAfter?.trim()?.toLongOrNull() ?: backoffSeconds(attempt)
                    if (attempt >= maxAttempts || seconds > maxWaitSeconds) {
                        throw SignatureException(
                            "signature refused for now: $message; try again in $seconds s", status, code, requestId,
                        )
                    }
                    delay(seconds * 1000)
                    attempt++
                }
                else -> throw SignatureException("signature refused ($status, $code): $message", status, code, requestId)
            }
        }
    }

    private suspend fun send(url: String, method: String, body: JSONObject?): Triple<Int, String, String?> =
        withContext(Dispatchers.IO) {
            val builder = Request.Builder()
                .url(url)
                .header("Authorization", "Bearer ${credential()}")
            when {
                method == "GET" -> builder.get()
                body != null -> builder.post(body.toString().toRequestBody(JSON))
                else -> builder.post(ByteArray(0).toRequestBody(null))
            }
            http.newCall(builder.build()).execute().use { response ->
                Triple(response.code, response.body?.string().orEmpty(), response.header("Retry-After"))
            }
        }

    private fun backoffSeconds(attempt: Int): Long = minOf(1L shl (attempt - 1), 8L)

    private companion object {
        val JSON = "application/json".toMediaType()
    }
}

/**
 * An upload ticket for one video (vodsign's [uploads] on): [signature] makes the upload on
 * its first call (POST /v1/uploads with [fields] and [metadata]; one quota unit) and re-signs
 * it on later ones (POST /v1/uploads/{uploadId}/signature; rate only), for publishing again
 * after VOD refused an expired or used signature. A re-sign refused with 409 (40901: no
 * signatures left, or the upload is finished) or 410 (41001: expired) makes a new upload.
 * [read] is the upload's record (GET /v1/uploads/{uploadId}).
 */
class UploadTicket(
    private val client: VodSignatureClient,
    /** vodsign's base URL, e.g. "https://api.example.com". */
    apiBase: String,
    /** Optional POST /v1/uploads fields, e.g. `JSONObject().put("validitySeconds", 3600)`. */
    private val fields: JSONObject = JSONObject(),
    /** Stored with the upload and returned as given. */
    private val metadata: JSONObject? = null,
) {
    private val base = apiBase.trimEnd('/')

    /** The upload the last signature belongs to; null before the first. */
    var uploadId: String? = null
        private set

    suspend fun signature(): String {
        val current = uploadId ?: return create()
        return try {
            client.call("$base/v1/uploads/$current/signature", "POST", null).getString("signature")
        } catch (e: SignatureException) {
            if (e.status == 409 || e.status == 410) create() else throw e
        }
    }

    suspend fun read(): JSONObject {
        val current = uploadId ?: throw SignatureException("no upload yet: ask for a signature first")
        return client.call("$base/v1/uploads/$current", "GET", null)
    }

    private suspend fun create(): String {
        val body = JSONObject(fields.toString())
        if (metadata != null) body.put("metadata", metadata)
        val data = client.call("$base/v1/uploads", "POST", body)
        uploadId = data.getString("uploadId")
        return data.getString("signature")
    }
}
