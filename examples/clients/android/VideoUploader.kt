// Publishes a video with the UGSV SDK's TXUGCPublish (the "ugcupload" module), with a fresh
// signature from vodsign for every publish.
//
// TXUGCPublish takes the signature in TXPublishParam.signature and uses it to apply for and
// to commit the upload; it does not call back for a new one. So: fetch right before each
// publish (never reuse one), ask for a validity that covers a slow upload
// ({"validitySeconds": ...} up to the policy's max), and when a publish fails because the
// signature expired or was already used, fetch a new one and publish again.
//
// With vodsign's upload tickets on (useTickets = true), each video gets an UploadTicket:
// publish() makes the upload (POST /v1/uploads, with the title as metadata), publishAgain()
// re-signs the same upload (POST /v1/uploads/{uploadId}/signature: rate, not quota), and
// Done carries the uploadId, whose record uploadRecord() reads.
package com.example.vodupload

import android.content.Context
import com.tencent.ugc.TXUGCPublish
import com.tencent.ugc.TXUGCPublishTypeDef
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.launch
import org.json.JSONObject

class VideoUploader(
    context: Context,
    private val signatures: VodSignatureClient,
    private val scope: CoroutineScope,
    /** vodsign's base URL, for upload tickets, e.g. "https://api.example.com". */
    private val apiBase: String = signatures.endpoint.removeSuffix("/v1/signature"),
    private val useTickets: Boolean = true,
) {
    /** What the screen shows. */
    sealed interface State {
        data class Progress(val sent: Long, val total: Long) : State
        data class Done(val videoId: String, val videoUrl: String, val uploadId: String?) : State
        data class Failed(val message: String) : State
        /** The user's session ended: show the sign-in screen. */
        object SignInAgain : State
    }

    private val publisher = TXUGCPublish(context.applicationContext, "vodsign-example")
    private var ticket: UploadTicket? = null
    private var last: Triple<String, String?, (State) -> Unit>? = null

    /** Publishes a new video: with tickets, a new upload. */
    fun publish(videoPath: String, coverPath: String? = null, title: String? = null, onState: (State) -> Unit) {
        // Long enough for a slow upload; vodsign caps it at the policy's maximum.
        val fields = JSONObject().put("validitySeconds", 3600)
        ticket = if (useTickets) {
            UploadTicket(signatures, apiBase, fields, title?.let { JSONObject().put("title", it) })
        } else {
            null
        }
        last = Triple(videoPath, coverPath, onState)
        start(videoPath, coverPath, onState)
    }

    /**
     * Publishes the last video again after a failure (an expired or used signature, a
     * network error): with tickets, the same upload, re-signed.
     */
    fun publishAgain() {
        val (videoPath, coverPath, onState) = last ?: return
        start(videoPath, coverPath, onState)
    }

    /** vodsign's record of the current upload: status, signaturesIssued, metadata, ... */
    suspend fun uploadRecord(): JSONObject? = ticket?.read()

    private fun start(videoPath: String, coverPath: String?, onState: (State) -> Unit) {
        scope.launch {
            val signature = try {
                ticket?.signature()
                    ?: signatures.fetchSignature(JSONObject().put("validitySeconds", 3600))
            } catch (e: SignatureException) {
                onState(if (e.reauthenticate) State.SignInAgain else State.Failed(e.message ?: "no signature"))
                return@launch
            }
            publisher.setListener(object : TXUGCPublishTypeDef.ITXVideoPublishListener {
                override fun onPublishProgress(uploadBytes: Long, totalBytes: Long) {
                    onState(State.Progress(uploadBytes, totalBytes))
                }

                override fun onPublishComplete(result: TXUGCPublishTypeDef.TXPublishResult) {
                    onState(
                        if (result.retCode == TXUGCPublishTypeDef.PUBLISH_RESULT_OK) {
                            State.Done(result.videoId, result.videoURL, ticket?.uploadId)
                        } else {
                            // An expired or reused signature lands here too: publishAgain()
                            // gets a fresh one (with tickets, for the same upload).
                            State.Failed("upload failed (${result.retCode}): ${result.descMsg}")
                        },
                    )
                }
            })
            val param = TXUGCPublishTypeDef.TXPublishParam().apply {
                this.signature = signature
                this.videoPath = videoPath
                if (coverPath != null) this.coverPath = coverPath
            }
            val ret = publisher.publishVideo(param)
            if (ret != 0) onState(State.Failed("the SDK refused to start the upload ($ret)"))
        }
    }

    fun cancel() = publisher.canclePublish() // sic: the SDK's spelling
}
