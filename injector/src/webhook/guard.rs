//! The limits every admission passes through: requests beyond
//! `max_concurrent + max_queued` are shed at once (no unbounded queue:
//! kube-apiserver retries elsewhere or applies `failurePolicy`), the rest
//! wait for one of `max_concurrent` slots, and a request not answered
//! within its [`Deadline`] (kube-apiserver's `?timeout=` less a tenth, at
//! most `--request-timeout`) is answered 503 with the reason instead.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::SharedState;
use super::deadline::Deadline;
use super::error::AdmissionError;

pub(super) async fn guard(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    match guarded(&state, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn guarded(
    state: &SharedState,
    request: Request,
    next: Next,
) -> Result<Response, AdmissionError> {
    let limits = state.limits;
    let deadline = Deadline::for_query(request.uri().query(), limits.timeout);
    let Ok(_admitted) = state.admitted.clone().try_acquire_owned() else {
        return Err(AdmissionError::Overloaded {
            processing: limits.max_concurrent,
            waiting: limits.max_queued,
        });
    };
    let work = async {
        // Closed never: the semaphore lives as long as the state.
        let _running = state.running.acquire().await;
        next.run(request).await
    };
    tokio::time::timeout(deadline.budget, work)
        .await
        .map_err(|_| AdmissionError::Timeout(deadline))
}
