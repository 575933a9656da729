//! Stream-queue offsets: where a query starts, where a batch read ends, and the offsets
//! Spark checkpoints.
//!
//! A checkpointed offset is core's [`Position`]: before the stream's first message, or just
//! after the message with a given stream offset. Its kind names the queue, so a checkpoint
//! of another queue is refused instead of reading the wrong range. Stream offsets are exact
//! but not contiguous (a segment's first chunk takes an offset and is never delivered), so a
//! range is always "after `a`, up to and including `b`" and never a count.

use spark_ds_core::offsets::Position;
use spark_ds_core::{Error, Result};

use crate::SYSTEM;

/// Where a new query or a batch read starts (`startingOffsets` / `startingTimestamp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// The first message the stream still has.
    First,
    /// The first message of the stream's last chunk.
    Last,
    /// The first message published after the query starts.
    Next,
    /// The message with this offset (or the first after it).
    Offset(u64),
    /// The first message published at or after this time (seconds since the epoch).
    Timestamp(i64),
}

impl StartAt {
    pub fn parse(offsets: &str, timestamp: Option<&str>) -> Result<StartAt> {
        if let Some(ms) = timestamp {
            let ms: i64 = ms.trim().parse().map_err(|_| {
                Error::config(
                    SYSTEM,
                    format!(
                        "option `startingTimestamp` must be a time in ms since the epoch, got `{ms}`"
                    ),
                )
            })?;
            // RabbitMQ keeps second resolution: a time inside a second starts at that second.
            return Ok(StartAt::Timestamp(ms.div_euclid(1000)));
        }
        match offsets.trim().to_ascii_lowercase().as_str() {
            "first" => Ok(StartAt::First),
            "last" => Ok(StartAt::Last),
            "next" => Ok(StartAt::Next),
            other => other.parse().map(StartAt::Offset).map_err(|_| {
                Error::config(
                    SYSTEM,
                    format!(
                        "option `startingOffsets` must be `first`, `last`, `next` or a stream offset (a whole number ≥ 0), got `{offsets}`"
                    ),
                )
            }),
        }
    }
}

/// Where a batch read ends (`endingOffsets`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndAt {
    /// The stream's last message when the read is planned.
    Latest,
    /// Before this offset (exclusive).
    Offset(u64),
}

impl EndAt {
    pub fn parse(text: &str) -> Result<EndAt> {
        match text.trim().to_ascii_lowercase().as_str() {
            "latest" => Ok(EndAt::Latest),
            other => other.parse().map(EndAt::Offset).map_err(|_| {
                Error::config(
                    SYSTEM,
                    format!(
                        "option `endingOffsets` must be `latest` or a stream offset (a whole number ≥ 0, exclusive), got `{text}`"
                    ),
                )
            }),
        }
    }
}

/// A point in one stream queue: before everything, or after the message at an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamPoint {
    Start,
    After(u64),
}

impl StreamPoint {
    /// The first offset this point leaves unread.
    pub fn next_offset(self) -> u64 {
        match self {
            StreamPoint::Start => 0,
            StreamPoint::After(n) => n + 1,
        }
    }

    /// The point just before `offset`.
    pub fn before(offset: u64) -> StreamPoint {
        match offset {
            0 => StreamPoint::Start,
            n => StreamPoint::After(n - 1),
        }
    }

    /// The later of two points.
    pub fn max(self, other: StreamPoint) -> StreamPoint {
        if other.next_offset() > self.next_offset() {
            other
        } else {
            self
        }
    }

    /// The JSON Spark checkpoints for `queue`.
    pub fn to_json(self, queue: &str) -> String {
        let position = match self {
            StreamPoint::Start => Position::Start,
            StreamPoint::After(n) => Position::After {
                key: n.to_string(),
                tie: None,
            },
        };
        position.to_json(&kind(queue))
    }

    /// Parses a checkpointed offset of `queue`.
    pub fn from_json(queue: &str, text: &str) -> Result<StreamPoint> {
        match Position::from_json(SYSTEM, &kind(queue), text)? {
            Position::Start => Ok(StreamPoint::Start),
            Position::After { key, tie: None } => key.parse().map(StreamPoint::After).map_err(|_| {
                Error::config(
                    SYSTEM,
                    format!("the stream's checkpoint holds offset {text}, whose `after` is not a stream offset; start this query with a new checkpointLocation"),
                )
            }),
            Position::After { tie: Some(_), .. } => Err(Error::config(
                SYSTEM,
                format!("the stream's checkpoint holds offset {text}, which has a tie-breaker a stream offset never has; start this query with a new checkpointLocation"),
            )),
        }
    }
}

/// The checkpoint kind of one stream queue.
fn kind(queue: &str) -> String {
    format!("rabbitmq-stream:{queue}")
}

/// Splits the offsets in `(start, end]` into ranges of at most `per_part` offsets, in order.
/// Offsets are not contiguous, so a range may hold fewer messages than offsets, never more.
pub fn split(
    start: StreamPoint,
    end: StreamPoint,
    per_part: u64,
) -> Vec<(StreamPoint, StreamPoint)> {
    let (first, last_excl) = (start.next_offset(), end.next_offset());
    if last_excl <= first {
        return Vec::new();
    }
    let per_part = per_part.max(1);
    let mut parts = Vec::new();
    let mut from = first;
    while from < last_excl {
        let to = from.saturating_add(per_part).min(last_excl);
        parts.push((StreamPoint::before(from), StreamPoint::before(to)));
        from = to;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starting_offsets() {
        assert_eq!(StartAt::parse("FIRST", None).unwrap(), StartAt::First);
        assert_eq!(StartAt::parse("next", None).unwrap(), StartAt::Next);
        assert_eq!(StartAt::parse("7", None).unwrap(), StartAt::Offset(7));
        assert_eq!(
            StartAt::parse("first", Some("1999")).unwrap(),
            StartAt::Timestamp(1)
        );
        assert!(StartAt::parse("latest", None).is_err());
        assert!(EndAt::parse("first").is_err());
        assert_eq!(EndAt::parse("9").unwrap(), EndAt::Offset(9));
    }

    #[test]
    fn points_round_trip_and_refuse_another_queue() {
        for p in [
            StreamPoint::Start,
            StreamPoint::After(0),
            StreamPoint::After(41),
        ] {
            assert_eq!(StreamPoint::from_json("q", &p.to_json("q")).unwrap(), p);
        }
        let e = StreamPoint::from_json("other", &StreamPoint::After(3).to_json("q")).unwrap_err();
        assert!(
            e.message().contains("checkpointLocation"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn split_covers_the_range_once() {
        let parts = split(StreamPoint::After(9), StreamPoint::After(34), 10);
        assert_eq!(
            parts,
            vec![
                (StreamPoint::After(9), StreamPoint::After(19)),
                (StreamPoint::After(19), StreamPoint::After(29)),
                (StreamPoint::After(29), StreamPoint::After(34)),
            ]
        );
        assert_eq!(
            split(StreamPoint::Start, StreamPoint::After(2), 100),
            vec![(StreamPoint::Start, StreamPoint::After(2))]
        );
        assert!(split(StreamPoint::After(5), StreamPoint::After(5), 10).is_empty());
        assert!(split(StreamPoint::After(5), StreamPoint::Start, 10).is_empty());
    }
}
