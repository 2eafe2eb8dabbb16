//! The load-shed layer: past max_in_flight, an immediate refusal; no queue.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use vodsign::limits::LoadShedLayer;

fn overloaded() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_max_in_flight_are_refused_at_once() {
    // Handlers wait for a gate that the test opens.
    let gate = Arc::new(Semaphore::new(0));
    let shed = LoadShedLayer::new(2, overloaded);
    let handler_gate = gate.clone();
    let app = Router::new()
        .route(
            "/",
            get(move || {
                let gate = handler_gate.clone();
                async move {
                    let _pass = gate.acquire().await;
                    "done"
                }
            }),
        )
        .layer(shed.clone());
    let call = |app: Router| async move {
        let req = Request::get("/").body(Body::empty()).expect("request");
        app.oneshot(req).await.expect("infallible").status()
    };

    let busy: Vec<_> = (0..2).map(|_| tokio::spawn(call(app.clone()))).collect();
    crate::support::eventually(
        "two requests in flight",
        Duration::from_secs(5),
        async || shed.in_flight() == 2,
    )
    .await;
    let refused = tokio::time::timeout(Duration::from_secs(1), call(app.clone()))
        .await
        .expect("the refusal does not wait");
    assert_eq!(refused, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.shed_total(), 1);

    gate.add_permits(10);
    for b in busy {
        assert_eq!(b.await.expect("task"), StatusCode::OK);
    }
    assert_eq!(shed.in_flight(), 0);
    assert_eq!(call(app).await, StatusCode::OK);
}
