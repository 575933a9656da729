//! Streaming offsets: small, stable JSON documents that Spark checkpoints.
//!
//! Spark stores each offset as the JSON string a source returns and hands it back after a
//! restart, possibly to a newer connector version; so the JSON shape is part of the
//! contract. The shapes (one key names the kind):
//!
//! | kind | JSON |
//! | --- | --- |
//! | a position in one ordered log | `{"position": 42}` |
//! | a (timestamp, tiebreaker) cursor, for sources whose sort key may repeat | `{"cursor": {"timestamp": 1700000000000, "tiebreaker": "abc"}}` |
//! | one position per partition (stream queue partitions, shards) | `{"partitions": {"p0": 5, "p1": 9}}` |
//!
//! Ranges are half-open (`start` inclusive, `end` exclusive) and split into contiguous,
//! non-overlapping pieces that exactly cover the original, so planning never drops or
//! repeats an event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const SYSTEM: &str = "offsets";

/// A (timestamp, tiebreaker) cursor: ordered by timestamp, then by tiebreaker, so events
/// sharing a timestamp are neither skipped nor read twice.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cursor {
    /// Usually milliseconds or microseconds since the epoch; the connector decides.
    pub timestamp: i64,
    /// A unique key among events of the same timestamp (an id, a sequence).
    pub tiebreaker: String,
}

/// One position per partition, keyed by partition name.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PartitionOffsets(pub BTreeMap<String, i64>);

/// A streaming offset as Spark checkpoints it.
///
/// `Ord` orders offsets of the same kind (positions numerically, cursors by timestamp then
/// tiebreaker); partition maps compare lexicographically, which is a total order for sorting
/// but not progress: use [`PartitionOffsets::is_at_or_after`] for that.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Offset {
    Position(i64),
    Cursor(Cursor),
    Partitions(PartitionOffsets),
}

impl Offset {
    /// The JSON Spark stores.
    pub fn to_json(&self) -> String {
        // Serializing these plain types cannot fail (string keys, integers).
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an offset back from a checkpoint.
    pub fn from_json(json: &str) -> Result<Offset> {
        serde_json::from_str(json).map_err(|e| {
            Error::data(
                SYSTEM,
                "read offset",
                format!("offset `{json}` is not a spark-ds offset: {e}"),
            )
        })
    }
}

/// A half-open range of positions `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OffsetRange {
    pub start: i64,
    pub end: i64,
}

impl OffsetRange {
    /// A range; `end < start` is an error (an offset went backwards).
    pub fn new(start: i64, end: i64) -> Result<Self> {
        if end < start {
            return Err(Error::internal(
                SYSTEM,
                "plan range",
                format!("range end {end} is before its start {start}"),
            ));
        }
        Ok(OffsetRange { start, end })
    }

    /// Number of positions; the widest range `[i64::MIN, i64::MAX)` still fits.
    pub fn len(&self) -> u64 {
        (i128::from(self.end) - i128::from(self.start)).max(0) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    pub fn contains(&self, position: i64) -> bool {
        self.start <= position && position < self.end
    }

    /// At most `parts` contiguous pieces of near-equal length (differing by at most one);
    /// fewer when the range is shorter than `parts`; none for an empty range.
    pub fn split(&self, parts: u64) -> Vec<OffsetRange> {
        let len = self.len();
        let parts = parts.max(1).min(len);
        if parts == 0 {
            return Vec::new();
        }
        let (base, extra) = (len / parts, len % parts);
        let mut start = i128::from(self.start);
        (0..parts)
            .map(|i| {
                let size = i128::from(base + u64::from(i < extra));
                let piece = OffsetRange {
                    start: start as i64,
                    end: (start + size) as i64,
                };
                start += size;
                piece
            })
            .collect()
    }

    /// Contiguous pieces of at most `max_len` positions each, as evenly sized as possible.
    pub fn split_by(&self, max_len: u64) -> Vec<OffsetRange> {
        let max_len = max_len.max(1);
        self.split(self.len().div_ceil(max_len))
    }
}

/// The range of one partition, as planned between two partition maps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRange {
    pub partition: String,
    pub range: OffsetRange,
}

impl PartitionOffsets {
    pub fn get(&self, partition: &str) -> Option<i64> {
        self.0.get(partition).copied()
    }

    /// Whether every partition here is at or beyond its position in `other` (progress order).
    pub fn is_at_or_after(&self, other: &PartitionOffsets) -> bool {
        other
            .0
            .iter()
            .all(|(p, &pos)| self.get(p).is_some_and(|mine| mine >= pos))
    }

    /// The ranges from `self` to `end`, each split into pieces of at most `max_len`
    /// (`None`: one piece per partition). A partition new in `end` starts at
    /// `new_partition_start`; empty ranges are left out; a partition missing from `end` or
    /// whose position went backwards is an error rather than a silent gap.
    pub fn plan(
        &self,
        end: &PartitionOffsets,
        new_partition_start: i64,
        max_len: Option<u64>,
    ) -> Result<Vec<PartitionRange>> {
        if let Some(gone) = self.0.keys().find(|p| !end.0.contains_key(*p)) {
            return Err(Error::internal(
                SYSTEM,
                "plan ranges",
                format!("partition `{gone}` is in the start offset but not in the end offset"),
            ));
        }
        let mut out = Vec::new();
        for (partition, &to) in &end.0 {
            let from = self.get(partition).unwrap_or(new_partition_start);
            let range = OffsetRange::new(from, to)
                .map_err(|e| e.with_context(format!("partition `{partition}`")))?;
            let pieces = match max_len {
                Some(max) => range.split_by(max),
                None => range.split(1),
            };
            out.extend(pieces.into_iter().map(|range| PartitionRange {
                partition: partition.clone(),
                range,
            }));
        }
        Ok(out)
    }
}

impl FromIterator<(String, i64)> for PartitionOffsets {
    fn from_iter<I: IntoIterator<Item = (String, i64)>>(iter: I) -> Self {
        PartitionOffsets(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn parts(pairs: &[(&str, i64)]) -> PartitionOffsets {
        pairs.iter().map(|(p, o)| (p.to_string(), *o)).collect()
    }

    fn assert_exact_cover(range: OffsetRange, pieces: &[OffsetRange]) {
        if range.is_empty() {
            assert!(pieces.is_empty());
            return;
        }
        assert_eq!(pieces.first().map(|p| p.start), Some(range.start));
        assert_eq!(pieces.last().map(|p| p.end), Some(range.end));
        for w in pieces.windows(2) {
            assert_eq!(w[0].end, w[1].start, "contiguous, no overlap");
        }
        assert!(pieces.iter().all(|p| !p.is_empty()));
        assert_eq!(
            pieces.iter().map(OffsetRange::len).sum::<u64>(),
            range.len()
        );
    }

    #[test]
    fn random_ranges_split_into_exact_covers() {
        let mut rng = StdRng::seed_from_u64(42);
        for _ in 0..5000 {
            let start = rng.random_range(-1_000_000i64..1_000_000);
            let range = OffsetRange::new(start, start + rng.random_range(0..10_000)).unwrap();
            let n = rng.random_range(1..50u64);
            let pieces = range.split(n);
            assert_exact_cover(range, &pieces);
            assert!(pieces.len() as u64 <= n);
            let (min, max) = (
                pieces.iter().map(OffsetRange::len).min().unwrap_or(0),
                pieces.iter().map(OffsetRange::len).max().unwrap_or(0),
            );
            assert!(max - min <= 1, "near-equal sizes");
            let max_len = rng.random_range(1..2_000u64);
            let pieces = range.split_by(max_len);
            assert_exact_cover(range, &pieces);
            assert!(pieces.iter().all(|p| p.len() <= max_len));
            assert_eq!(pieces.len() as u64, range.len().div_ceil(max_len));
        }
    }

    #[test]
    fn extreme_ranges_do_not_overflow() {
        let all = OffsetRange::new(i64::MIN, i64::MAX).unwrap();
        assert_eq!(all.len(), u64::MAX);
        let pieces = all.split(7);
        assert_eq!(pieces.len(), 7);
        assert_exact_cover(all, &pieces);
        assert_eq!(OffsetRange::new(3, 5).unwrap().split(10).len(), 2);
        assert!(OffsetRange::new(5, 5).unwrap().split_by(3).is_empty());
        assert!(OffsetRange::new(5, 4).is_err());
    }

    #[test]
    fn json_is_stable_and_round_trips() {
        let cases = [
            (Offset::Position(42), r#"{"position":42}"#),
            (
                Offset::Cursor(Cursor {
                    timestamp: 1_700_000_000_000,
                    tiebreaker: "abc".into(),
                }),
                r#"{"cursor":{"timestamp":1700000000000,"tiebreaker":"abc"}}"#,
            ),
            (
                Offset::Partitions(parts(&[("p1", 9), ("p0", 5)])),
                r#"{"partitions":{"p0":5,"p1":9}}"#,
            ),
        ];
        for (offset, json) in cases {
            assert_eq!(offset.to_json(), json);
            assert_eq!(Offset::from_json(json).unwrap(), offset);
        }
        let range = OffsetRange::new(1, 4).unwrap();
        assert_eq!(
            serde_json::to_string(&range).unwrap(),
            r#"{"start":1,"end":4}"#
        );
        let e = Offset::from_json(r#"{"seq": 1}"#).unwrap_err();
        assert!(e.message().contains("is not a spark-ds offset"), "{e}");
    }

    #[test]
    fn ordering_within_a_kind() {
        assert!(Offset::Position(2) < Offset::Position(10));
        let c = |t, b: &str| {
            Offset::Cursor(Cursor {
                timestamp: t,
                tiebreaker: b.into(),
            })
        };
        assert!(c(1, "z") < c(2, "a"));
        assert!(c(2, "a") < c(2, "b"));
        let mut sorted = vec![c(2, "b"), c(1, "z"), c(2, "a")];
        sorted.sort();
        assert_eq!(sorted, vec![c(1, "z"), c(2, "a"), c(2, "b")]);
    }

    #[test]
    fn partition_maps_plan_ranges_between_them() {
        let start = parts(&[("p0", 5), ("p1", 9)]);
        let end = parts(&[("p0", 12), ("p1", 9), ("p2", 3)]);
        assert!(end.is_at_or_after(&start));
        assert!(!start.is_at_or_after(&end));
        let plan = start.plan(&end, 0, Some(4)).unwrap();
        let got: Vec<(&str, i64, i64)> = plan
            .iter()
            .map(|r| (r.partition.as_str(), r.range.start, r.range.end))
            .collect();
        assert_eq!(got, vec![("p0", 5, 9), ("p0", 9, 12), ("p2", 0, 3)]);
        assert_eq!(start.plan(&end, 0, None).unwrap().len(), 2);
    }

    #[test]
    fn planning_rejects_lost_partitions_and_backwards_offsets() {
        let e = parts(&[("p0", 1), ("p1", 1)])
            .plan(&parts(&[("p0", 2)]), 0, None)
            .unwrap_err();
        assert!(e.message().contains("`p1`"), "{e}");
        let e = parts(&[("p0", 5)])
            .plan(&parts(&[("p0", 2)]), 0, None)
            .unwrap_err();
        assert!(
            e.message()
                .contains("partition `p0`: range end 2 is before its start 5"),
            "{e}"
        );
    }
}
