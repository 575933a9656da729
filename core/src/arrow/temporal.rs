//! Date and time conversions between the systems' wire forms and Spark's Arrow types.
//!
//! Cassandra sends a date as an unsigned day count centred on 2^31 and a time as
//! nanoseconds of the day; MongoDB and most JSON APIs carry milliseconds since the epoch;
//! Spark wants Date32 days and microsecond timestamps. Every widening is overflow-checked:
//! a wrapped timestamp is a silently wrong row.

use arrow_array::TimestampMicrosecondArray;

use super::SYSTEM;
use crate::error::{Error, Result};

/// Nanoseconds in one day; a time of day is in `[0, NANOS_PER_DAY)`.
pub const NANOS_PER_DAY: i64 = 86_400_000_000_000;
/// Cassandra's `date` puts 1970-01-01 at 2^31.
const CASSANDRA_EPOCH_DAY: i64 = 1 << 31;

fn data_error(operation: &str, message: String) -> Error {
    Error::data(SYSTEM, operation, message)
}

/// A Cassandra `date` (unsigned days, epoch at 2^31) as Date32 days since 1970-01-01.
/// Every Cassandra date fits: the range is exactly that of i32.
pub fn cassandra_date_to_date32(raw: u32) -> i32 {
    (i64::from(raw) - CASSANDRA_EPOCH_DAY) as i32
}

/// Date32 days as a Cassandra `date`; total, the inverse of [`cassandra_date_to_date32`].
pub fn date32_to_cassandra_date(days: i32) -> u32 {
    (i64::from(days) + CASSANDRA_EPOCH_DAY) as u32
}

/// Days since the epoch as Date32, or an error if they leave i32's range.
pub fn days_to_date32(days: i64) -> Result<i32> {
    i32::try_from(days).map_err(|_| {
        data_error(
            "convert date",
            format!("{days} days since 1970 is outside Spark's date range"),
        )
    })
}

/// Nanoseconds of the day (Cassandra `time`) checked for Time64(ns).
pub fn nanos_of_day_to_time64(nanos: i64) -> Result<i64> {
    if (0..NANOS_PER_DAY).contains(&nanos) {
        Ok(nanos)
    } else {
        Err(data_error(
            "convert time",
            format!("{nanos} ns is not a time of day"),
        ))
    }
}

/// Time64(ns) back to nanoseconds of the day; the same range check.
pub fn time64_to_nanos_of_day(nanos: i64) -> Result<i64> {
    nanos_of_day_to_time64(nanos)
}

/// Milliseconds since the epoch as microseconds, or an error on overflow.
pub fn millis_to_micros(millis: i64) -> Result<i64> {
    millis.checked_mul(1000).ok_or_else(|| {
        data_error(
            "convert timestamp",
            format!("{millis} ms since 1970 overflows a microsecond timestamp"),
        )
    })
}

/// Microseconds as milliseconds, rounded towards the past (floor), as the systems that
/// store milliseconds do; `-1 µs` is `-1 ms`, not `0`.
pub fn micros_to_millis(micros: i64) -> i64 {
    micros.div_euclid(1000)
}

/// Microseconds since the epoch as nanoseconds, or an error past year 2262.
pub fn micros_to_nanos(micros: i64) -> Result<i64> {
    micros.checked_mul(1000).ok_or_else(|| {
        data_error(
            "convert timestamp",
            format!("{micros} µs since 1970 does not fit in nanoseconds"),
        )
    })
}

/// A Spark TimestampType array (µs, UTC) from epoch milliseconds (`None` is null).
pub fn timestamp_array_from_millis<I>(millis: I) -> Result<TimestampMicrosecondArray>
where
    I: IntoIterator<Item = Option<i64>>,
{
    let micros = millis
        .into_iter()
        .map(|m| m.map(millis_to_micros).transpose())
        .collect::<Result<Vec<_>>>()?;
    Ok(TimestampMicrosecondArray::from(micros).with_timezone("UTC"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow::types::timestamp;
    use arrow_array::Array;

    #[test]
    fn cassandra_dates_round_trip_including_extremes() {
        assert_eq!(cassandra_date_to_date32(1 << 31), 0);
        assert_eq!(cassandra_date_to_date32((1 << 31) - 1), -1); // 1969-12-31
        assert_eq!(cassandra_date_to_date32(0), i32::MIN);
        assert_eq!(cassandra_date_to_date32(u32::MAX), i32::MAX);
        for raw in [0, 1, (1 << 31) - 719_528, 1 << 31, u32::MAX] {
            assert_eq!(date32_to_cassandra_date(cassandra_date_to_date32(raw)), raw);
        }
        // 0001-01-01 is 719162 days before 1970.
        assert_eq!(days_to_date32(-719_162).unwrap(), -719_162);
        assert!(days_to_date32(i64::from(i32::MAX) + 1).is_err());
    }

    #[test]
    fn times_of_day_are_range_checked() {
        assert_eq!(nanos_of_day_to_time64(0).unwrap(), 0);
        assert_eq!(
            time64_to_nanos_of_day(NANOS_PER_DAY - 1).unwrap(),
            NANOS_PER_DAY - 1
        );
        assert!(nanos_of_day_to_time64(NANOS_PER_DAY).is_err());
        assert!(nanos_of_day_to_time64(-1).is_err());
    }

    #[test]
    fn millis_and_micros_convert_with_overflow_checks() {
        assert_eq!(millis_to_micros(-1).unwrap(), -1000);
        assert_eq!(
            millis_to_micros(1_700_000_000_123).unwrap(),
            1_700_000_000_123_000
        );
        assert!(millis_to_micros(i64::MAX / 999).is_err());
        assert_eq!(micros_to_millis(1_999), 1);
        assert_eq!(micros_to_millis(-1), -1);
        assert_eq!(
            micros_to_millis(millis_to_micros(-86_400_001).unwrap()),
            -86_400_001
        );
        assert!(micros_to_nanos(i64::MAX / 10).is_err());
        assert_eq!(micros_to_nanos(-5).unwrap(), -5000);
    }

    #[test]
    fn timestamp_arrays_are_spark_typed_and_keep_nulls() {
        let arr = timestamp_array_from_millis([Some(-1), None, Some(0)]).unwrap();
        assert_eq!(arr.data_type(), &timestamp());
        assert!(arr.is_null(1));
        assert_eq!((arr.value(0), arr.value(2)), (-1000, 0));
        assert!(timestamp_array_from_millis([Some(i64::MIN)]).is_err());
    }
}
