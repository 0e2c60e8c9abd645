//! Prometheus metrics: requests by route, method and status; verdicts by status and sub-status;
//! request latency; challenges issued and voided; requests refused by a rate limit.
//!
//! No label carries a host name, a client address or any other value a client chose beyond the
//! route pattern: `/metrics` is open to the network's scrapers, and its cardinality stays fixed.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use hgs_attest::Verdict;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};

/// The server's metrics, in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: prometheus::Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    verdicts: IntCounterVec,
    /// Challenges issued.
    pub challenges: IntCounter,
    /// Outstanding challenges voided by a newer one for the same host.
    pub challenges_voided: IntCounter,
    rate_limited: IntCounterVec,
    releases: IntCounterVec,
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
        let challenges_voided = IntCounter::new(
            "hgs_challenges_voided_total",
            "Outstanding challenges voided by a newer one for the same host",
        )?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "hgs_rate_limited_total",
                "Requests refused with 429, by the limit that refused them (client or host)",
            ),
            &["limit"],
        )?;
        let releases = IntCounterVec::new(
            Opts::new(
                "hgs_releases_total",
                "Secret releases and key-protector unwraps, by outcome (released, or why not)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(releases.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(verdicts.clone()))?;
        registry.register(Box::new(challenges.clone()))?;
        registry.register(Box::new(challenges_voided.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            verdicts,
            challenges,
            challenges_voided,
            rate_limited,
            releases,
        })
    }

    /// Counts a verdict: once per sub-status, or once with `sub_status="none"`.
    pub fn verdict(&self, v: &Verdict) {
        let status = status_name(v);
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

    /// Counts a release (`released`) or a refusal (its reason kind; a bounded set).
    pub(crate) fn release(&self, outcome: &str) {
        self.releases.with_label_values(&[outcome]).inc();
    }

    /// Counts a request refused by `limit`.
    pub(crate) fn rate_limited(&self, limit: crate::limits::Limit) {
        self.rate_limited.with_label_values(&[limit.label()]).inc();
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
pub(crate) async fn track(State(m): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // Known methods only: an extension method is any token a client likes (unbounded labels).
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    };
    let start = Instant::now();
    let response = next.run(req).await;
    m.latency
        .with_label_values(&[route.as_str()])
        .observe(start.elapsed().as_secs_f64());
    m.requests
        .with_label_values(&[route.as_str(), method, response.status().as_str()])
        .inc();
    response
}

/// The verdict's status as its serde name (`Passed`, `InsecureHostConfiguration`, ...).
pub(crate) fn status_name(v: &Verdict) -> String {
    serde_json::to_value(v.status)
        .ok()
        .and_then(|s| s.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{:?}", v.status))
}
