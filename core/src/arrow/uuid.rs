//! UUIDs as Spark sees them: the canonical 36-character lowercase string.
//!
//! Spark has no UUID type; Cassandra `uuid`/`timeuuid` and MongoDB binary subtype 4 arrive
//! as 16 bytes and leave as a string column.

use super::SYSTEM;
use crate::error::{Error, Result};

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase hex.
pub fn format_uuid(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Parses the canonical form (either case); also accepts 32 hex digits without hyphens.
pub fn parse_uuid(text: &str) -> Result<[u8; 16]> {
    let bad = || Error::data(SYSTEM, "parse uuid", format!("`{text}` is not a UUID"));
    let hyphens_ok = match text.len() {
        36 => text
            .char_indices()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-')),
        32 => !text.contains('-'),
        _ => false,
    };
    if !hyphens_ok {
        return Err(bad());
    }
    let mut out = [0u8; 16];
    let digits = text.bytes().filter(|b| *b != b'-');
    for (i, d) in digits.enumerate() {
        let nibble = (d as char).to_digit(16).ok_or_else(bad)? as u8;
        out[i / 2] |= if i % 2 == 0 { nibble << 4 } else { nibble };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_lowercase_and_round_trip() {
        let bytes = [
            0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44,
            0x00, 0x00,
        ];
        let text = format_uuid(&bytes);
        assert_eq!(text, "550e8400-e29b-41d4-a716-446655440000");
        assert_eq!(parse_uuid(&text).unwrap(), bytes);
        assert_eq!(parse_uuid(&text.to_uppercase()).unwrap(), bytes);
        assert_eq!(
            parse_uuid("550e8400e29b41d4a716446655440000").unwrap(),
            bytes
        );
        assert_eq!(
            format_uuid(&[0xff; 16]),
            "ffffffff-ffff-ffff-ffff-ffffffffffff"
        );
    }

    #[test]
    fn malformed_strings_are_data_errors() {
        for bad in [
            "",
            "550e8400-e29b-41d4-a716-44665544000",
            "550e8400-e29b-41d4-a716-44665544000g",
            "550e8400e-29b-41d4-a716-446655440000",
        ] {
            assert!(parse_uuid(bad).is_err(), "{bad}");
        }
    }
}
