//! BSON written straight into a byte buffer: elements are appended in place and a
//! document's length is patched in when it ends, so encoding a row allocates nothing per
//! field (building owned `RawBson` values and appending them copied every nested value
//! once per level).

use mongodb::bson::RawDocumentBuf;
use spark_ds_core::{Error, Result};

use crate::SYSTEM;

/// BSON element type bytes (bsonspec.org).
pub(crate) mod tag {
    pub const DOUBLE: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const DOCUMENT: u8 = 0x03;
    pub const ARRAY: u8 = 0x04;
    pub const BINARY: u8 = 0x05;
    pub const OBJECT_ID: u8 = 0x07;
    pub const BOOLEAN: u8 = 0x08;
    pub const DATE_TIME: u8 = 0x09;
    pub const NULL: u8 = 0x0A;
    pub const INT32: u8 = 0x10;
    pub const INT64: u8 = 0x12;
    pub const DECIMAL128: u8 = 0x13;
}

/// An element's key: a field name, or an array position (written as its decimal digits).
#[derive(Clone, Copy)]
pub(crate) enum Key<'a> {
    Name(&'a str),
    Index(usize),
}

impl Key<'_> {
    /// Appends the element header: type byte and key (a C string).
    pub(crate) fn put(self, out: &mut Vec<u8>, tag: u8) {
        out.push(tag);
        match self {
            Key::Name(name) => out.extend_from_slice(name.as_bytes()),
            Key::Index(i) => put_digits(out, i),
        }
        out.push(0);
    }

    /// Appends a whole element whose value is fixed-size bytes (numbers, dates, ObjectId).
    pub(crate) fn put_fixed(self, out: &mut Vec<u8>, tag: u8, value: &[u8]) {
        self.put(out, tag);
        out.extend_from_slice(value);
    }
}

fn put_digits(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Starts a document or array body at the end of `out`; `end` patches its length in.
pub(crate) fn begin(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    at
}

/// Ends the document begun at `at`.
pub(crate) fn end(out: &mut Vec<u8>, at: usize) -> Result<()> {
    out.push(0);
    let len = length(out.len() - at)?;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn length(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| {
        Error::data(
            SYSTEM,
            "write",
            format!("a value of {n} bytes is larger than BSON can hold (2 GiB)"),
        )
    })
}

/// A string value (after its element header).
pub(crate) fn string(out: &mut Vec<u8>, s: &str) -> Result<()> {
    out.extend_from_slice(&length(s.len() + 1)?.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    Ok(())
}

/// A binary value of `subtype` (after its element header).
pub(crate) fn binary(out: &mut Vec<u8>, subtype: u8, bytes: &[u8]) -> Result<()> {
    out.extend_from_slice(&length(bytes.len())?.to_le_bytes());
    out.push(subtype);
    out.extend_from_slice(bytes);
    Ok(())
}

/// A whole document's element: header, then the document's bytes as they are.
pub(crate) fn document(out: &mut Vec<u8>, key: Key<'_>, doc: &RawDocumentBuf) {
    key.put(out, tag::DOCUMENT);
    out.extend_from_slice(doc.as_bytes());
}

/// The bytes of a document built with `begin`/`end` from position 0.
pub(crate) fn finish(bytes: Vec<u8>) -> Result<RawDocumentBuf> {
    RawDocumentBuf::from_bytes(bytes).map_err(malformed)
}

/// A document the writer built does not read back as BSON: a bug here, not bad input.
pub(crate) fn malformed(e: impl std::fmt::Display) -> Error {
    Error::internal(SYSTEM, "write", format!("malformed BSON built: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use mongodb::bson::{Bson, Document, doc};

    use super::*;

    #[test]
    fn documents_written_in_place_read_back() {
        let mut out = Vec::new();
        let top = begin(&mut out);
        Key::Name("s").put(&mut out, tag::STRING);
        string(&mut out, "héllo").unwrap();
        Key::Name("l").put(&mut out, tag::ARRAY);
        let list = begin(&mut out);
        for i in 0..12 {
            Key::Index(i).put(&mut out, tag::INT32);
            out.extend_from_slice(&(i as i32).to_le_bytes());
        }
        end(&mut out, list).unwrap();
        Key::Name("n").put(&mut out, tag::NULL);
        document(
            &mut out,
            Key::Name("d"),
            &mongodb::bson::rawdoc! { "x": 1.5 },
        );
        end(&mut out, top).unwrap();
        let got = Document::try_from(finish(out).unwrap().as_ref()).unwrap();
        let list: Vec<Bson> = (0..12).map(Bson::Int32).collect();
        assert_eq!(
            got,
            doc! { "s": "héllo", "l": list, "n": Bson::Null, "d": { "x": 1.5 } }
        );
    }

    #[test]
    fn array_positions_are_decimal() {
        for n in [0usize, 7, 10, 99, 100, 65_535, usize::MAX] {
            let mut out = Vec::new();
            Key::Index(n).put(&mut out, tag::NULL);
            assert_eq!(&out[1..out.len() - 1], n.to_string().as_bytes());
        }
    }
}
