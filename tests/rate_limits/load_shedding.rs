//! The load-shedding budget: past max_in_flight, an immediate refusal; no queue.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use vodsign::{PerCaller, ShedBudget};

fn overloaded() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_max_in_flight_are_refused_at_once() {
    // Handlers wait for a gate that the test opens.
    let gate = Arc::new(Semaphore::new(0));
    let shed = ShedBudget::new(2);
    let handler_gate = gate.clone();
    let handler_shed = shed.clone();
    let app = Router::new().route(
        "/",
        get(move || {
            let gate = handler_gate.clone();
            let slot = handler_shed.try_enter();
            async move {
                let Some(_slot) = slot else {
                    return overloaded();
                };
                let _pass = gate.acquire().await;
                "done".into_response()
            }
        }),
    );
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

#[test]
fn each_caller_gets_its_own_share_and_gets_it_back() {
    let per_caller = PerCaller::new(2);
    let first = per_caller.try_enter("a".to_owned()).expect("a slot");
    let second = per_caller.try_enter("a".to_owned()).expect("a slot");
    assert!(per_caller.try_enter("a".to_owned()).is_none(), "a is full");
    assert!(per_caller.try_enter("b".to_owned()).is_some(), "b is not");
    assert_eq!(per_caller.in_flight("a"), 2);
    drop(first);
    assert_eq!(per_caller.in_flight("a"), 1);
    let third = per_caller.try_enter("a".to_owned()).expect("a slot freed");
    drop((second, third));
    assert_eq!(per_caller.in_flight("a"), 0);
}

#[test]
fn zero_per_caller_is_no_limit() {
    let per_caller = PerCaller::new(0);
    let held: Vec<_> = (0..100)
        .map(|_| per_caller.try_enter("a".to_owned()).expect("never refused"))
        .collect();
    assert_eq!(held.len(), 100);
}

#[test]
fn try_enter_takes_a_slot_or_counts_a_shed() {
    let shed = ShedBudget::new(1);
    let held = shed.try_enter().expect("one slot");
    assert_eq!(shed.in_flight(), 1);
    assert!(shed.try_enter().is_none());
    assert_eq!(shed.shed_total(), 1);
    drop(held);
    assert_eq!(shed.in_flight(), 0);
}
