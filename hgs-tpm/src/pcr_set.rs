//! A set of PC-client PCR indices (0–23), as one bitmask.
//!
//! Used wherever "which PCRs" is a question: what a challenge asks for, what a quote covers, what a
//! check needs quoted. Serialized as an ascending list of indices; deserializing refuses indices
//! above 23, so a stored set is always a set of real PCRs.

/// Number of PCRs of a PC-client TPM (TCG PC Client Platform TPM Profile: PCRs 0–23).
pub const PCR_COUNT: u32 = 24;

/// A set of PCR indices, each below [`PCR_COUNT`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct PcrSet(u32);

/// A PCR index that does not exist on a PC-client TPM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("PCR {0} does not exist (PCRs are 0-23)")]
pub struct BadPcr(pub u32);

impl PcrSet {
    /// No PCR.
    pub const EMPTY: PcrSet = PcrSet(0);

    /// The set of `pcrs`; refuses an index above 23.
    pub fn from_indices(pcrs: &[u32]) -> Result<PcrSet, BadPcr> {
        let mut s = PcrSet::EMPTY;
        for &p in pcrs {
            s = s.with(p)?;
        }
        Ok(s)
    }

    /// A set from constant indices (for tables of required PCRs).
    ///
    /// Indices above 23 are ignored; use [`PcrSet::from_indices`] for input.
    pub const fn of(pcrs: &[u32]) -> PcrSet {
        let mut bits = 0u32;
        let mut i = 0;
        while i < pcrs.len() {
            if pcrs[i] < PCR_COUNT {
                bits |= 1 << pcrs[i];
            }
            i += 1;
        }
        PcrSet(bits)
    }

    /// This set plus `pcr`.
    pub fn with(self, pcr: u32) -> Result<PcrSet, BadPcr> {
        if pcr >= PCR_COUNT {
            return Err(BadPcr(pcr));
        }
        Ok(PcrSet(self.0 | 1 << pcr))
    }

    /// Whether `pcr` is in the set.
    pub const fn contains(self, pcr: u32) -> bool {
        pcr < PCR_COUNT && self.0 & (1 << pcr) != 0
    }

    /// Every PCR of either set.
    #[must_use]
    pub const fn union(self, other: PcrSet) -> PcrSet {
        PcrSet(self.0 | other.0)
    }

    /// The PCRs of `self` that are not in `other`.
    #[must_use]
    pub const fn minus(self, other: PcrSet) -> PcrSet {
        PcrSet(self.0 & !other.0)
    }

    /// Whether every PCR of `other` is in `self`.
    pub const fn covers(self, other: PcrSet) -> bool {
        other.0 & !self.0 == 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of PCRs in the set.
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The indices, ascending (the order TPM2_Quote concatenates PCR values in).
    pub fn iter(self) -> impl Iterator<Item = u32> {
        (0..PCR_COUNT).filter(move |p| self.contains(*p))
    }

    /// The indices, ascending, as a vector.
    pub fn to_vec(self) -> Vec<u32> {
        self.iter().collect()
    }
}

impl core::fmt::Debug for PcrSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl core::fmt::Display for PcrSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut first = true;
        for p in self.iter() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{p}")?;
        }
        if first {
            f.write_str("(none)")?;
        }
        Ok(())
    }
}

impl FromIterator<u32> for PcrSet {
    /// Collects indices; indices above 23 are dropped (use [`PcrSet::from_indices`] to refuse them).
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        iter.into_iter()
            .fold(PcrSet::EMPTY, |s, p| s.with(p).unwrap_or(s))
    }
}

impl serde::Serialize for PcrSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for PcrSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = PcrSet;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a list of PCR indices 0-23")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<PcrSet, A::Error> {
                let mut s = PcrSet::EMPTY;
                while let Some(p) = a.next_element::<u32>()? {
                    s = s.with(p).map_err(serde::de::Error::custom)?;
                }
                Ok(s)
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn set_operations_and_order() {
        let a = PcrSet::from_indices(&[14, 0, 7, 7]).unwrap();
        assert_eq!(a.to_vec(), vec![0, 7, 14]);
        assert_eq!(a.len(), 3);
        let b = PcrSet::of(&[7]);
        assert!(a.covers(b));
        assert!(!b.covers(a));
        assert_eq!(a.minus(b).to_vec(), vec![0, 14]);
        assert_eq!(b.union(PcrSet::of(&[1])).to_vec(), vec![1, 7]);
        assert_eq!(PcrSet::from_indices(&[24]), Err(BadPcr(24)));
        assert_eq!(a.to_string(), "0,7,14");
    }

    #[test]
    fn serde_is_a_list_and_refuses_pcr_24() {
        let a = PcrSet::of(&[0, 23]);
        assert_eq!(serde_json::to_string(&a).unwrap(), "[0,23]");
        assert_eq!(serde_json::from_str::<PcrSet>("[23,0]").unwrap(), a);
        assert!(serde_json::from_str::<PcrSet>("[24]").is_err());
    }
}
