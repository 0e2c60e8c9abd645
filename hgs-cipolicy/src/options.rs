//! Rule options: the bits of the header's option word, with their XML names.
//! Bit values agree between Graeber's and HotCakeX's parsers and were checked on the corpus
//! (`shared/research/cipolicy.md` §2.4).

/// `Enabled:Audit Mode` (option 3): the policy logs, it does not block.
pub const AUDIT_MODE: u32 = 0x0001_0000;
/// Bit 30: supplemental policy.
pub const SUPPLEMENTAL: u32 = 0x4000_0000;

/// `(bit, XML option name)` for every named option.
pub const OPTIONS: &[(u32, &str)] = &[
    (0x0000_0004, "Enabled:UMCI"),
    (0x0000_0008, "Enabled:Boot Menu Protection"),
    (
        0x0000_0010,
        "Enabled:Intelligent Security Graph Authorization",
    ),
    (0x0000_0020, "Enabled:Invalidate EAs on Reboot"),
    (0x0000_0040, "Enabled:Windows Lockdown Trial Mode"),
    (0x0000_0080, "Required:WHQL"),
    (0x0000_0100, "Enabled:Developer Mode Dynamic Code Trust"),
    (0x0000_0400, "Enabled:Allow Supplemental Policies"),
    (0x0000_0800, "Disabled:Runtime FilePath Rule Protection"),
    (0x0000_2000, "Enabled:Revoked Expired As Unsigned"),
    (AUDIT_MODE, "Enabled:Audit Mode"),
    (0x0002_0000, "Disabled:Flight Signing"),
    (0x0004_0000, "Enabled:Inherit Default Policy"),
    (0x0008_0000, "Enabled:Unsigned System Integrity Policy"),
    (0x0010_0000, "Enabled:Dynamic Code Security"),
    (0x0020_0000, "Required:EV Signers"),
    (0x0040_0000, "Enabled:Boot Audit On Failure"),
    (0x0080_0000, "Enabled:Advanced Boot Options Menu"),
    (0x0100_0000, "Disabled:Script Enforcement"),
    (0x0200_0000, "Required:Enforce Store Applications"),
    (0x0400_0000, "Enabled:Secure Setting Policy"),
    (0x0800_0000, "Enabled:Managed Installer"),
    (0x1000_0000, "Enabled:Update Policy No Reboot"),
    (0x2000_0000, "Enabled:Conditional Windows Lockdown Policy"),
];

/// The XML names of the options set in `flags`, in bit order.
pub fn names(flags: u32) -> Vec<&'static str> {
    OPTIONS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}
