//! Prometheus metrics: requests by route, method and status; verdicts by status and sub-status;
//! request latency; challenges issued.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hgs_attest::Verdict;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};

use crate::api::AppState;
use crate::store::Store;

/// The server's metrics, in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: prometheus::Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    verdicts: IntCounterVec,
    /// Challenges issued.
    pub challenges: IntCounter,
}

impl Metrics {
    /// Fresh counters in a registry of their own (so two servers in one process do not clash).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = prometheus::Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "hgs_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "hgs_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        )?;
        let verdicts = IntCounterVec::new(
            Opts::new(
                "hgs_verdicts_total",
                "Attestation verdicts by status and sub-status (none when there is none)",
            ),
            &["status", "sub_status"],
        )?;
        let challenges = IntCounter::new("hgs_challenges_issued_total", "Challenges issued")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(verdicts.clone()))?;
        registry.register(Box::new(challenges.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            verdicts,
            challenges,
        })
    }

    /// Counts a verdict: once per sub-status, or once with `sub_status="none"`.
    pub fn verdict(&self, v: &Verdict) {
        let status = crate::api::status_name(v);
        if v.sub_statuses.is_empty() {
            self.verdicts
                .with_label_values(&[status.as_str(), "none"])
                .inc();
        }
        for s in &v.sub_statuses {
            let sub = format!("{s:?}");
            self.verdicts
                .with_label_values(&[status.as_str(), sub.as_str()])
                .inc();
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Middleware: counts and times every request under its route pattern (`/v1/hosts/{name}`, not
/// the concrete path, so label cardinality stays bounded).
pub(crate) async fn track<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(req).await;
    let m = &st.metrics;
    m.latency
        .with_label_values(&[route.as_str()])
        .observe(start.elapsed().as_secs_f64());
    m.requests
        .with_label_values(&[route.as_str(), method.as_str(), response.status().as_str()])
        .inc();
    response
}
