-- Indexes for the admin listing and replays by endpoint, and for the retention purge of
-- delivered and dead messages and of events no message refers to (src/events/store/).
CREATE INDEX webhook_messages_by_endpoint ON webhook_messages (endpoint, status, created_at);
CREATE INDEX webhook_messages_finished
    ON webhook_messages (status, finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX webhook_messages_by_event ON webhook_messages (event_seq);
CREATE INDEX vod_events_received ON vod_events (received_at);
