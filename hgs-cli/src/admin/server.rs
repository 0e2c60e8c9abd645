//! The `--server URL` backend: the admin API of a running `hgs serve` (HTTPS, bearer admin
//! token). The server applies the library's rules itself; this side sends the artifacts and
//! turns the service's typed answers back into the errors the file store gives.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use hgs_cli::ekcheck::Installable;
use hgs_policy::{
    CiPolicyRegistration, HgsPolicy, Name, PolicyState, PolicyStore, TpmBaseline, TpmHost,
};
use hgs_server::{
    BaselineRegistration, CiPolicyRequest, ErrorBody, HostRegistration, ImportBody, Imported,
    InstalledRoot, PolicyStateEntry, RootInstall,
};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{Method, StatusCode};

use super::backend::{
    BaselineRequest, CiRequest, CiSource, HostRequest, ListedRoot, PolicyListing, Registry,
};

/// A request or an evaluation is milliseconds; a large import a few seconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// An import request's records stay under this many bytes of JSON (the service refuses bodies
/// over `hgs_server::MAX_BODY_BYTES`, 1 MiB).
const IMPORT_BATCH_BYTES: usize = 512 * 1024;

/// The admin API of one server.
#[derive(Debug)]
pub struct ServerRegistry {
    http: Client,
    base: String,
    token: String,
}

/// The service's refusal, as data (status, kind, message).
#[derive(Debug, thiserror::Error)]
#[error("{message} (server: {status} {kind})")]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// The `error` kind (`not_found`, `duplicate`, `invalid_name`, ...).
    pub kind: String,
    /// The service's message.
    pub message: String,
}

/// An HTTPS-only client of `server` (`https://host:port`), trusting `server_cert` (PEM) alone
/// when given, else the web PKI roots; each request times out after `timeout`.
pub(crate) fn https_client(
    server: &str,
    server_cert: Option<&Path>,
    timeout: Duration,
) -> anyhow::Result<Client> {
    if !server.starts_with("https://") {
        bail!("--server {server:?}: HTTPS only (https://host:port)");
    }
    let mut builder = Client::builder()
        .use_rustls_tls()
        .https_only(true)
        .timeout(timeout);
    if let Some(path) = server_cert {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read --server-cert {}", path.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .with_context(|| format!("{}: not a PEM certificate", path.display()))?;
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(cert);
    }
    builder.build().context("cannot set up the HTTPS client")
}

impl ServerRegistry {
    /// A client of `server` (`https://host:port`) trusting `server_cert` (PEM) when given, else
    /// the web PKI roots, authenticated with the admin `token`.
    pub fn new(server: &str, server_cert: Option<&Path>, token: String) -> anyhow::Result<Self> {
        Ok(ServerRegistry {
            http: https_client(server, server_cert, REQUEST_TIMEOUT)?,
            base: server.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends, and turns a non-2xx answer into [`Refused`].
    fn send(&self, request: RequestBuilder, what: &str) -> anyhow::Result<Response> {
        let response = request
            .send()
            .with_context(|| format!("cannot reach the server at {} ({what})", self.base))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let refused = match response.json::<ErrorBody>() {
            Ok(e) => Refused {
                status: status.as_u16(),
                kind: e.error,
                message: e.message,
            },
            Err(_) => Refused {
                status: status.as_u16(),
                kind: "http".into(),
                message: status.to_string(),
            },
        };
        Err(refused.into())
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: RequestBuilder,
        what: &str,
    ) -> anyhow::Result<T> {
        self.send(request, what)?
            .json()
            .with_context(|| format!("the server's answer to {what} is not the expected JSON"))
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.json(self.request(Method::GET, path), path)
    }

    /// `DELETE`, with 404 as `Ok(false)`.
    fn delete(&self, path: &str) -> anyhow::Result<bool> {
        match self.send(self.request(Method::DELETE, path), path) {
            Ok(_) => Ok(true),
            Err(e) => match e.downcast_ref::<Refused>() {
                Some(r) if r.status == StatusCode::NOT_FOUND.as_u16() => Ok(false),
                _ => Err(e),
            },
        }
    }
}

/// The service's 409 `duplicate` as the file store's own error for a name taken.
fn duplicate_as_store_error(e: anyhow::Error, kind: &'static str, name: &Name) -> anyhow::Error {
    match e.downcast_ref::<Refused>() {
        Some(r) if r.kind == "duplicate" => hgs_policy::StoreError::Duplicate {
            kind,
            name: name.to_string(),
        }
        .into(),
        _ => e,
    }
}

/// A name in a URL path: names are letters, digits, `-`, `_`, `.` ([`Name`]), nothing to escape.
fn segment(name: &Name) -> &str {
    name.as_str()
}

impl Registry for ServerRegistry {
    fn add_host(&mut self, r: &HostRequest) -> anyhow::Result<TpmHost> {
        if r.at.is_some() {
            bail!(
                "--at applies to a file store; the server checks EK certificates at its own time"
            );
        }
        let name = Name::new(&r.name).map_err(hgs_policy::HostError::from)?;
        let body = HostRegistration {
            ekpub: r.ekpub.clone(),
            ek_certificate: r.certificate.as_deref().map(hgs_tpm::hex::encode),
            policy_version: r.options.version,
            force: r.options.force,
        };
        self.json(
            self.request(Method::PUT, &format!("/v1/hosts/{}", segment(&name)))
                .json(&body),
            "host registration",
        )
    }

    fn hosts(&mut self) -> anyhow::Result<Vec<TpmHost>> {
        let mut hosts: Vec<TpmHost> = self.get("/v1/hosts")?;
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(hosts)
    }

    fn remove_host(&mut self, name: &Name) -> anyhow::Result<()> {
        if self.delete(&format!("/v1/hosts/{}", segment(name)))? {
            Ok(())
        } else {
            Err(hgs_policy::StoreError::NotFound {
                kind: "host",
                name: name.to_string(),
            }
            .into())
        }
    }

    fn add_baseline(&mut self, r: &BaselineRequest) -> anyhow::Result<TpmBaseline> {
        let name = Name::new(&r.name).map_err(hgs_policy::BaselineError::from)?;
        let body = BaselineRegistration {
            reference_log: r.log.clone(),
            policy_version: r.version,
            profile: r.profile,
            skip_validation: r.skip_validation,
        };
        self.json(
            self.request(Method::PUT, &format!("/v1/baselines/{}", segment(&name)))
                .json(&body),
            "baseline registration",
        )
        .map_err(|e| duplicate_as_store_error(e, "baseline", &name))
    }

    fn add_ci_policy(&mut self, r: &CiRequest) -> anyhow::Result<CiPolicyRegistration> {
        let name = Name::new(&r.name).map_err(hgs_policy::CiPolicyError::from)?;
        let (reference_log, policy_file, file_name) = match &r.source {
            CiSource::File(bytes) => (None, Some(bytes.clone()), None),
            CiSource::Log { log, file_name } => (Some(log.clone()), None, file_name.clone()),
        };
        let body = CiPolicyRequest {
            reference_log,
            policy_file,
            policy_version: r.version,
            file_name,
        };
        self.json(
            self.request(Method::PUT, &format!("/v1/ci-policies/{}", segment(&name)))
                .json(&body),
            "CI policy registration",
        )
        .map_err(|e| duplicate_as_store_error(e, "CI policy", &name))
    }

    fn install_roots(&mut self, found: &[Installable]) -> anyhow::Result<usize> {
        let mut added = 0;
        for i in found {
            let body = RootInstall {
                role: i.certificate.role,
                der: i.certificate.der.clone(),
                vendor: i.certificate.vendor.clone(),
            };
            match self.send(
                self.request(Method::POST, "/v1/roots").json(&body),
                "certificate installation",
            ) {
                Ok(_) => added += 1,
                Err(e) => match e.downcast_ref::<Refused>() {
                    // Installed already: as on the file store, not an error.
                    Some(r) if r.status == StatusCode::CONFLICT.as_u16() => {}
                    _ => return Err(e.context(format!("installing {}", i.source))),
                },
            }
        }
        Ok(added)
    }

    fn roots(&mut self) -> anyhow::Result<Vec<ListedRoot>> {
        let roots: Vec<InstalledRoot> = self.get("/v1/roots")?;
        Ok(roots
            .into_iter()
            .map(|r| ListedRoot {
                role: r.role,
                vendor: r.vendor,
                subject: r.subject,
                fingerprint: r.fingerprint,
                source: "-".into(),
            })
            .collect())
    }

    fn policies(&mut self) -> anyhow::Result<PolicyListing> {
        let states: Vec<PolicyStateEntry> = self.get("/v1/policies")?;
        let mut baselines: Vec<TpmBaseline> = self.get("/v1/baselines")?;
        let mut ci_policies: Vec<CiPolicyRegistration> = self.get("/v1/ci-policies")?;
        baselines.sort_by(|a, b| a.name.cmp(&b.name));
        ci_policies.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(PolicyListing {
            policies: states.into_iter().map(|e| (e.policy, e.state)).collect(),
            baselines,
            ci_policies,
        })
    }

    fn set_policy(&mut self, policy: HgsPolicy, enable: bool) -> anyhow::Result<PolicyState> {
        let action = if enable { "enable" } else { "disable" };
        let path = format!("/v1/policies/{}/{action}", policy.name());
        match self.json::<PolicyStateEntry>(self.request(Method::POST, &path), &path) {
            Ok(e) => Ok(e.state),
            Err(e) => match e.downcast_ref::<Refused>() {
                // The file store's own error for a locked policy.
                Some(r) if r.status == StatusCode::CONFLICT.as_u16() => {
                    Err(hgs_policy::PolicyStateError::Locked(policy).into())
                }
                _ => Err(e),
            },
        }
    }

    fn remove_policy(&mut self, name: &Name) -> anyhow::Result<()> {
        if self.delete(&format!("/v1/baselines/{}", segment(name)))?
            || self.delete(&format!("/v1/ci-policies/{}", segment(name)))?
        {
            Ok(())
        } else {
            Err(hgs_policy::StoreError::NotFound {
                kind: "baseline or CI policy",
                name: name.to_string(),
            }
            .into())
        }
    }

    fn export(&mut self) -> anyhow::Result<PolicyStore> {
        let mut out = PolicyStore::default();
        for h in self.hosts()? {
            out.hosts.insert(h.name.clone(), h);
        }
        let listing = self.policies()?;
        for b in listing.baselines {
            out.baselines.insert(b.name.clone(), b);
        }
        for c in listing.ci_policies {
            out.ci_policies.insert(c.name.clone(), c);
        }
        for (p, state) in listing.policies {
            match state {
                PolicyState::Enabled => out.settings.enable(p)?,
                PolicyState::Disabled => out.settings.disable(p)?,
                PolicyState::Locked => {}
            }
        }
        let roots: Vec<InstalledRoot> = self.get("/v1/roots")?;
        out.trusted_certificates = roots
            .into_iter()
            .map(|r| hgs_policy::TrustedCertificate {
                role: r.role,
                vendor: r.vendor,
                subject: r.subject,
                der: r.der,
            })
            .collect();
        Ok(out)
    }

    fn import(&mut self, from: &PolicyStore) -> anyhow::Result<usize> {
        // Conflicts first, before anything is written (as the file store refuses the whole copy).
        let have = self.export()?;
        for name in from.hosts.keys() {
            if have.hosts.contains_key(name) {
                return Err(hgs_policy::HostError::DuplicateName(name.to_string()).into());
            }
        }
        for h in from.hosts.values() {
            if let Some(other) = have
                .hosts
                .values()
                .find(|o| o.ek_fingerprint == h.ek_fingerprint)
            {
                return Err(hgs_policy::HostError::DuplicateEkpub {
                    name: h.name.to_string(),
                    existing: other.name.to_string(),
                }
                .into());
            }
        }
        for (kind, taken) in [
            (
                "baseline",
                from.baselines
                    .keys()
                    .find(|n| have.baselines.contains_key(*n)),
            ),
            (
                "CI policy",
                from.ci_policies
                    .keys()
                    .find(|n| have.ci_policies.contains_key(*n)),
            ),
        ] {
            if let Some(name) = taken {
                return Err(hgs_policy::StoreError::Duplicate {
                    kind,
                    name: name.to_string(),
                }
                .into());
            }
        }
        let installable: Vec<Installable> = from
            .trusted_certificates
            .iter()
            .map(|c| Installable {
                certificate: c.clone(),
                source: "copy".into(),
            })
            .collect();
        let mut added = self.install_roots(&installable)?;
        for p in HgsPolicy::ALL {
            let want = from.settings.state(p);
            if want != PolicyState::Locked && want != have.settings.state(p) {
                self.set_policy(p, want == PolicyState::Enabled)?;
            }
        }
        // Records in batches under the body limit.
        let mut batch = ImportBody::default();
        let mut size = 0usize;
        let flush = |batch: &mut ImportBody, size: &mut usize| -> anyhow::Result<usize> {
            if batch.hosts.is_empty() && batch.baselines.is_empty() && batch.ci_policies.is_empty()
            {
                return Ok(0);
            }
            let answer: Imported = self.json(
                self.request(Method::POST, "/v1/import").json(&*batch),
                "import",
            )?;
            *batch = ImportBody::default();
            *size = 0;
            Ok(answer.added)
        };
        for b in from.baselines.values() {
            let n = serde_json::to_vec(b)?.len();
            if size + n > IMPORT_BATCH_BYTES {
                added += flush(&mut batch, &mut size)?;
            }
            batch.baselines.push(b.clone());
            size += n;
        }
        for c in from.ci_policies.values() {
            let n = serde_json::to_vec(c)?.len();
            if size + n > IMPORT_BATCH_BYTES {
                added += flush(&mut batch, &mut size)?;
            }
            batch.ci_policies.push(c.clone());
            size += n;
        }
        for h in from.hosts.values() {
            let n = serde_json::to_vec(h)?.len();
            if size + n > IMPORT_BATCH_BYTES {
                added += flush(&mut batch, &mut size)?;
            }
            batch.hosts.push(h.clone());
            size += n;
        }
        added += flush(&mut batch, &mut size)?;
        Ok(added)
    }

    fn describe(&self) -> String {
        format!("server {}", self.base)
    }
}
