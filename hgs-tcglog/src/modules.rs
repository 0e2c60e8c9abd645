//! The boot modules Windows loaded (SIPA `LOADEDMODULE_AGGREGATION` records), merged per
//! Authenticode digest and stored compactly.
//!
//! A full-boot Windows log names 100–200 modules, each with a path, a digest and a signer. Kept as
//! one `String` and one `Vec` per field they would cost four allocations per module — more than
//! every other claim together. [`LoadedModules`] keeps all text in one buffer and all digests in
//! another, so a log's modules cost a fixed handful of allocations whatever their number; each
//! module is read through a borrowed [`ModuleRef`], and [`LoadedModule`] is its owned form.

use core::fmt;

use crate::uefi::push_utf16_trimmed;

/// One boot module Windows loaded (a LOADEDMODULE_AGGREGATION), owned.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LoadedModule {
    /// File path.
    pub file_path: String,
    /// Authenticode digest.
    #[serde(with = "hgs_tpm::hex::serde")]
    pub authenticode_hash: Vec<u8>,
    /// CAPI hash algorithm id (CALG_*).
    pub hash_alg: Option<u32>,
    /// Image size.
    pub image_size: Option<u64>,
    /// Image base.
    pub image_base: Option<u64>,
    /// Signing authority issuer.
    pub issuer: Option<String>,
    /// Signing authority publisher.
    pub publisher: Option<String>,
    /// Whether Windows validated the image.
    pub validated: Option<bool>,
    /// PCR.
    pub pcr: u32,
    /// Event index.
    pub event_index: u32,
}

impl LoadedModule {
    /// This module as a borrowed [`ModuleRef`].
    pub fn module_ref(&self) -> ModuleRef<'_> {
        ModuleRef {
            file_path: &self.file_path,
            authenticode_hash: &self.authenticode_hash,
            hash_alg: self.hash_alg,
            image_size: self.image_size,
            image_base: self.image_base,
            issuer: self.issuer.as_deref(),
            publisher: self.publisher.as_deref(),
            validated: self.validated,
            pcr: self.pcr,
            event_index: self.event_index,
        }
    }
}

/// One module of a [`LoadedModules`], borrowed from it. Serializes exactly as [`LoadedModule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ModuleRef<'a> {
    /// File path.
    pub file_path: &'a str,
    /// Authenticode digest.
    #[serde(serialize_with = "hgs_tpm::hex::serde::serialize")]
    pub authenticode_hash: &'a [u8],
    /// CAPI hash algorithm id (CALG_*).
    pub hash_alg: Option<u32>,
    /// Image size.
    pub image_size: Option<u64>,
    /// Image base.
    pub image_base: Option<u64>,
    /// Signing authority issuer.
    pub issuer: Option<&'a str>,
    /// Signing authority publisher.
    pub publisher: Option<&'a str>,
    /// Whether Windows validated the image.
    pub validated: Option<bool>,
    /// PCR.
    pub pcr: u32,
    /// Event index.
    pub event_index: u32,
}

impl ModuleRef<'_> {
    /// The owned form.
    pub fn to_owned_module(&self) -> LoadedModule {
        LoadedModule {
            file_path: self.file_path.to_owned(),
            authenticode_hash: self.authenticode_hash.to_vec(),
            hash_alg: self.hash_alg,
            image_size: self.image_size,
            image_base: self.image_base,
            issuer: self.issuer.map(str::to_owned),
            publisher: self.publisher.map(str::to_owned),
            validated: self.validated,
            pcr: self.pcr,
            event_index: self.event_index,
        }
    }
}

/// A byte range of [`LoadedModules`]' text or digest buffer.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: usize,
    end: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    file_path: Span,
    authenticode_hash: Span,
    issuer: Option<Span>,
    publisher: Option<Span>,
    hash_alg: Option<u32>,
    image_size: Option<u64>,
    image_base: Option<u64>,
    validated: Option<bool>,
    pcr: u32,
    event_index: u32,
}

/// The boot modules of one log, in the order of their first record. Compares, serializes and
/// deserializes as a list of [`LoadedModule`].
#[derive(Clone, Default)]
pub struct LoadedModules {
    text: String,
    hashes: Vec<u8>,
    entries: Vec<Entry>,
}

impl LoadedModules {
    /// Number of modules.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `i`-th module.
    pub fn get(&self, i: usize) -> Option<ModuleRef<'_>> {
        self.entries.get(i).map(|e| self.module(e))
    }

    /// The modules in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ModuleRef<'_>> + '_ {
        self.entries.iter().map(|e| self.module(e))
    }

    fn module(&self, e: &Entry) -> ModuleRef<'_> {
        // Spans are made by `build` at char boundaries of `text`; `get` keeps a bad one from
        // panicking all the same.
        let text = |s: Span| self.text.get(s.start..s.end).unwrap_or_default();
        ModuleRef {
            file_path: text(e.file_path),
            authenticode_hash: self
                .hashes
                .get(e.authenticode_hash.start..e.authenticode_hash.end)
                .unwrap_or_default(),
            hash_alg: e.hash_alg,
            image_size: e.image_size,
            image_base: e.image_base,
            issuer: e.issuer.map(text),
            publisher: e.publisher.map(text),
            validated: e.validated,
            pcr: e.pcr,
            event_index: e.event_index,
        }
    }
}

impl fmt::Debug for LoadedModules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for LoadedModules {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for LoadedModules {}

impl<'a> FromIterator<ModuleRef<'a>> for LoadedModules {
    fn from_iter<I: IntoIterator<Item = ModuleRef<'a>>>(iter: I) -> Self {
        let records: Vec<RawModule<'a>> = iter.into_iter().map(RawModule::from).collect();
        build(&records)
    }
}

impl serde::Serialize for LoadedModules {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for LoadedModules {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let owned = Vec::<LoadedModule>::deserialize(d)?;
        Ok(owned.iter().map(LoadedModule::module_ref).collect())
    }
}

/// A module's text field before it is stored: UTF-16LE straight from a SIPA record (decoded
/// only if the module is kept), or text already decoded.
#[derive(Clone, Copy)]
pub(crate) enum Text<'a> {
    /// UTF-16LE bytes (trailing NUL units are dropped when decoded).
    Utf16(&'a [u8]),
    /// Decoded text.
    Utf8(&'a str),
}

impl Text<'_> {
    /// Whether it decodes to the empty string.
    fn is_empty(self) -> bool {
        match self {
            Text::Utf16(b) => b.chunks_exact(2).all(|u| u == [0, 0]),
            Text::Utf8(s) => s.is_empty(),
        }
    }

    /// UTF-8 bytes it decodes to, for reserving (exact for ASCII).
    fn len_hint(self) -> usize {
        match self {
            Text::Utf16(b) => b.len() / 2,
            Text::Utf8(s) => s.len(),
        }
    }

    /// Appends the decoded text to `out`; only whole UTF-8 sequences are written.
    fn append_to(self, out: &mut Vec<u8>) {
        match self {
            Text::Utf16(b) => push_utf16_trimmed(out, b),
            Text::Utf8(s) => out.extend_from_slice(s.as_bytes()),
        }
    }
}

impl<'a> From<ModuleRef<'a>> for RawModule<'a> {
    fn from(m: ModuleRef<'a>) -> Self {
        RawModule {
            file_path: Some(Text::Utf8(m.file_path)),
            authenticode_hash: m.authenticode_hash,
            hash_alg: m.hash_alg,
            image_size: m.image_size,
            image_base: m.image_base,
            issuer: m.issuer.map(Text::Utf8),
            publisher: m.publisher.map(Text::Utf8),
            validated: m.validated,
            pcr: m.pcr,
            event_index: m.event_index,
            merged: false,
        }
    }
}

/// A module as read from its SIPA records (or given as a [`ModuleRef`]): text fields stay
/// undecoded UTF-16 slices of the event data until the module is kept (a module Windows logs
/// twice is decoded once).
#[derive(Default, Clone, Copy)]
pub(crate) struct RawModule<'a> {
    pub(crate) file_path: Option<Text<'a>>,
    pub(crate) authenticode_hash: &'a [u8],
    pub(crate) hash_alg: Option<u32>,
    pub(crate) image_size: Option<u64>,
    pub(crate) image_base: Option<u64>,
    pub(crate) issuer: Option<Text<'a>>,
    pub(crate) publisher: Option<Text<'a>>,
    pub(crate) validated: Option<bool>,
    pub(crate) pcr: u32,
    pub(crate) event_index: u32,
    /// Merged into an earlier record of the same Authenticode digest.
    pub(crate) merged: bool,
}

/// Windows records a module on PCR 12 (short form: Authenticode digest and image base) and on
/// PCR 13 (full form: path, size, signer, ...). Records with the same Authenticode digest are
/// merged, keyed by that digest as go-attestation does: the first record stays the reference and
/// each field it lacks comes from the earliest later record that has it. Records without a digest
/// are never merged. Grouping is a sort (by digest prefix and position, then by whole digest within
/// a shared prefix) — O(n log n) whatever the digests, no hashing — and text is decoded once, for
/// kept modules only, into the shared buffer.
pub(crate) fn merge(mut records: Vec<RawModule<'_>>) -> LoadedModules {
    // Group equal digests: sort positions by an 8-byte prefix of the digest read as an integer
    // (digests almost always differ there), then by position; only a run sharing one prefix is
    // sorted again by the whole digest. Any order that keeps equal digests together, earliest
    // first, will do.
    let prefix = |h: &[u8]| {
        let mut p = [0u8; 8];
        for (d, s) in p.iter_mut().zip(h) {
            *d = *s;
        }
        u64::from_be_bytes(p)
    };
    let mut order: Vec<(u64, usize)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (prefix(r.authenticode_hash), i))
        .collect();
    order.sort_unstable();
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && order[j].0 == order[i].0 {
            j += 1;
        }
        let run = &mut order[i..j];
        if run.len() > 1 {
            run.sort_unstable_by(|a, b| {
                records[a.1]
                    .authenticode_hash
                    .cmp(records[b.1].authenticode_hash)
                    .then(a.1.cmp(&b.1))
            });
            merge_run(&mut records, run);
        }
        i = j;
    }
    build(&records)
}

/// Stores the records not merged away, in order: all text in one buffer, all digests in another.
fn build(records: &[RawModule<'_>]) -> LoadedModules {
    let kept = || records.iter().filter(|m| !m.merged);
    let hint = |t: Option<Text<'_>>| t.map_or(0, Text::len_hint);
    // The text is built as UTF-8 bytes and checked once at the end (a `String` cannot take
    // bytes without a check, and a check per field costs more than one over the whole buffer).
    let mut text: Vec<u8> = Vec::with_capacity(
        kept()
            .map(|m| hint(m.file_path) + hint(m.issuer) + hint(m.publisher))
            .sum(),
    );
    let mut hashes = Vec::with_capacity(kept().map(|m| m.authenticode_hash.len()).sum());
    let mut entries = Vec::with_capacity(kept().count());
    let mut span = |t: Text<'_>| {
        let start = text.len();
        t.append_to(&mut text);
        Span {
            start,
            end: text.len(),
        }
    };
    for m in kept() {
        let start = hashes.len();
        hashes.extend_from_slice(m.authenticode_hash);
        entries.push(Entry {
            file_path: m.file_path.map(&mut span).unwrap_or_default(),
            authenticode_hash: Span {
                start,
                end: hashes.len(),
            },
            issuer: m.issuer.map(&mut span),
            publisher: m.publisher.map(&mut span),
            hash_alg: m.hash_alg,
            image_size: m.image_size,
            image_base: m.image_base,
            validated: m.validated,
            pcr: m.pcr,
            event_index: m.event_index,
        });
    }
    LoadedModules {
        // Only whole UTF-8 sequences were written, so this cannot fail; were it to, the lossy
        // form keeps every span on a char boundary of valid text anyway.
        text: String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        hashes,
        entries,
    }
}

/// Merges the records of one run of equal digest prefixes, sorted by (digest, position): each
/// group of equal digests into its earliest record.
fn merge_run(records: &mut [RawModule<'_>], run: &[(u64, usize)]) {
    let mut i = 0;
    while i < run.len() {
        let first = run[i].1;
        let hash = records[first].authenticode_hash;
        let mut j = i + 1;
        while j < run.len() && records[run[j].1].authenticode_hash == hash {
            j += 1;
        }
        if !hash.is_empty() {
            // `first` is the group's earliest record; the others follow in log order.
            for &(_, later) in &run[i + 1..j] {
                let m = records[later];
                let k = &mut records[first];
                if k.file_path.is_none_or(Text::is_empty) {
                    k.file_path = m.file_path;
                }
                k.hash_alg = k.hash_alg.or(m.hash_alg);
                k.image_size = k.image_size.or(m.image_size);
                k.image_base = k.image_base.or(m.image_base);
                k.issuer = k.issuer.or(m.issuer);
                k.publisher = k.publisher.or(m.publisher);
                k.validated = k.validated.or(m.validated);
                records[later].merged = true;
            }
        }
        i = j;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn records_with_the_same_digest_merge_into_the_first_and_keep_its_position() {
        let (p12, p13, other) = (utf16(""), utf16("\\a.sys\0"), utf16("\\b.sys"));
        let issuer = utf16("CA ü");
        let recs = vec![
            RawModule {
                authenticode_hash: b"AAAA",
                image_base: Some(1),
                file_path: Some(Text::Utf16(&p12)),
                pcr: 12,
                event_index: 3,
                ..RawModule::default()
            },
            RawModule {
                authenticode_hash: b"BBBB",
                file_path: Some(Text::Utf16(&other)),
                pcr: 12,
                event_index: 4,
                ..RawModule::default()
            },
            RawModule {
                authenticode_hash: b"AAAA",
                image_base: Some(2),
                image_size: Some(10),
                file_path: Some(Text::Utf16(&p13)),
                issuer: Some(Text::Utf16(&issuer)),
                pcr: 13,
                event_index: 9,
                ..RawModule::default()
            },
        ];
        let m = merge(recs);
        assert_eq!(m.len(), 2);
        let a = m.get(0).unwrap();
        assert_eq!(
            (
                a.file_path,
                a.image_base,
                a.image_size,
                a.issuer,
                a.pcr,
                a.event_index
            ),
            ("\\a.sys", Some(1), Some(10), Some("CA ü"), 12, 3)
        );
        assert_eq!(m.get(1).unwrap().file_path, "\\b.sys");
    }

    #[test]
    fn records_without_a_digest_are_never_merged() {
        let recs = vec![RawModule::default(); 3];
        assert_eq!(merge(recs).len(), 3);
    }

    #[test]
    fn many_records_with_one_digest_merge_in_one_pass() {
        // A hostile log repeating one digest: grouping is a sort, not a quadratic scan.
        let recs = vec![
            RawModule {
                authenticode_hash: b"same digest",
                ..RawModule::default()
            };
            200_000
        ];
        assert_eq!(merge(recs).len(), 1);
    }

    #[test]
    fn serde_round_trip_and_equality_follow_the_modules_not_the_buffers() {
        let a: LoadedModules = [
            ModuleRef {
                file_path: "x",
                authenticode_hash: &[1, 2],
                hash_alg: None,
                image_size: None,
                image_base: Some(7),
                issuer: Some("i"),
                publisher: None,
                validated: Some(true),
                pcr: 13,
                event_index: 2,
            },
            ModuleRef {
                file_path: "",
                authenticode_hash: &[],
                hash_alg: Some(0x800c),
                image_size: None,
                image_base: None,
                issuer: None,
                publisher: Some("p"),
                validated: None,
                pcr: 12,
                event_index: 1,
            },
        ]
        .into_iter()
        .collect();
        let json = serde_json::to_string(&a).unwrap();
        let b: LoadedModules = serde_json::from_str(&json).unwrap();
        assert_eq!(a, b);
        let owned: Vec<LoadedModule> = serde_json::from_str(&json).unwrap();
        assert_eq!(owned[0], a.get(0).unwrap().to_owned_module());
        assert_eq!(owned[0].authenticode_hash, vec![1, 2]);
        assert_ne!(a, b.iter().take(1).collect::<LoadedModules>());
    }
}
