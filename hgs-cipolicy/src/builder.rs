//! Encoder for the binary policy format (feature `builder`): writes a [`BinaryPolicy`] back to
//! bytes. Used by the round-trip proptests and by other crates' end-to-end tests to make policies.

use crate::policy::{BinaryPolicy, CertRoot, FileRuleKind, SettingValue, SignerGroup};

#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn pad(&mut self, len: usize) {
        self.0.extend(std::iter::repeat_n(0u8, (4 - len % 4) % 4));
    }
    fn blob(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
        self.pad(b.len());
    }
    fn string(&mut self, s: &str) {
        let b: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        self.u32(b.len() as u32);
        self.0.extend_from_slice(&b);
        self.pad(b.len());
        self.u32(0);
    }
    fn list(&mut self, l: &[u32]) {
        self.u32(l.len() as u32);
        for v in l {
            self.u32(*v);
        }
    }
    fn group(&mut self, g: &SignerGroup) {
        for list in [&g.allowed, &g.denied] {
            self.u32(list.len() as u32);
            for (s, ex) in list {
                self.u32(*s);
                self.list(ex);
            }
        }
        self.list(&g.file_rules);
    }
}

/// Encodes `p` (format version 1–8). Optional per-version fields that are `None` are written as
/// zero / empty.
pub fn encode(p: &BinaryPolicy<'_>) -> Vec<u8> {
    let mut w = W::default();
    w.u32(p.format_version);
    w.0.extend_from_slice(&p.policy_type_id.0);
    w.0.extend_from_slice(&p.platform_id.0);
    w.u32(p.option_flags);
    w.u32(p.ekus.len() as u32);
    w.u32(p.file_rules.len() as u32);
    w.u32(p.signers.len() as u32);
    w.u32(p.scenarios.len() as u32);
    w.u64(p.version.0);
    w.u32(0x40);
    for e in &p.ekus {
        w.blob(e);
    }
    for r in &p.file_rules {
        w.u32(match r.kind {
            FileRuleKind::Deny => 0,
            FileRuleKind::Allow => 1,
            FileRuleKind::FileAttrib => 2,
        });
        w.string(&r.file_name);
        w.u64(r.minimum_version.0);
        w.blob(r.hash);
    }
    for s in &p.signers {
        match &s.root {
            CertRoot::Tbs(b) => {
                w.u32(0);
                w.blob(b);
            }
            CertRoot::WellKnown(v) => {
                w.u32(1);
                w.u32(*v);
            }
        }
        w.list(&s.ekus);
        w.string(&s.issuer);
        w.string(&s.publisher);
        w.string(&s.oem_id);
        w.list(&s.file_attribs);
    }
    w.list(&p.update_policy_signers);
    w.list(&p.ci_signers);
    for sc in &p.scenarios {
        w.u32(sc.value);
        w.list(&sc.inherited);
        w.u32(sc.minimum_hash_algorithm);
        for g in &sc.groups {
            w.group(g);
        }
    }
    w.u32(p.hvci_options);
    w.u32(p.settings.len() as u32);
    for s in &p.settings {
        w.string(&s.provider);
        w.string(&s.key);
        w.string(&s.value_name);
        match &s.value {
            SettingValue::Bool(b) => {
                w.u32(0);
                w.u32(u32::from(*b));
            }
            SettingValue::DWord(v) => {
                w.u32(1);
                w.u32(*v);
            }
            SettingValue::Binary(b) => {
                w.u32(2);
                w.blob(b);
            }
            SettingValue::String(v) => {
                w.u32(3);
                w.string(v);
            }
        }
    }
    for tag in 3..=p.format_version {
        w.u32(tag);
        match tag {
            3 => {
                for r in &p.file_rules {
                    w.u64(r.maximum_version.map_or(0, |v| v.0));
                    w.u32(r.app_ids.len() as u32);
                    for a in &r.app_ids {
                        w.string(a);
                    }
                }
                for s in &p.signers {
                    w.u64(s.sign_time_after.unwrap_or(0));
                }
            }
            4 => {
                for r in &p.file_rules {
                    let empty = [String::new(), String::new(), String::new()];
                    for s in r.metadata.as_ref().unwrap_or(&empty) {
                        w.string(s);
                    }
                }
            }
            5 => {
                for r in &p.file_rules {
                    let (pfn, v) = r.package.clone().unwrap_or_default();
                    w.string(&pfn);
                    w.u64(v.0);
                }
            }
            6 => {
                w.0.extend_from_slice(&p.policy_id.unwrap_or(p.policy_type_id).0);
                w.0.extend_from_slice(&p.base_policy_id.unwrap_or(p.policy_type_id).0);
                w.list(&p.supplemental_signers);
            }
            7 => {
                for r in &p.file_rules {
                    w.string(r.file_path.as_deref().unwrap_or(""));
                }
            }
            8 => w.u32(0), // no AppSettings
            _ => {}
        }
    }
    w.u32(p.format_version + 1);
    w.0
}
