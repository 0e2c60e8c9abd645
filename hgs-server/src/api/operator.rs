//! The operators' endpoints: `/health` (open), `/metrics` (open, Prometheus; no label names a
//! host), `/status` (read-only HTML; the admin or operator token, or a session from `/login`).

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;

use super::extract::{Operator, SESSION_COOKIE, SESSION_LIFETIME};
use super::{ApiError, AppState};
use crate::store::{Hosts, Store};

pub(super) async fn health<S: Store>(
    State(st): State<Arc<AppState<S>>>,
) -> Result<Response, ApiError> {
    st.store.ping().await?;
    Ok(Json(serde_json::json!({ "status": "ok" })).into_response())
}

pub(super) async fn metrics<S: Store>(State(st): State<Arc<AppState<S>>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

/// The status page, to the admin or operator token or a session; a login page otherwise.
pub(super) async fn status<S: Store>(
    who: Result<Operator, ApiError>,
    State(st): State<Arc<AppState<S>>>,
) -> Result<Response, ApiError> {
    if who.is_err() {
        return Ok(login_form(StatusCode::UNAUTHORIZED, false));
    }
    let registry = st.store.registry(Hosts::All).await?;
    let verdicts = st.store.verdicts().await?;
    let keys = super::keys::summary(&st).await?;
    Ok(Html(crate::status::page(
        &registry.hosts,
        &verdicts,
        &keys,
        st.config.clock.now(),
    ))
    .into_response())
}

fn login_form(status: StatusCode, wrong: bool) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Html(crate::status::login_page(wrong)),
    )
        .into_response()
}

/// `POST /login` form body.
#[derive(serde::Deserialize)]
pub(super) struct LoginForm {
    token: String,
}

/// `POST /login`: the admin or operator token from the login form; a session cookie (HttpOnly,
/// Secure, SameSite=Strict, for the operator pages only) and back to `/status`.
pub(super) async fn login<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    Form(form): Form<LoginForm>,
) -> Response {
    if !st.auth.may_read_status(&form.token) {
        return login_form(StatusCode::UNAUTHORIZED, true);
    }
    let Some(session) = st.auth.new_session(st.config.clock.now()) else {
        return ApiError::Internal.into_response();
    };
    let cookie = format!(
        "{SESSION_COOKIE}={session}; Path=/; Max-Age={SESSION_LIFETIME}; HttpOnly; Secure; SameSite=Strict"
    );
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/status".to_owned()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

/// `POST /logout`: forgets the session cookie.
pub(super) async fn logout() -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/status".to_owned()),
            (
                header::SET_COOKIE,
                format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"),
            ),
        ],
    )
        .into_response()
}
