//! Exact decimal conversion between the varint wire form and Decimal128.
//!
//! Cassandra (and Java's BigDecimal) carry a decimal as an arbitrary-precision unscaled
//! integer in big-endian two's complement plus a scale. Spark's DecimalType is Decimal128 with
//! a fixed (precision, scale). A value that cannot be represented exactly is a data error:
//! rounding silently would change users' numbers.

use arrow_array::Decimal128Array;
use arrow_array::builder::Decimal128Builder;

use super::SYSTEM;
use super::types::{MAX_DECIMAL_PRECISION, decimal};
use crate::error::{Error, Result};

fn data_error(message: String) -> Error {
    Error::data(SYSTEM, "convert decimal", message)
}

/// The unscaled integer from big-endian two's complement bytes (any length, sign-extended).
pub fn unscaled_from_be_bytes(bytes: &[u8]) -> Result<i128> {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let fill = if negative { 0xff } else { 0x00 };
    // Leading sign-extension bytes carry no value; beyond that, 16 bytes must suffice.
    let significant = bytes
        .iter()
        .position(|&b| b != fill)
        .map_or(&bytes[bytes.len()..], |i| &bytes[i..]);
    let needs_sign_byte = significant
        .first()
        .is_some_and(|b| (b & 0x80 != 0) != negative);
    if significant.len() + usize::from(needs_sign_byte) > 16 {
        return Err(data_error(format!(
            "a {}-byte integer does not fit in 128 bits",
            bytes.len()
        )));
    }
    let mut buf = [fill; 16];
    buf[16 - significant.len()..].copy_from_slice(significant);
    Ok(i128::from_be_bytes(buf))
}

/// The shortest big-endian two's complement bytes for `value` (Cassandra's varint form).
pub fn unscaled_to_be_bytes(value: i128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    // Drop a leading byte while the next one still carries the same sign.
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// `unscaled * 10^-from_scale` as an unscaled value at `to_scale`, exact or an error.
pub fn rescale(unscaled: i128, from_scale: i32, to_scale: i32) -> Result<i128> {
    let diff = i64::from(to_scale) - i64::from(from_scale);
    if diff >= 0 {
        u32::try_from(diff)
            .ok()
            .and_then(pow10)
            .and_then(|f| unscaled.checked_mul(f))
            .ok_or_else(|| {
                data_error(format!(
                    "{unscaled}E-{from_scale} overflows at scale {to_scale}"
                ))
            })
    } else {
        match u32::try_from(-diff).ok().and_then(pow10) {
            Some(f) if unscaled % f == 0 => Ok(unscaled / f),
            // 10^39 exceeds every i128: only zero divides exactly.
            None if unscaled == 0 => Ok(0),
            _ => Err(data_error(format!(
                "{unscaled}E-{from_scale} has more than {to_scale} decimal places; it would be rounded"
            ))),
        }
    }
}

/// A wire decimal (varint bytes + scale) as the unscaled value of Decimal128(precision, scale).
pub fn wire_to_decimal128(bytes: &[u8], wire_scale: i32, precision: u8, scale: i8) -> Result<i128> {
    let value = rescale(unscaled_from_be_bytes(bytes)?, wire_scale, i32::from(scale))?;
    check_precision(value, precision, scale)?;
    Ok(value)
}

/// A Decimal128 unscaled value and its scale as wire bytes + scale; always exact.
pub fn decimal128_to_wire(value: i128, scale: i8) -> (Vec<u8>, i32) {
    (unscaled_to_be_bytes(value), i32::from(scale))
}

/// Errors when `value` needs more than `precision` digits.
pub fn check_precision(value: i128, precision: u8, scale: i8) -> Result<()> {
    let limit = pow10(u32::from(precision.min(MAX_DECIMAL_PRECISION))).unwrap_or(i128::MAX);
    if value.unsigned_abs() >= limit.unsigned_abs() {
        return Err(data_error(format!(
            "{value}E-{scale} needs more than {precision} digits of precision"
        )));
    }
    Ok(())
}

/// A Decimal128(precision, scale) array from wire decimals (`None` is null).
pub fn decimal_array<'a, I>(values: I, precision: u8, scale: i8) -> Result<Decimal128Array>
where
    I: IntoIterator<Item = Option<(&'a [u8], i32)>>,
{
    decimal(precision, scale)?;
    let mut builder = Decimal128Builder::new();
    for value in values {
        match value {
            Some((bytes, wire_scale)) => {
                builder.append_value(wire_to_decimal128(bytes, wire_scale, precision, scale)?)
            }
            None => builder.append_null(),
        }
    }
    builder
        .finish()
        .with_precision_and_scale(precision, scale)
        .map_err(|e| Error::internal(SYSTEM, "convert decimal", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use arrow_array::Array;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn varint_bytes_round_trip_minimally() {
        let cases: &[(i128, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x00, 0x80]),
            (-1, &[0xff]),
            (-128, &[0x80]),
            (-129, &[0xff, 0x7f]),
            (256, &[0x01, 0x00]),
        ];
        for (value, bytes) in cases {
            assert_eq!(unscaled_to_be_bytes(*value), *bytes, "{value}");
            assert_eq!(unscaled_from_be_bytes(bytes).unwrap(), *value);
        }
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..2000 {
            let v: i128 = rng.random::<i128>() >> rng.random_range(0..127);
            assert_eq!(unscaled_from_be_bytes(&unscaled_to_be_bytes(v)).unwrap(), v);
        }
        assert_eq!(
            unscaled_from_be_bytes(&unscaled_to_be_bytes(i128::MIN)).unwrap(),
            i128::MIN
        );
        assert_eq!(
            unscaled_from_be_bytes(&unscaled_to_be_bytes(i128::MAX)).unwrap(),
            i128::MAX
        );
    }

    #[test]
    fn sign_extended_and_oversized_inputs() {
        assert_eq!(unscaled_from_be_bytes(&[0xff; 40]).unwrap(), -1);
        assert_eq!(unscaled_from_be_bytes(&[0x00; 40]).unwrap(), 0);
        assert_eq!(unscaled_from_be_bytes(&[]).unwrap(), 0);
        let mut big = vec![0x01];
        big.extend([0u8; 16]);
        assert_eq!(
            unscaled_from_be_bytes(&big).unwrap_err().kind(),
            ErrorKind::Data
        );
        // 0x00 0x80.. (16 bytes after a sign byte) is 2^127: one bit too many.
        let mut edge = vec![0x00, 0x80];
        edge.extend([0u8; 15]);
        assert!(unscaled_from_be_bytes(&edge).is_err());
    }

    #[test]
    fn rescaling_is_exact_or_an_error() {
        assert_eq!(rescale(12345, 2, 4).unwrap(), 1_234_500);
        assert_eq!(rescale(-1_234_500, 4, 2).unwrap(), -12345);
        assert_eq!(rescale(0, 100, 0).unwrap(), 0);
        let e = rescale(12345, 3, 2).unwrap_err();
        assert!(e.message().contains("would be rounded"), "{e}");
        assert!(rescale(1, 0, 40).is_err());
        assert_eq!(rescale(7, -2, 0).unwrap(), 700);
    }

    #[test]
    fn wire_decimals_round_trip_through_decimal128() {
        let max = 10i128.pow(38) - 1;
        for (value, scale) in [(max, 0i8), (-max, 10), (-5, 2), (0, 38), (123_456_789, 4)] {
            let (bytes, wire_scale) = decimal128_to_wire(value, scale);
            assert_eq!(
                wire_to_decimal128(&bytes, wire_scale, 38, scale).unwrap(),
                value
            );
        }
        // -1.50 read into DECIMAL(5,3) is -1.500.
        assert_eq!(
            wire_to_decimal128(&unscaled_to_be_bytes(-150), 2, 5, 3).unwrap(),
            -1500
        );
        let e = wire_to_decimal128(&unscaled_to_be_bytes(10i128.pow(38)), 0, 38, 0).unwrap_err();
        assert!(e.message().contains("more than 38 digits"), "{e}");
        assert!(wire_to_decimal128(&unscaled_to_be_bytes(100_000), 0, 5, 0).is_err());
    }

    #[test]
    fn arrays_keep_nulls_and_type() {
        let one = unscaled_to_be_bytes(-12345);
        let two = unscaled_to_be_bytes(7);
        let arr =
            decimal_array(vec![Some((&one[..], 3)), None, Some((&two[..], 0))], 10, 3).unwrap();
        assert_eq!(arr.data_type(), &arrow_schema::DataType::Decimal128(10, 3));
        assert_eq!(arr.len(), 3);
        assert!(arr.is_null(1));
        assert_eq!((arr.value(0), arr.value(2)), (-12345, 7000));
        assert_eq!(arr.value_as_string(0), "-12.345");
        let err = decimal_array(vec![Some((&one[..], 4))], 10, 3).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Data);
    }
}
