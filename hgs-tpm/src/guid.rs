//! [`Guid`]: the one GUID type of every hgs crate (UEFI variables in the TCG log, CI policy IDs).

/// A GUID as Windows and UEFI store it: the first three fields little-endian, the last eight
/// bytes as they are.
///
/// `Display` writes the canonical lower-case form (`8be4df61-93ca-11d2-aa0d-00e098032b8c`), as
/// UEFI and the TCG log tools do; the alternate form (`{:#}`) writes Windows' braced upper-case
/// form (`{8BE4DF61-93CA-11D2-AA0D-00E098032B8C}`), as CI policy XML and the registry do. Serialized
/// as the canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// From the canonical fields (`aaaaaaaa-bbbb-cccc-dddd-dddddddddddd`).
    pub const fn from_fields(a: u32, b: u16, c: u16, d: [u8; 8]) -> Guid {
        let a = a.to_le_bytes();
        let b = b.to_le_bytes();
        let c = c.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5],
            d[6], d[7],
        ])
    }

    /// The first 16 bytes of `b`, if it has as many.
    pub fn from_prefix(b: &[u8]) -> Option<Guid> {
        Some(Guid(b.get(..16)?.try_into().ok()?))
    }

    fn fields(&self) -> (u32, u16, u16) {
        let g = &self.0;
        (
            u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
            u16::from_le_bytes([g[4], g[5]]),
            u16::from_le_bytes([g[6], g[7]]),
        )
    }
}

impl core::fmt::Display for Guid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (a, b, c) = self.fields();
        let g = &self.0;
        if f.alternate() {
            write!(
                f,
                "{{{a:08X}-{b:04X}-{c:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
                g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
            )
        } else {
            write!(
                f,
                "{a:08x}-{b:04x}-{c:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
            )
        }
    }
}

impl serde::Serialize for Guid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::Guid;

    #[test]
    fn canonical_and_windows_forms() {
        let g = Guid::from_fields(
            0x8be4df61,
            0x93ca,
            0x11d2,
            [0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c],
        );
        assert_eq!(g.0[..4], [0x61, 0xdf, 0xe4, 0x8b]);
        assert_eq!(g.to_string(), "8be4df61-93ca-11d2-aa0d-00e098032b8c");
        assert_eq!(format!("{g:#}"), "{8BE4DF61-93CA-11D2-AA0D-00E098032B8C}");
        assert_eq!(Guid::from_prefix(&g.0), Some(g));
        assert_eq!(Guid::from_prefix(&g.0[..15]), None);
    }
}
