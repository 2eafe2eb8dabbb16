//! What the relay reports while it runs: events pulled, confirmed, deduplicated and
//! unattributed, stale confirmations, the VOD API's reachability, and every delivery
//! attempt. The app layer turns these into metrics and dependency health; the tests count
//! them directly. Every method has an empty default, so an observer implements only what it
//! needs.

/// Receives the relay's counts as they happen. Called from the pull loop and the delivery
/// worker's tasks: keep each call cheap and never block.
pub trait RelayObserver: Send + Sync + 'static {
    /// `PullEvents` handed out `events` events.
    fn pulled(&self, _events: usize) {}
    /// `ConfirmEvents` accepted `events` handles.
    fn confirmed(&self, _events: usize) {}
    /// A `ConfirmEvents` call was refused for a stale handle (its events come back under
    /// new handles and are deduplicated).
    fn stale_confirm(&self) {}
    /// `events` events were already stored (a duplicate or a redelivery): no new message.
    fn deduplicated(&self, _events: usize) {}
    /// A new event of `event_type` (a bounded label: see [`event_type_label`]) was passed on
    /// as `vod.unattributed`.
    fn unattributed(&self, _event_type: &'static str) {}
    /// Whether the last `PullEvents` call got an answer from VOD (`problem` says what went
    /// wrong, naming no secret).
    fn vod_reachable(&self, _up: bool, _problem: Option<&str>) {}
    /// One delivery attempt to `endpoint` ended with `result` (`delivered`, `retry`,
    /// `dead`, `disabled` or `lease_lost`: [`super::Outcome::label`]).
    fn attempt(&self, _endpoint: &str, _result: &'static str) {}
}

/// An observer that keeps nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl RelayObserver for NoObserver {}

/// VOD's event types (API 2018-07-17), for a metric label that stays bounded whatever VOD
/// or a forger sends: any other type is `other`.
const KNOWN_EVENT_TYPES: [&str; 30] = [
    "NewFileUpload",
    "ProcedureStateChanged",
    "FileDeleted",
    "PullComplete",
    "EditMediaComplete",
    "SplitMediaComplete",
    "WechatPublishComplete",
    "ComposeMediaComplete",
    "ClipComplete",
    "TranscodeComplete",
    "CreateImageSpriteComplete",
    "SnapshotByTimeOffsetComplete",
    "WechatMiniProgramPublishComplete",
    "RemoveWatermark",
    "RestoreMediaComplete",
    "RebuildMediaComplete",
    "ReviewAudioVideoComplete",
    "ExtractTraceWatermarkComplete",
    "ExtractCopyRightWatermarkComplete",
    "ExtractBlindWatermarkComplete",
    "DescribeFileAttributesComplete",
    "QualityInspectComplete",
    "QualityEnhanceComplete",
    "PersistenceComplete",
    "ComplexAdaptiveDynamicStreamingComplete",
    "ProcessMediaByMPSComplete",
    "AigcImageTaskComplete",
    "AigcVideoTaskComplete",
    "MediaCastStatusChanged",
    "ReduceMediaBitrateComplete",
];

/// `event_type` when it is one of VOD's event types, else `other` (absent included).
pub fn event_type_label(event_type: Option<&str>) -> &'static str {
    event_type
        .and_then(|t| KNOWN_EVENT_TYPES.iter().find(|known| **known == t))
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_labels_are_bounded() {
        assert_eq!(event_type_label(Some("PullComplete")), "PullComplete");
        assert_eq!(event_type_label(Some("pullcomplete")), "other");
        assert_eq!(event_type_label(Some(&"x".repeat(500))), "other");
        assert_eq!(event_type_label(None), "other");
    }
}
