//! The two backends of the admin verbs: the file store (`--store DIR`) and a running `hgs serve`
//! (`--server URL`). A verb decides what it means once (`admin/mod.rs`: arguments in, a request
//! out, the answer printed); a [`Registry`] only carries the request out. Both backends apply the
//! same library rules (`hgs_policy`): the file store here, the server in its handlers.

use std::path::PathBuf;

use anyhow::Context;
use hgs_cli::ekcheck::Installable;
use hgs_cli::store::{cert_key, RootSource, Store};
use hgs_policy::{BaselineProfile, PolicyStore};
use hgs_policy::{
    CiPolicyRegistration, HgsPolicy, Name, PolicyState, PolicyVersion, RegistrationOptions,
    TpmBaseline, TpmHost, TrustRole,
};

/// `hgs host add`: a host's EK and how to register it.
#[derive(Debug, Clone)]
pub struct HostRequest {
    /// The name.
    pub name: String,
    /// The EK public area (TPMT_PUBLIC or TPM2B_PUBLIC).
    pub ekpub: Vec<u8>,
    /// The EK certificate (DER), if any.
    pub certificate: Option<Vec<u8>>,
    /// Version and force.
    pub options: RegistrationOptions,
    /// Check the EK certificate at this time (UNIX seconds); the server uses its own clock.
    pub at: Option<i64>,
}

/// `hgs tpm-policy add`.
#[derive(Debug, Clone)]
pub struct BaselineRequest {
    /// The name.
    pub name: String,
    /// Policy version.
    pub version: PolicyVersion,
    /// PCRs compared.
    pub profile: BaselineProfile,
    /// The reference log.
    pub log: Vec<u8>,
    /// Register a reference host that fails validation.
    pub skip_validation: bool,
}

/// Where `hgs ci-policy add` takes the policy from.
#[derive(Debug, Clone)]
pub enum CiSource {
    /// The binary policy file.
    File(Vec<u8>),
    /// The policy a reference host measured into this log (and its file name, if several).
    Log {
        /// The reference log.
        log: Vec<u8>,
        /// The measured policy's file name.
        file_name: Option<String>,
    },
}

/// `hgs ci-policy add`.
#[derive(Debug, Clone)]
pub struct CiRequest {
    /// The name.
    pub name: String,
    /// Policy version.
    pub version: PolicyVersion,
    /// The policy.
    pub source: CiSource,
}

/// An installed certificate as `hgs roots list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedRoot {
    /// Anchor or intermediate.
    pub role: TrustRole,
    /// Vendor, if known.
    pub vendor: Option<String>,
    /// Subject.
    pub subject: String,
    /// SHA-256 of the DER, hex.
    pub fingerprint: String,
    /// The file it was installed from (`-` when the backend does not record it).
    pub source: String,
}

/// The `Hgs_*` states and the registered artifacts, as `hgs policy list` shows them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyListing {
    /// Every `Hgs_*` policy with its state.
    pub policies: Vec<(HgsPolicy, PolicyState)>,
    /// TPM baselines.
    pub baselines: Vec<TpmBaseline>,
    /// CI policies.
    pub ci_policies: Vec<CiPolicyRegistration>,
}

/// What an admin verb asks of its backend.
pub trait Registry {
    /// Registers a host (Add-HgsAttestationTpmHost).
    fn add_host(&mut self, request: &HostRequest) -> anyhow::Result<TpmHost>;
    /// The registered hosts, by name.
    fn hosts(&mut self) -> anyhow::Result<Vec<TpmHost>>;
    /// Removes a host.
    fn remove_host(&mut self, name: &Name) -> anyhow::Result<()>;
    /// Registers a TPM baseline (Add-HgsAttestationTpmPolicy).
    fn add_baseline(&mut self, request: &BaselineRequest) -> anyhow::Result<TpmBaseline>;
    /// Registers a CI policy (Add-HgsAttestationCIPolicy).
    fn add_ci_policy(&mut self, request: &CiRequest) -> anyhow::Result<CiPolicyRegistration>;
    /// Installs TPM vendor certificates; returns how many were new.
    fn install_roots(&mut self, found: &[Installable]) -> anyhow::Result<usize>;
    /// The installed certificates.
    fn roots(&mut self) -> anyhow::Result<Vec<ListedRoot>>;
    /// The `Hgs_*` states, baselines and CI policies.
    fn policies(&mut self) -> anyhow::Result<PolicyListing>;
    /// Enables or disables an `Hgs_*` policy; returns the state now stored.
    fn set_policy(&mut self, policy: HgsPolicy, enable: bool) -> anyhow::Result<PolicyState>;
    /// Removes a baseline or CI policy by name.
    fn remove_policy(&mut self, name: &Name) -> anyhow::Result<()>;
    /// Everything registered, as one document (`hgs store copy`).
    fn export(&mut self) -> anyhow::Result<PolicyStore>;
    /// Adds every registration of `from` (roots first, then policies, baselines, CI policies,
    /// hosts), refusing names already taken; returns how many records were added.
    fn import(&mut self, from: &PolicyStore) -> anyhow::Result<usize>;
    /// Where this backend is, for messages.
    fn describe(&self) -> String;
}

/// The file store backend.
#[derive(Debug)]
pub struct FileRegistry {
    dir: PathBuf,
    store: Store,
}

impl FileRegistry {
    /// The store at `dir` (created on first write).
    pub fn open(dir: PathBuf) -> anyhow::Result<FileRegistry> {
        let store = Store::open(&dir)?;
        Ok(FileRegistry { dir, store })
    }

    fn update<T>(
        &self,
        f: impl FnOnce(&mut PolicyStore) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        self.store.update(|data| f(&mut data.registrations))
    }

    fn read(&self) -> anyhow::Result<PolicyStore> {
        Ok(self.store.read()?.registrations)
    }
}

impl Registry for FileRegistry {
    fn add_host(&mut self, r: &HostRequest) -> anyhow::Result<TpmHost> {
        let at = match r.at {
            Some(at) => at,
            None => super::unix_time(None)?,
        };
        self.update(|ps| {
            let check = hgs_cli::ekcheck::check_ek_certificate(
                r.certificate.as_deref(),
                &r.ekpub,
                &ps.trusted_certificates,
                hgs_ekcert::UnixTime(at),
            );
            let h = ps
                .add_host(
                    &r.name,
                    &r.ekpub,
                    r.certificate.as_deref(),
                    check,
                    r.options,
                )
                .map_err(super::with_advice)?;
            Ok(h.clone())
        })
    }

    fn hosts(&mut self) -> anyhow::Result<Vec<TpmHost>> {
        Ok(self.read()?.hosts.into_values().collect())
    }

    fn remove_host(&mut self, name: &Name) -> anyhow::Result<()> {
        self.update(|ps| Ok(ps.remove_host(name).map(|_| ())?))
    }

    fn add_baseline(&mut self, r: &BaselineRequest) -> anyhow::Result<TpmBaseline> {
        let b = TpmBaseline::from_reference_log(
            &r.name,
            r.version,
            r.profile,
            &r.log,
            r.skip_validation,
        )?;
        self.update(|ps| Ok(ps.add_baseline(b.clone())?))?;
        Ok(b)
    }

    fn add_ci_policy(&mut self, r: &CiRequest) -> anyhow::Result<CiPolicyRegistration> {
        let reg = match &r.source {
            CiSource::File(bytes) => {
                CiPolicyRegistration::from_policy_file(&r.name, r.version, bytes)?
            }
            CiSource::Log { log, file_name } => CiPolicyRegistration::from_reference_log(
                &r.name,
                r.version,
                log,
                file_name.as_deref(),
            )?,
        };
        self.update(|ps| Ok(ps.add_ci_policy(reg.clone())?))?;
        Ok(reg)
    }

    fn install_roots(&mut self, found: &[Installable]) -> anyhow::Result<usize> {
        self.store.update(|data| {
            let ps = &mut data.registrations;
            let mut have: std::collections::HashSet<Vec<u8>> = ps
                .trusted_certificates
                .iter()
                .map(|t| t.der.clone())
                .collect();
            let mut added = 0usize;
            for i in found {
                if have.insert(i.certificate.der.clone()) {
                    ps.trusted_certificates.push(i.certificate.clone());
                    added += 1;
                }
                data.root_sources.insert(
                    cert_key(&i.certificate.der),
                    RootSource {
                        file: i.source.clone(),
                    },
                );
            }
            Ok::<_, anyhow::Error>(added)
        })
    }

    fn roots(&mut self) -> anyhow::Result<Vec<ListedRoot>> {
        let data = self.store.read()?;
        Ok(data
            .registrations
            .trusted_certificates
            .iter()
            .map(|c| ListedRoot {
                role: c.role,
                vendor: c.vendor.clone(),
                subject: c.subject.clone(),
                fingerprint: cert_key(&c.der),
                source: data
                    .root_sources
                    .get(&cert_key(&c.der))
                    .map_or_else(|| "-".into(), |s| s.file.clone()),
            })
            .collect())
    }

    fn policies(&mut self) -> anyhow::Result<PolicyListing> {
        let ps = self.read()?;
        Ok(PolicyListing {
            policies: HgsPolicy::ALL
                .into_iter()
                .map(|p| (p, ps.settings.state(p)))
                .collect(),
            baselines: ps.baselines.into_values().collect(),
            ci_policies: ps.ci_policies.into_values().collect(),
        })
    }

    fn set_policy(&mut self, policy: HgsPolicy, enable: bool) -> anyhow::Result<PolicyState> {
        self.update(|ps| {
            if enable {
                ps.settings.enable(policy)?;
            } else {
                ps.settings.disable(policy)?;
            }
            Ok(ps.settings.state(policy))
        })
    }

    fn remove_policy(&mut self, name: &Name) -> anyhow::Result<()> {
        self.update(|ps| Ok(ps.remove_policy(name)?))
    }

    fn export(&mut self) -> anyhow::Result<PolicyStore> {
        self.read()
    }

    fn import(&mut self, from: &PolicyStore) -> anyhow::Result<usize> {
        self.store.update(|data| {
            let ps = &mut data.registrations;
            let mut added = 0usize;
            for c in &from.trusted_certificates {
                if !ps.trusted_certificates.iter().any(|t| t.der == c.der) {
                    ps.trusted_certificates.push(c.clone());
                    added += 1;
                }
            }
            for p in HgsPolicy::ALL {
                let want = from.settings.state(p);
                if want != ps.settings.state(p) {
                    match want {
                        PolicyState::Enabled => ps.settings.enable(p)?,
                        PolicyState::Disabled => ps.settings.disable(p)?,
                        PolicyState::Locked => {}
                    }
                }
            }
            for b in from.baselines.values() {
                ps.add_baseline(b.clone())?;
                added += 1;
            }
            for c in from.ci_policies.values() {
                ps.add_ci_policy(c.clone())?;
                added += 1;
            }
            for h in from.hosts.values() {
                import_host(ps, h)?;
                added += 1;
            }
            Ok::<_, anyhow::Error>(added)
        })
    }

    fn describe(&self) -> String {
        format!("store {}", self.dir.display())
    }
}

/// Adds an exported host record as it was registered (its EK check is not redone: it was made
/// when it was registered), after the same duplicate and consistency checks as a registration.
fn import_host(ps: &mut PolicyStore, h: &TpmHost) -> anyhow::Result<()> {
    let fingerprint = hgs_policy::ek_fingerprint(&h.ekpub)?;
    anyhow::ensure!(
        fingerprint == h.ek_fingerprint,
        "host {}: the record's EK fingerprint is not its EK's",
        h.name
    );
    if ps.hosts.contains_key(&h.name) {
        return Err(hgs_policy::HostError::DuplicateName(h.name.to_string()).into());
    }
    if let Some(other) = ps.hosts.values().find(|o| o.ek_fingerprint == fingerprint) {
        return Err(hgs_policy::HostError::DuplicateEkpub {
            name: h.name.to_string(),
            existing: other.name.to_string(),
        }
        .into());
    }
    ps.hosts.insert(h.name.clone(), h.clone());
    Ok(())
}

/// The name argument of a verb, checked by the naming rule (the same error on both backends).
pub fn name_arg(name: &str) -> anyhow::Result<Name> {
    Name::new(name).with_context(|| "invalid name".to_string())
}
