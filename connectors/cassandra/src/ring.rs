//! Token-range planning over the Murmur3 ring.
//!
//! A range is `(start, end]`. Key tokens of Murmur3 lie in `(i64::MIN, i64::MAX]` (the
//! partitioner maps `i64::MIN` to `i64::MAX`), so ranges that tile `(MIN, MAX]` cover every
//! row exactly once. The wrap-around range of the ring `(last, first]` is split at the
//! ends into `(last, MAX]` and `(MIN, first]`; queries for a range starting at `MIN` use
//! `token >= MIN` so nothing is lost whatever the partitioner does with `MIN`.

use serde::{Deserialize, Serialize};

pub const MIN_TOKEN: i64 = i64::MIN;
pub const MAX_TOKEN: i64 = i64::MAX;

/// `(start, end]`, with `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenRange {
    pub start: i64,
    pub end: i64,
}

impl TokenRange {
    /// Number of tokens in the range.
    pub fn width(&self) -> u128 {
        (i128::from(self.end) - i128::from(self.start)) as u128
    }

    /// Whether the query must include the start token (only the range starting at MIN).
    pub fn includes_start(&self) -> bool {
        self.start == MIN_TOKEN
    }

    /// Splits into `n` contiguous pieces of nearly equal width.
    pub fn split(&self, n: u128) -> Vec<TokenRange> {
        let n = n.clamp(1, self.width().max(1));
        let width = self.width();
        let mut out = Vec::with_capacity(n as usize);
        let mut start = self.start;
        for i in 1..=n {
            let end = if i == n {
                self.end
            } else {
                (i128::from(self.start) + (width * i / n) as i128) as i64
            };
            if end > start {
                out.push(TokenRange { start, end });
                start = end;
            }
        }
        out
    }
}

/// A ring range with the node owning it (its primary replica).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedRange<N> {
    pub range: TokenRange,
    pub owner: N,
}

/// The ring's ranges from sorted `(token, owner)` pairs: `(t[i-1], t[i]]` owned by the owner
/// of `t[i]`, and the wrap-around range owned by the owner of the first token.
pub fn ring_ranges<N: Clone>(ring: &[(i64, N)]) -> Vec<OwnedRange<N>> {
    let mut sorted: Vec<(i64, N)> = ring.to_vec();
    sorted.sort_by_key(|(t, _)| *t);
    sorted.dedup_by_key(|(t, _)| *t);
    let Some((first, first_owner)) = sorted.first().cloned() else {
        return vec![];
    };
    let Some((last, _)) = sorted.last().cloned() else {
        return vec![];
    };
    let mut out = Vec::with_capacity(sorted.len() + 1);
    if first > MIN_TOKEN {
        out.push(OwnedRange {
            range: TokenRange {
                start: MIN_TOKEN,
                end: first,
            },
            owner: first_owner.clone(),
        });
    }
    for pair in sorted.windows(2) {
        out.push(OwnedRange {
            range: TokenRange {
                start: pair[0].0,
                end: pair[1].0,
            },
            owner: pair[1].1.clone(),
        });
    }
    if last < MAX_TOKEN {
        out.push(OwnedRange {
            range: TokenRange {
                start: last,
                end: MAX_TOKEN,
            },
            owner: first_owner,
        });
    }
    out
}

/// One planned read partition: ranges owned by one replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split<N> {
    pub owner: N,
    pub ranges: Vec<TokenRange>,
}

/// Cuts the ring into exactly `count` splits (one per owner at least, so `count` is
/// raised to the number of owners), each owned by one replica. Owners get splits in
/// proportion to the tokens they own; within an owner, its ranges in token order are cut
/// into pieces of equal width, and adjacent pieces of one split are merged.
pub fn plan_splits<N: Clone + Ord>(ranges: &[OwnedRange<N>], count: usize) -> Vec<Split<N>> {
    let mut owners: Vec<(N, Vec<TokenRange>)> = Vec::new();
    let mut sorted: Vec<&OwnedRange<N>> = ranges.iter().filter(|r| r.range.width() > 0).collect();
    sorted.sort_by(|a, b| a.owner.cmp(&b.owner).then(a.range.cmp(&b.range)));
    for r in sorted {
        match owners.last_mut() {
            Some((owner, list)) if *owner == r.owner => list.push(r.range),
            _ => owners.push((r.owner.clone(), vec![r.range])),
        }
    }
    let widths: Vec<u128> = owners
        .iter()
        .map(|(_, list)| list.iter().map(TokenRange::width).sum())
        .collect();
    let shares = apportion(&widths, count);
    owners
        .into_iter()
        .zip(shares)
        .flat_map(|((owner, list), k)| {
            cut_evenly(&list, k).into_iter().map(move |ranges| Split {
                owner: owner.clone(),
                ranges,
            })
        })
        .collect()
}

/// Splits `count` among owners in proportion to `widths` (largest remainder), at least one
/// each; the shares sum to `max(count, owners)`.
fn apportion(widths: &[u128], count: usize) -> Vec<usize> {
    let total: u128 = widths.iter().sum();
    if widths.is_empty() || total == 0 {
        return vec![1; widths.len()];
    }
    let count = count.max(widths.len());
    let extra = (count - widths.len()) as u128;
    // Everyone gets one; the rest goes by width, fractions settled largest first.
    let exact: Vec<(u128, u128)> = widths
        .iter()
        .map(|w| ((extra * w) / total, (extra * w) % total))
        .collect();
    let mut shares: Vec<usize> = exact.iter().map(|(q, _)| 1 + *q as usize).collect();
    let mut left = count - shares.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..widths.len()).collect();
    order.sort_by(|&a, &b| exact[b].1.cmp(&exact[a].1).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

/// Cuts `ranges` (in token order) into `k` groups of equal total width; a range may be
/// cut across two groups. Fewer groups only when there are fewer tokens than `k`.
fn cut_evenly(ranges: &[TokenRange], k: usize) -> Vec<Vec<TokenRange>> {
    let total: u128 = ranges.iter().map(TokenRange::width).sum();
    let k = (k.max(1) as u128).min(total.max(1));
    let mut groups: Vec<Vec<TokenRange>> = Vec::with_capacity(k as usize);
    let mut current: Vec<TokenRange> = Vec::new();
    let mut done = 0u128; // width already placed in earlier groups and `current`
    let mut boundary = 1u128; // the group `current` fills
    for range in ranges {
        let mut start = range.start;
        while start < range.end {
            let left_in_range = (i128::from(range.end) - i128::from(start)) as u128;
            let goal = total * boundary / k;
            let take = if boundary == k {
                left_in_range
            } else {
                left_in_range.min(goal - done)
            };
            let end = (i128::from(start) + take as i128) as i64;
            if end > start {
                match current.last_mut() {
                    Some(last) if last.end == start => last.end = end,
                    _ => current.push(TokenRange { start, end }),
                }
            }
            done += take;
            start = end;
            if boundary < k && done == goal {
                groups.push(std::mem::take(&mut current));
                boundary += 1;
            }
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// Number of splits wanted for a table of `bytes` (estimated) with `nodes` nodes.
///
/// The planner cannot see how many cores Spark has, so even a small table gets enough
/// splits to keep a few executors' cores busy (and each node serving several ranges at
/// once); a split costs Spark a task, tens of milliseconds.
pub fn split_count(bytes: u64, split_size_mb: u64, nodes: usize) -> usize {
    let minimum = 4 + 4 * nodes.max(1);
    let by_size = bytes.div_ceil((split_size_mb.max(1)) * 1024 * 1024) as usize;
    by_size.max(minimum)
}

/// Estimated table size from `system.size_estimates` rows `(start, end, partitions, mean
/// partition size)` of one node, extrapolated to the whole ring by the share they cover.
pub fn estimate_bytes(rows: &[(i64, i64, i64, i64)]) -> u64 {
    let mut covered: u128 = 0;
    let mut bytes: u128 = 0;
    for &(start, end, partitions, mean) in rows {
        let width = if end > start {
            (i128::from(end) - i128::from(start)) as u128
        } else {
            // A wrapping range (or the full ring as (MIN, MIN]).
            (1u128 << 64) - (i128::from(start) - i128::from(end)) as u128
        };
        covered += width;
        bytes += (partitions.max(0) as u128) * (mean.max(0) as u128);
    }
    if covered == 0 || bytes == 0 {
        return 0;
    }
    let total = bytes * (1u128 << 64) / covered.min(1u128 << 64);
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// Cuts `ranges` into at least `at_least` pieces, each range in proportion to its width,
/// so a task can scan that many pieces at once. The pieces tile the same tokens.
pub fn subdivide(ranges: &[TokenRange], at_least: usize) -> Vec<TokenRange> {
    let total: u128 = ranges.iter().map(TokenRange::width).sum();
    if ranges.len() >= at_least || total == 0 {
        return ranges.to_vec();
    }
    let want = at_least as u128;
    ranges
        .iter()
        .flat_map(|r| r.split((want * r.width()).div_ceil(total).max(1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdivide_tiles_the_same_tokens() {
        let ranges = [
            TokenRange {
                start: MIN_TOKEN,
                end: -1000,
            },
            TokenRange { start: 10, end: 30 },
        ];
        let pieces = subdivide(&ranges, 4);
        assert!(pieces.len() >= 4, "{pieces:?}");
        assert_eq!(
            pieces[0].start, MIN_TOKEN,
            "the MIN-inclusive piece stays first"
        );
        let covered: u128 = pieces.iter().map(TokenRange::width).sum();
        assert_eq!(covered, ranges.iter().map(TokenRange::width).sum::<u128>());
        for w in pieces.windows(2) {
            assert!(w[0].end <= w[1].start, "ordered, no overlap: {w:?}");
        }
        assert!(pieces.iter().all(|p| p.start < p.end));
        // Enough ranges already: unchanged.
        assert_eq!(subdivide(&ranges, 2), ranges.to_vec());
        // A range narrower than the pieces asked for splits into single tokens at most.
        let tiny = [TokenRange { start: 5, end: 7 }];
        assert_eq!(subdivide(&tiny, 8).len(), 2);
    }

    /// Checks that the ranges tile (MIN, MAX] exactly: sorted, contiguous, no overlap.
    fn assert_tiles(mut ranges: Vec<TokenRange>) {
        ranges.sort();
        assert_eq!(ranges.first().unwrap().start, MIN_TOKEN);
        assert_eq!(ranges.last().unwrap().end, MAX_TOKEN);
        for w in ranges.windows(2) {
            assert_eq!(
                w[0].end, w[1].start,
                "gap or overlap between {:?} and {:?}",
                w[0], w[1]
            );
        }
        for r in &ranges {
            assert!(r.start < r.end, "{r:?}");
        }
        let total: u128 = ranges.iter().map(TokenRange::width).sum();
        assert_eq!(total, u64::MAX as u128);
    }

    /// Which split a token belongs to, by the query predicates.
    fn covering(splits: &[Split<u8>], token: i64) -> usize {
        splits
            .iter()
            .flat_map(|s| s.ranges.iter())
            .filter(|r| {
                (token > r.start || (r.includes_start() && token >= r.start)) && token <= r.end
            })
            .count()
    }

    fn pseudo_ring(nodes: u8, vnodes: usize, seed: u64) -> Vec<(i64, u8)> {
        let mut x = seed;
        let mut ring = Vec::new();
        for n in 0..nodes {
            for _ in 0..vnodes {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ring.push((x as i64, n));
            }
        }
        ring
    }

    #[test]
    fn ring_ranges_cover_with_wraparound() {
        let ring = vec![(100, 'a'), (-50, 'b'), (7, 'c')];
        let r = ring_ranges(&ring);
        assert_eq!(r.len(), 4);
        assert_eq!(
            r[0],
            OwnedRange {
                range: TokenRange {
                    start: MIN_TOKEN,
                    end: -50
                },
                owner: 'b'
            }
        );
        assert_eq!(r[1].owner, 'c');
        assert_eq!(
            r[2],
            OwnedRange {
                range: TokenRange { start: 7, end: 100 },
                owner: 'a'
            }
        );
        assert_eq!(
            r[3],
            OwnedRange {
                range: TokenRange {
                    start: 100,
                    end: MAX_TOKEN
                },
                owner: 'b'
            }
        );
        assert_tiles(r.into_iter().map(|o| o.range).collect());
        // Tokens at the very ends of the ring.
        let r = ring_ranges(&[(MIN_TOKEN, 1), (0, 2), (MAX_TOKEN, 3)]);
        assert_tiles(r.iter().map(|o| o.range).collect());
        assert_eq!(r.len(), 2);
        // A single token.
        assert_tiles(
            ring_ranges(&[(42, ())])
                .into_iter()
                .map(|o| o.range)
                .collect(),
        );
    }

    #[test]
    fn splitting_a_range_is_exact() {
        let r = TokenRange {
            start: MIN_TOKEN,
            end: MAX_TOKEN,
        };
        for n in [1, 2, 3, 7, 1000] {
            let parts = r.split(n);
            assert_eq!(parts.len() as u128, n);
            assert_tiles(parts);
        }
        assert_eq!(TokenRange { start: 0, end: 2 }.split(10).len(), 2);
    }

    #[test]
    fn plans_tile_the_ring_and_keep_one_owner_per_split() {
        for (nodes, vnodes, count) in [
            (1, 16, 3),
            (3, 16, 1),
            (3, 256, 50),
            (5, 8, 1000),
            (2, 1, 7),
        ] {
            let ring = pseudo_ring(nodes, vnodes, 0x9E3779B97F4A7C15 + u64::from(nodes));
            let owned = ring_ranges(&ring);
            let splits = plan_splits(&owned, count);
            assert_tiles(splits.iter().flat_map(|s| s.ranges.clone()).collect());
            // Every piece belongs to the split's owner.
            for s in &splits {
                for piece in &s.ranges {
                    let owner = owned
                        .iter()
                        .find(|o| o.range.start <= piece.start && piece.end <= o.range.end)
                        .map(|o| o.owner);
                    assert!(
                        owned
                            .iter()
                            .filter(|o| o.range.start < piece.end && piece.start < o.range.end)
                            .all(|o| o.owner == s.owner),
                        "{piece:?} crosses owners ({owner:?})"
                    );
                }
            }
            assert_eq!(
                splits.len(),
                count.max(usize::from(nodes)),
                "splits for {count} over {nodes} nodes"
            );
            assert!(splits.iter().all(|s| !s.ranges.is_empty()));
            for t in [
                MIN_TOKEN + 1,
                MIN_TOKEN,
                -1,
                0,
                1,
                MAX_TOKEN,
                ring[0].0,
                ring[0].0 + 1,
            ] {
                assert_eq!(covering(&splits, t), 1, "token {t}");
            }
        }
    }

    #[test]
    fn one_owner_splits_have_equal_width() {
        let ring = pseudo_ring(1, 16, 0x2545F4914F6CDD1D);
        let splits = plan_splits(&ring_ranges(&ring), 8);
        assert_eq!(splits.len(), 8);
        let widths: Vec<u128> = splits
            .iter()
            .map(|s| s.ranges.iter().map(TokenRange::width).sum())
            .collect();
        let (lo, hi) = (widths.iter().min().unwrap(), widths.iter().max().unwrap());
        assert!(hi - lo <= 1, "{widths:?}");
    }

    #[test]
    fn owners_get_splits_by_share_and_at_least_one() {
        assert_eq!(apportion(&[30, 10], 4), vec![3, 1]);
        assert_eq!(apportion(&[1, 1, 1], 2), vec![1, 1, 1]);
        assert_eq!(apportion(&[5, 5], 3).iter().sum::<usize>(), 3);
        assert_eq!(apportion(&[1000, 1], 10), vec![9, 1]);
    }

    #[test]
    fn sizes() {
        assert_eq!(split_count(0, 64, 1), 8);
        assert_eq!(split_count(640 * 1024 * 1024, 64, 1), 10);
        // Half the ring holding 100 partitions of 1000 bytes → 200,000 bytes overall.
        let half = [(MIN_TOKEN, 0, 100, 1000)];
        assert_eq!(estimate_bytes(&half), 200_000);
        assert_eq!(estimate_bytes(&[]), 0);
    }
}
