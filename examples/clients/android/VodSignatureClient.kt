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
    private val endpoint: String,
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
    suspend fun fetchSignature(request: JSONObject = JSONObject()): String {
        var attempt = 1
        while (true) {
            val outcome = try {
                post(request)
            } catch (e: IOException) {
                if (attempt >= maxAttempts) {
                    throw SignatureException("cannot reach the signature service: ${e.message}", cause = e)
                }
                delay(backoffSeconds(attempt) * 1000)
                attempt++
                continue
            }
            val (status, body, retryAfter) = outcome
            val envelope = try {
                JSONObject(body)
            } catch (e: JSONException) {
                JSONObject()
            }
            val code = envelope.optInt("code", -1)
            if (status == 200 && code == 0) {
                return envelope.getJSONObject("data").getString("signature")
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

    private suspend fun post(request: JSONObject): Triple<Int, String, String?> = withContext(Dispatchers.IO) {
        val call = http.newCall(
            Request.Builder()
                .url(endpoint)
                .header("Authorization", "Bearer ${credential()}")
                .post(request.toString().toRequestBody(JSON))
                .build(),
        )
        call.execute().use { response ->
            Triple(response.code, response.body?.string().orEmpty(), response.header("Retry-After"))
        }
    }

    private fun backoffSeconds(attempt: Int): Long = minOf(1L shl (attempt - 1), 8L)

    private companion object {
        val JSON = "application/json".toMediaType()
    }
}
