//! Deciding when to cut a record batch.
//!
//! Spark hands batches across the Python boundary one at a time, so a batch is the unit of
//! memory and latency: too small and per-batch overhead dominates, too large and a wide row
//! set blows memory. A batch is cut at whichever limit comes first.

/// Rows per batch by default: 64k rows measured near Spark's best Arrow throughput.
pub const DEFAULT_MAX_ROWS: usize = 65_536;
/// Estimated bytes per batch by default.
pub const DEFAULT_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Counts the rows and estimated bytes of the batch being built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSizer {
    max_rows: usize,
    max_bytes: usize,
    rows: usize,
    bytes: usize,
}

impl BatchSizer {
    /// Limits of at least one row and one byte, so a batch always makes progress.
    pub fn new(max_rows: usize, max_bytes: usize) -> Self {
        BatchSizer {
            max_rows: max_rows.max(1),
            max_bytes: max_bytes.max(1),
            rows: 0,
            bytes: 0,
        }
    }

    /// Counts one row of about `estimated_bytes`; returns whether the batch should be cut now.
    pub fn add_row(&mut self, estimated_bytes: usize) -> bool {
        self.rows += 1;
        self.bytes = self.bytes.saturating_add(estimated_bytes);
        self.is_full()
    }

    /// Whether a limit is reached.
    pub fn is_full(&self) -> bool {
        self.rows >= self.max_rows || self.bytes >= self.max_bytes
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Starts the next batch; returns the (rows, bytes) of the one just cut.
    pub fn cut(&mut self) -> (usize, usize) {
        let done = (self.rows, self.bytes);
        self.rows = 0;
        self.bytes = 0;
        done
    }
}

impl Default for BatchSizer {
    fn default() -> Self {
        BatchSizer::new(DEFAULT_MAX_ROWS, DEFAULT_MAX_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_the_row_limit() {
        let mut s = BatchSizer::new(3, 1_000_000);
        assert!(!s.add_row(10));
        assert!(!s.add_row(10));
        assert!(s.add_row(10));
        assert_eq!(s.cut(), (3, 30));
        assert!(s.is_empty() && !s.is_full());
    }

    #[test]
    fn cuts_at_the_byte_limit_first_when_rows_are_wide() {
        let mut s = BatchSizer::new(1000, 100);
        assert!(!s.add_row(60));
        assert!(s.add_row(60));
        assert_eq!((s.rows(), s.bytes()), (2, 120));
    }

    #[test]
    fn one_huge_row_still_makes_a_batch_and_zero_limits_mean_one_row() {
        let mut s = BatchSizer::default();
        assert!(s.add_row(usize::MAX));
        assert!(s.add_row(usize::MAX), "saturates instead of overflowing");
        let mut s = BatchSizer::new(0, 0);
        assert!(s.add_row(0));
    }
}
