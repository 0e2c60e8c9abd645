//! Rate limits on the endpoints anyone can reach: per client address on every host endpoint
//! (challenges, attestations, the status login), and per registered host name on challenges.
//!
//! A refused request gets `429 Too Many Requests` with `Retry-After` (whole seconds) before any
//! database or cryptographic work, and is counted in `/metrics` by the limit that refused it.
//!
//! Memory stays bounded: a host's bucket exists only once the name was found registered (so it is
//! bounded by the fleet), and client buckets are dropped once full again
//! (`retain_recent`, every [`HOUSEKEEPING_EVERY`] checks), so they are bounded by the addresses
//! seen within `burst / per_second` seconds. IPv6 clients are keyed by their /64 (one host
//! usually owns a whole /64, so per-address keys would be free to multiply).
//!
//! Behind a reverse proxy every client has the proxy's address: put the per-client limit in the
//! proxy then, and disable it here ([`RateLimits::per_client`] `None`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// Checks between two sweeps of the limiters' full buckets.
pub const HOUSEKEEPING_EVERY: u64 = 4096;

/// A token bucket: `per_second` requests on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests allowed at once after a quiet period.
    pub burst: NonZeroU32,
}

impl Rate {
    /// `per_second` on average, `burst` at once; `None` when either is zero.
    pub fn new(per_second: u32, burst: u32) -> Option<Rate> {
        Some(Rate {
            per_second: NonZeroU32::new(per_second)?,
            burst: NonZeroU32::new(burst)?,
        })
    }

    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// The limits of one server; `None` disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests to the host endpoints per client address (IPv6: per /64).
    /// Default: 20/s, bursts of 200 — a rack of hosts behind one NAT re-attesting together.
    pub per_client: Option<Rate>,
    /// Challenges per registered host name. Default: 1/s, bursts of 10 — a host asks for one
    /// every few minutes.
    pub per_host: Option<Rate>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_client: Rate::new(20, 200),
            per_host: Rate::new(1, 10),
        }
    }
}

impl RateLimits {
    /// No limits (benchmarks, or a proxy in front that limits).
    pub fn none() -> RateLimits {
        RateLimits {
            per_client: None,
            per_host: None,
        }
    }
}

/// Which limit refused a request (the `limit` label of `hgs_rate_limited_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Per client address.
    Client,
    /// Per host name.
    Host,
}

impl Limit {
    /// The metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Limit::Client => "client",
            Limit::Host => "host",
        }
    }
}

/// A refusal: which limit, and when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limited {
    pub(crate) limit: Limit,
    /// Whole seconds, at least 1.
    pub(crate) retry_after: u64,
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// The limiters of one server.
pub(crate) struct Limiters {
    client: Option<Keyed<IpAddr>>,
    host: Option<Keyed<String>>,
    checks: AtomicU64,
    clock: DefaultClock,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters")
            .field("client", &self.client.is_some())
            .field("host", &self.host.is_some())
            .finish_non_exhaustive()
    }
}

impl Limiters {
    pub(crate) fn new(limits: RateLimits) -> Limiters {
        Limiters {
            client: limits.per_client.map(|r| RateLimiter::keyed(r.quota())),
            host: limits.per_host.map(|r| RateLimiter::keyed(r.quota())),
            checks: AtomicU64::new(0),
            clock: DefaultClock::default(),
        }
    }

    /// One request from `addr`.
    pub(crate) fn check_client(&self, addr: IpAddr) -> Result<(), Limited> {
        let Some(limiter) = &self.client else {
            return Ok(());
        };
        self.housekeeping();
        limiter
            .check_key(&client_key(addr))
            .map_err(|not_until| self.limited(Limit::Client, &not_until))
    }

    /// One challenge for the registered host `name`.
    pub(crate) fn check_host(&self, name: &str) -> Result<(), Limited> {
        let Some(limiter) = &self.host else {
            return Ok(());
        };
        self.housekeeping();
        limiter
            .check_key(&name.to_owned())
            .map_err(|not_until| self.limited(Limit::Host, &not_until))
    }

    fn limited(
        &self,
        limit: Limit,
        not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>,
    ) -> Limited {
        let wait = not_until.wait_time_from(self.clock.now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Limited {
            limit,
            retry_after: secs.max(1),
        }
    }

    fn housekeeping(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY
            == HOUSEKEEPING_EVERY - 1
        {
            if let Some(l) = &self.client {
                l.retain_recent();
                l.shrink_to_fit();
            }
            if let Some(l) = &self.host {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }

    /// Client buckets held now (for tests of the memory bound).
    #[cfg(test)]
    fn clients_tracked(&self) -> usize {
        self.client.as_ref().map_or(0, |l| l.len())
    }
}

/// IPv4 addresses as they are; IPv6 by their /64 (IPv4-mapped IPv6 as IPv4).
fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_client_over_its_burst_is_refused_with_a_retry_after_of_at_least_a_second() {
        let l = Limiters::new(RateLimits {
            per_client: Rate::new(1, 3),
            per_host: None,
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check_client(a).is_ok());
        }
        let refused = l.check_client(a).unwrap_err();
        assert_eq!(refused.limit, Limit::Client);
        assert!(refused.retry_after >= 1);
        // Another client is not affected.
        assert!(l.check_client("192.0.2.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn ipv6_clients_share_their_slash_64_and_mapped_ipv4_is_ipv4() {
        let l = Limiters::new(RateLimits {
            per_client: Rate::new(1, 2),
            per_host: None,
        });
        assert!(l.check_client("2001:db8::1".parse().unwrap()).is_ok());
        assert!(l.check_client("2001:db8::ffff:2".parse().unwrap()).is_ok());
        assert!(l.check_client("2001:db8::3".parse().unwrap()).is_err());
        assert!(l.check_client("2001:db8:0:1::1".parse().unwrap()).is_ok());
        assert_eq!(
            client_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn hosts_are_limited_by_name_independently_of_clients() {
        let l = Limiters::new(RateLimits {
            per_client: None,
            per_host: Rate::new(1, 1),
        });
        assert!(l.check_host("HOST01").is_ok());
        assert_eq!(l.check_host("HOST01").unwrap_err().limit, Limit::Host);
        assert!(l.check_host("HOST02").is_ok());
        // Disabled limits never refuse.
        for _ in 0..1000 {
            assert!(l.check_client("192.0.2.1".parse().unwrap()).is_ok());
        }
    }

    #[test]
    fn client_buckets_that_refilled_are_swept_so_memory_follows_recent_clients() {
        let l = Limiters::new(RateLimits {
            per_client: Rate::new(1_000_000, 1),
            per_host: None,
        });
        for i in 0..(2 * HOUSEKEEPING_EVERY) {
            let a = std::net::Ipv4Addr::from(0x0a00_0000 + u32::try_from(i).unwrap());
            let _ = l.check_client(IpAddr::V4(a));
        }
        // At a million per second every bucket is full again within microseconds: the sweeps
        // leave far fewer than the 8192 addresses seen.
        std::thread::sleep(std::time::Duration::from_millis(5));
        for _ in 0..HOUSEKEEPING_EVERY {
            let _ = l.check_client("192.0.2.9".parse().unwrap());
        }
        assert!(l.clients_tracked() < 100, "{}", l.clients_tracked());
    }
}
