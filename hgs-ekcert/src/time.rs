//! Time as a parameter: [`UnixTime`] (seconds since 1970-01-01T00:00:00Z), its conversions from
//! ASN.1 UTCTime / GeneralizedTime and from RFC 3339 text. There is no clock in this crate.

use std::fmt;

use serde::Serialize;

/// Seconds since the Unix epoch (UTC). The caller supplies "now"; certificates' validity bounds
/// are converted to this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

/// Days from 1970-01-01 to the civil date (proleptic Gregorian); Howard Hinnant's algorithm.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let d = i64::from(d);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Always 1..=31 and 1..=12 (Hinnant's civil_from_days); the fallbacks are unreachable.
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |a, b| a * 10 + u32::from(b - b'0')))
}

impl UnixTime {
    /// From calendar fields (UTC). `None` when a field is out of range.
    pub fn from_civil(year: i64, month: u32, day: u32, h: u32, mi: u32, s: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(Self(
            days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s),
        ))
    }

    /// ASN.1 UTCTime `YYMMDDHHMMSSZ` (years 50–99 are 19xx, RFC 5280).
    pub(crate) fn from_utc_time(v: &[u8]) -> Option<Self> {
        if v.len() != 13 || v[12] != b'Z' {
            return None;
        }
        let yy = i64::from(digits(&v[0..2])?);
        let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
        Self::from_civil(
            year,
            digits(&v[2..4])?,
            digits(&v[4..6])?,
            digits(&v[6..8])?,
            digits(&v[8..10])?,
            digits(&v[10..12])?,
        )
    }

    /// ASN.1 GeneralizedTime `YYYYMMDDHHMMSSZ` (fractional seconds tolerated and dropped).
    pub(crate) fn from_generalized_time(v: &[u8]) -> Option<Self> {
        if v.len() < 15 || v.last() != Some(&b'Z') {
            return None;
        }
        if v.len() > 15 && (v[14] != b'.' || digits(&v[15..v.len() - 1]).is_none()) {
            return None;
        }
        Self::from_civil(
            i64::from(digits(&v[0..4])?),
            digits(&v[4..6])?,
            digits(&v[6..8])?,
            digits(&v[8..10])?,
            digits(&v[10..12])?,
            digits(&v[12..14])?,
        )
    }

    /// RFC 3339 date-time (`2026-11-22T10:00:00Z`, `...+02:00`, fractional seconds allowed) or a
    /// bare date (`2026-11-22`, midnight UTC).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let b = text.trim().as_bytes();
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
        if b.len() == 10 {
            return Self::from_civil(i64::from(y), mo, d, 0, 0, 0);
        }
        if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (h, mi, s) = (
            digits(&b[11..13])?,
            digits(&b[14..16])?,
            digits(&b[17..19])?,
        );
        let mut rest = &b[19..];
        if rest.first() == Some(&b'.') {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            rest = &rest[1 + n..];
        }
        let offset = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let secs =
                    i64::from(digits(&[*h1, *h2])?) * 3600 + i64::from(digits(&[*m1, *m2])?) * 60;
                if *sign == b'+' {
                    secs
                } else {
                    -secs
                }
            }
            _ => return None,
        };
        Self::from_civil(i64::from(y), mo, d, h, mi, s).map(|t| Self(t.0 - offset))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            (secs % 3600) / 60,
            secs % 60
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn conversions() {
        let t = UnixTime::from_utc_time(b"180711000000Z").unwrap();
        assert_eq!(t.to_string(), "2018-07-11T00:00:00Z");
        assert_eq!(t.0, 1_531_267_200);
        assert_eq!(
            UnixTime::from_generalized_time(b"20491231235959Z")
                .unwrap()
                .to_string(),
            "2049-12-31T23:59:59Z"
        );
        assert_eq!(
            UnixTime::from_utc_time(b"500101000000Z")
                .unwrap()
                .to_string(),
            "1950-01-01T00:00:00Z"
        );
        assert_eq!(
            UnixTime::parse_rfc3339("2026-11-22T10:00:00+02:00")
                .unwrap()
                .to_string(),
            "2026-11-22T08:00:00Z"
        );
        assert_eq!(
            UnixTime::parse_rfc3339("2026-11-22").unwrap().to_string(),
            "2026-11-22T00:00:00Z"
        );
        assert_eq!(
            UnixTime::parse_rfc3339("2026-11-22T10:00:00.5Z")
                .unwrap()
                .to_string(),
            "2026-11-22T10:00:00Z"
        );
        assert!(UnixTime::parse_rfc3339("2026-13-22").is_none());
        assert!(UnixTime::parse_rfc3339("yesterday").is_none());
        assert!(UnixTime::from_utc_time(b"1807110000Z").is_none());
        assert_eq!(
            UnixTime::from_generalized_time(b"99991231235959Z")
                .unwrap()
                .to_string(),
            "9999-12-31T23:59:59Z"
        );
    }
}
