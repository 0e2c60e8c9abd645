//! [`Name`]: the one rule for the names an administrator gives hosts, TPM baselines and CI policies.
//!
//! HGS names hosts by their Windows computer name, which must be a valid NetBIOS and DNS name;
//! baselines and CI policies are named by the administrator and appear in the same listings,
//! URLs (`/v1/hosts/{name}`) and database columns. One rule for all three, so that the CLI, the
//! file store and both database engines refuse exactly the same names with the same error:
//!
//! - 1 to [`MAX_NAME_LEN`] (253, a DNS name's limit) characters;
//! - ASCII letters, digits, `-`, `_` and `.` only: what DNS labels and NetBIOS names have in
//!   common, plus `_` (NetBIOS, and usual in policy names). No space, no control character, no
//!   NUL (which PostgreSQL `text` cannot store), nothing a URL path or a terminal interprets;
//! - the first and the last character a letter or a digit (a DNS label's rule; no `.` or `-` at
//!   either end, so `.` and `..` are not names).
//!
//! Names compare as written (case-sensitive), as the stores always have.

use core::fmt;

/// The longest name: 253 characters, the length of a DNS name.
pub const MAX_NAME_LEN: usize = 253;

/// A valid host, baseline or CI policy name. Made only by [`Name::new`] (or deserialized through
/// it), so holding one proves the rule was checked.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

/// Why a string is not a [`Name`]. The offending string is not echoed whole: it may be
/// thousands of characters or hold control characters; each variant's `shown` field is a bounded,
/// escaped excerpt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The empty string.
    #[error("a name must not be empty")]
    Empty,
    /// Longer than [`MAX_NAME_LEN`].
    #[error("name {shown} is {len} characters long; the limit is {max}")]
    TooLong {
        /// Its length, in bytes.
        len: usize,
        /// [`MAX_NAME_LEN`].
        max: usize,
        /// A bounded, escaped excerpt.
        shown: String,
    },
    /// A character outside `A-Z a-z 0-9 - _ .`.
    #[error(
        "name {shown} contains {character:?} at position {position}; \
         names use only letters, digits, '-', '_' and '.'"
    )]
    BadCharacter {
        /// The character.
        character: char,
        /// Its position, counted in characters from 0.
        position: usize,
        /// A bounded, escaped excerpt.
        shown: String,
    },
    /// Begins or ends with `-`, `_` or `.`.
    #[error("name {shown} must begin and end with a letter or a digit")]
    BadEnd {
        /// A bounded, escaped excerpt.
        shown: String,
    },
}

/// At most 40 characters of `s`, Debug-escaped (control characters and quotes visible).
fn excerpt(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

impl Name {
    /// Checks `s` against the rule (module docs).
    pub fn new(s: &str) -> Result<Name, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        // Characters before length: a NUL or newline in a long name is the clearer error.
        if let Some((position, character)) = s.chars().enumerate().find(|&(_, c)| !allowed(c)) {
            return Err(NameError::BadCharacter {
                character,
                position,
                shown: excerpt(s),
            });
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong {
                len: s.len(),
                max: MAX_NAME_LEN,
                shown: excerpt(s),
            });
        }
        let bytes = s.as_bytes();
        let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
        if !edge_ok(bytes.first()) || !edge_ok(bytes.last()) {
            return Err(NameError::BadEnd { shown: excerpt(s) });
        }
        Ok(Name(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl core::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl core::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        *self == other.0
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        *self == other.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl core::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Name, NameError> {
        Name::new(s)
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(s: String) -> Result<Name, NameError> {
        Name::new(&s).map(|_| Name(s))
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Name::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn windows_and_dns_style_names_are_accepted() {
        for ok in [
            "H",
            "host01",
            "HOST-01",
            "host01.contoso.com",
            "Gen2_HW-Class1",
            "0",
            &"a".repeat(MAX_NAME_LEN),
        ] {
            assert_eq!(Name::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn each_kind_of_bad_name_has_its_own_error() {
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert!(matches!(
            Name::new(&"a".repeat(5000)),
            Err(NameError::TooLong {
                len: 5000,
                max: MAX_NAME_LEN,
                ..
            })
        ));
        for (bad, c, at) in [
            ("a\nb", '\n', 1),
            ("a\0b", '\0', 1),
            ("a b", ' ', 1),
            ("a/b", '/', 1),
            ("é", 'é', 0),
            ("<script>", '<', 0),
        ] {
            match Name::new(bad) {
                Err(NameError::BadCharacter {
                    character,
                    position,
                    ..
                }) => assert_eq!((character, position), (c, at), "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        for bad in ["-a", "a-", ".", "..", "_x", "x."] {
            assert!(
                matches!(Name::new(bad), Err(NameError::BadEnd { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_error_message_is_bounded_and_escapes_control_characters() {
        let long = format!("{}\n", "x".repeat(5000));
        let msg = Name::new(&long).unwrap_err().to_string();
        assert!(msg.len() < 200, "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        let msg = Name::new("a\0b").unwrap_err().to_string();
        assert!(msg.contains("\\0"), "{msg}");
    }

    #[test]
    fn deserializing_applies_the_rule() {
        let n: Name = serde_json::from_str(r#""host01""#).unwrap();
        assert_eq!(n, "host01");
        assert!(serde_json::from_str::<Name>(r#""bad name""#).is_err());
        assert_eq!(serde_json::to_string(&n).unwrap(), r#""host01""#);
    }

    proptest::proptest! {
        /// Accepted implies the rule: so a stored name never holds a NUL, a control character
        /// or a character a URL path interprets.
        #[test]
        fn accepted_names_obey_the_rule(s in "\\PC{0,300}|[A-Za-z0-9._-]{0,260}") {
            if let Ok(n) = Name::new(&s) {
                proptest::prop_assert!(!n.is_empty() && n.len() <= MAX_NAME_LEN);
                proptest::prop_assert!(n.chars().all(allowed));
                proptest::prop_assert!(n.as_bytes()[0].is_ascii_alphanumeric());
            }
        }
    }
}
