//! Transparent gzip: any input that starts with the gzip magic bytes is
//! decompressed before it is parsed, whatever its name.

use super::error::{DataError, Place};
use flate2::bufread::MultiGzDecoder;
use std::borrow::Cow;
use std::io::{ErrorKind, Read};

/// Largest decompressed size accepted (4 GiB).
pub const MAX_DECOMPRESSED: u64 = 1 << 32;

/// True if `bytes` start with the gzip magic number `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1F, 0x8B])
}

/// `bytes` decompressed if they are gzip (one or more members), else as
/// they are; the flag says whether they were. Errors name the byte of the
/// compressed file where decoding failed.
pub fn gunzip_if_gzip<'a>(bytes: &'a [u8], name: &str) -> Result<(Cow<'a, [u8]>, bool), DataError> {
    if !is_gzip(bytes) {
        return Ok((Cow::Borrowed(bytes), false));
    }
    let mut decoder = MultiGzDecoder::new(bytes);
    let mut out = Vec::new();
    let result = (&mut decoder)
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out);
    let consumed = (bytes.len() - decoder.get_ref().len()) as u64;
    match result {
        Ok(_) if out.len() as u64 > MAX_DECOMPRESSED => Err(DataError::at(
            name,
            Place::Whole,
            format!("decompresses to more than {MAX_DECOMPRESSED} bytes; the limit is 4 GiB"),
        )),
        Ok(_) => Ok((Cow::Owned(out), true)),
        Err(error) if error.kind() == ErrorKind::UnexpectedEof => Err(DataError::at(
            name,
            Place::Byte(bytes.len() as u64),
            "gzip data ends early, expected more compressed data and the gzip trailer \
             (truncated file?)",
        )),
        Err(error) => Err(DataError::at(
            name,
            Place::Byte(consumed),
            format!("corrupt gzip data ({error}); expected a valid gzip stream"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn plain_bytes_pass_through_and_gzip_decompresses() {
        let (out, gz) = gunzip_if_gzip(b"1,2\n", "a.csv").unwrap();
        assert_eq!((&*out, gz), (&b"1,2\n"[..], false));
        let packed = gzip(b"hello world");
        let (out, gz) = gunzip_if_gzip(&packed, "a.gz").unwrap();
        assert_eq!((&*out, gz), (&b"hello world"[..], true));
        let mut two = gzip(b"ab");
        two.extend(gzip(b"cd"));
        assert_eq!(&*gunzip_if_gzip(&two, "a.gz").unwrap().0, b"abcd");
    }

    #[test]
    fn truncated_gzip_names_the_end() {
        let packed = gzip(&[7u8; 1000]);
        let cut = &packed[..packed.len() - 5];
        let e = gunzip_if_gzip(cut, "x.gz").unwrap_err();
        assert_eq!(e.place, Place::Byte(cut.len() as u64));
        assert!(e.to_string().contains("gzip data ends early"), "{e}");
    }

    #[test]
    fn corrupt_gzip_names_a_byte() {
        let mut packed = gzip(b"some text that compresses somewhat, some text");
        let n = packed.len();
        packed[n - 6] ^= 0xFF; // inside the CRC32 trailer
        let e = gunzip_if_gzip(&packed, "x.gz").unwrap_err();
        assert!(e.to_string().starts_with("x.gz: byte "), "{e}");
        assert!(e.to_string().contains("corrupt gzip data"), "{e}");
        let mut bad = gzip(b"abc");
        bad[3] = 0xE0; // reserved header flag bits
        let e = gunzip_if_gzip(&bad, "y.gz").unwrap_err();
        assert!(e.to_string().contains("corrupt gzip data"), "{e}");
        let e = gunzip_if_gzip(&[0x1F, 0x8B], "z.gz").unwrap_err();
        assert!(e.to_string().contains("ends early"), "{e}");
    }
}
