//! Transparent gzip: any input that starts with the gzip magic bytes is
//! decompressed before it is parsed, whatever its name.

use super::error::{DataError, Place};
use flate2::bufread::GzDecoder;
use std::borrow::Cow;
use std::io::{ErrorKind, Read};

/// Largest decompressed size accepted (1 GiB): a gzip bomb is refused
/// before it takes more memory than that.
pub const MAX_DECOMPRESSED: u64 = 1 << 30;

/// True if `bytes` start with the gzip magic number `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1F, 0x8B])
}

/// Why one member could not be decompressed.
enum Failure {
    Io(std::io::Error),
    TooLarge,
    OutOfMemory,
}

/// Appends the decompressed bytes of `decoder` to `out`, in chunks, within
/// [`MAX_DECOMPRESSED`] and without aborting when memory runs out.
fn inflate_into(decoder: &mut impl Read, out: &mut Vec<u8>) -> Result<(), Failure> {
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Io(e)),
        };
        if (out.len() + n) as u64 > MAX_DECOMPRESSED {
            return Err(Failure::TooLarge);
        }
        out.try_reserve(n).map_err(|_| Failure::OutOfMemory)?;
        out.extend_from_slice(&chunk[..n]);
    }
}

/// `bytes` decompressed if they are gzip (one or more members, optionally
/// followed by zero bytes of padding, which `gzip -t` accepts too), else as
/// they are; the flag says whether they were. Errors name the byte of the
/// compressed file where decoding failed: where a member's data is corrupt,
/// or where data that is not a gzip member follows the last one.
pub fn gunzip_if_gzip<'a>(bytes: &'a [u8], name: &str) -> Result<(Cow<'a, [u8]>, bool), DataError> {
    if !is_gzip(bytes) {
        return Ok((Cow::Borrowed(bytes), false));
    }
    let mut out = Vec::new();
    // The offset of the member being decoded.
    let mut at = 0usize;
    loop {
        let rest = &bytes[at..];
        let mut decoder = GzDecoder::new(rest);
        let result = inflate_into(&mut decoder, &mut out);
        let consumed = rest.len() - decoder.get_ref().len();
        match result {
            Ok(()) => {}
            Err(Failure::TooLarge) => {
                return Err(DataError::at(
                    name,
                    Place::Whole,
                    format!(
                        "decompresses to more than {MAX_DECOMPRESSED} bytes; the limit is 1 GiB"
                    ),
                ));
            }
            Err(Failure::OutOfMemory) => {
                return Err(DataError::at(
                    name,
                    Place::Whole,
                    format!(
                        "out of memory while decompressing, after {} MiB of data",
                        out.len() >> 20
                    ),
                ));
            }
            Err(Failure::Io(error)) if error.kind() == ErrorKind::UnexpectedEof => {
                return Err(DataError::at(
                    name,
                    Place::Byte(bytes.len() as u64),
                    "gzip data ends early, expected more compressed data and the gzip trailer \
                     (truncated file?)",
                ));
            }
            Err(Failure::Io(error)) => {
                return Err(DataError::at(
                    name,
                    Place::Byte((at + consumed) as u64),
                    format!("corrupt gzip data ({error}); expected a valid gzip stream"),
                ));
            }
        }
        at += consumed;
        let tail = &bytes[at..];
        if tail.iter().all(|&b| b == 0) {
            return Ok((Cow::Owned(out), true));
        }
        if !is_gzip(tail) {
            return Err(DataError::at(
                name,
                Place::Byte(at as u64),
                "data after the end of the gzip stream; expected another gzip member \
                 (1f 8b) or the end of the file",
            ));
        }
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

    /// Issue 18: trailing garbage was blamed on the wrong byte, and zero
    /// padding (which `gzip -t` accepts) was refused as a bad header.
    #[test]
    fn trailing_garbage_is_located_and_zero_padding_accepted() {
        let packed = gzip(b"1,2\n3,4\n");
        let mut padded = packed.clone();
        padded.extend([0u8; 512]);
        assert_eq!(&*gunzip_if_gzip(&padded, "p.gz").unwrap().0, b"1,2\n3,4\n");
        let mut garbage = packed.clone();
        garbage.extend(b"hello");
        let e = gunzip_if_gzip(&garbage, "g.gz").unwrap_err();
        assert_eq!(e.place, Place::Byte(packed.len() as u64), "{e}");
        assert!(
            e.to_string().contains("after the end of the gzip stream"),
            "{e}"
        );
        // Garbage after a second member: located after it.
        let mut two = packed.clone();
        two.extend(gzip(b"5,6\n"));
        let end = two.len();
        two.extend([0, 0, 7]);
        let e = gunzip_if_gzip(&two, "t.gz").unwrap_err();
        assert_eq!(e.place, Place::Byte(end as u64), "{e}");
    }
}
