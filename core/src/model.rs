//! The saved-model format: a network's shape, activation, L2 coefficient,
//! an optional input transform, its parameters and optional sections, in a
//! small versioned binary that a microcontroller can read in place (no
//! allocation).
//!
//! # Format, version 2 (all integers and floats little-endian)
//! | bytes | field |
//! |---|---|
//! | 8 | magic `SOOTHMDL` |
//! | 2 | version, `2` |
//! | 1 | activation: 0 ReLU, 1 tanh |
//! | 1 | number of widths `k` (2..=8) |
//! | 4 k | widths, `u32`, input first |
//! | 4 | L2 coefficient, `f32` |
//! | 1 | input transform: 0 none, 1 per-feature `x' = (x - offset) / divisor` |
//! | 16 w | if 1: `w` = input width pairs of `f64` (offset, divisor); the
//! |  | transform is computed in f64 and rounded once to f32 |
//! | 4 | parameter count `n`, `u32` (must equal the shape's) |
//! | 4 n | parameters, `f32`, in the core's flat layout |
//! | 8 | `param_hash` of the parameters (FNV-1a 64, as `sooth train` prints) |
//! | 4 | `s`: the bytes of the sections that follow, `u32` |
//! | s | sections, each `u16` id (non-zero, strictly increasing), `u32` length `m`, `m` bytes |
//! | 8 | checksum: FNV-1a 64 of every byte before it |
//!
//! The checksum covers every byte of the file, so any corruption (a flipped
//! bit in the input transform as in the parameters) is found; a model whose
//! parameters do not hash to `param_hash` is also refused. Sections carry
//! what later versions of the tool add (ids in [`section`]); a reader skips
//! the ids it does not know, and [`SavedModel::section`] gives a section's
//! bytes in place.
//!
//! Version 1 is version 2 without the sections and the checksum (its
//! trailing hash covered the parameters only); it still reads
//! ([`SavedModel::version`] tells, so tools can note it).

use crate::error::{Error, check_len};
use crate::hash::param_hash;
use crate::network::{Activation, MAX_WIDTHS, Mlp, Shape};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"SOOTHMDL";
/// The version this code writes.
pub const VERSION: u16 = 2;
/// The oldest version this code reads.
pub const OLDEST_VERSION: u16 = 1;

/// The ids of the optional sections of a model file (format version 2).
/// Id 0 is never used. The bytes of each section are defined by the code
/// that writes it; readers skip ids they do not know.
pub mod section {
    /// The names of the classes, in label order: UTF-8, one name per line
    /// (`\n` after each).
    pub const CLASS_NAMES: u16 = 1;
    /// The data split the model was trained on (which file, which rows).
    pub const DATA_SPLIT: u16 = 2;
}

/// Bytes a section of `body_len` bytes takes in a model file (id and length
/// before its bytes).
pub const fn section_len(body_len: usize) -> usize {
    2 + 4 + body_len
}

/// One optional section of a model file: an id (see [`section`]) and its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section<'a> {
    /// The section's id, non-zero.
    pub id: u16,
    /// Its bytes.
    pub body: &'a [u8],
}

/// The sections of a model, read in place (see [`SavedModel::sections`]).
#[derive(Clone, Copy, Debug)]
pub struct Sections<'a> {
    bytes: &'a [u8],
}

impl<'a> Iterator for Sections<'a> {
    type Item = Section<'a>;
    fn next(&mut self) -> Option<Section<'a>> {
        // The framing was checked by `SavedModel::read`.
        let b = self.bytes;
        if b.len() < 6 {
            return None;
        }
        let id = u16::from_le_bytes([b[0], b[1]]);
        let len = u32::from_le_bytes([b[2], b[3], b[4], b[5]]) as usize;
        let body = b.get(6..6 + len)?;
        self.bytes = &b[6 + len..];
        Some(Section { id, body })
    }
}

/// A saved model, read in place from a byte slice.
#[derive(Clone, Copy, Debug)]
pub struct SavedModel<'a> {
    mlp: Mlp,
    version: u16,
    transform: Option<&'a [u8]>,
    params: &'a [u8],
    hash: u64,
    sections: &'a [u8],
}

/// Bytes of a model of `shape` (with a transform of the input if
/// `transform`) and no sections; add [`section_len`] of each section.
pub const fn saved_len(shape: &Shape, transform: bool) -> usize {
    saved_len_v1(shape, transform) + 4 + 8
}

/// Bytes of a version 1 model.
const fn saved_len_v1(shape: &Shape, transform: bool) -> usize {
    let widths = shape.widths().len();
    8 + 2
        + 1
        + 1
        + 4 * widths
        + 4
        + 1
        + if transform { 16 * shape.inputs() } else { 0 }
        + 4
        + 4 * shape.param_count()
        + 8
}

/// A cursor over the bytes with the error of the format.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, expected: &'static str) -> Result<&'a [u8], Error> {
        if self.bytes.len() - self.at < n {
            return Err(Error::Format {
                offset: self.bytes.len(),
                expected,
            });
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }
    fn u8(&mut self, expected: &'static str) -> Result<u8, Error> {
        Ok(self.take(1, expected)?[0])
    }
    fn u32(&mut self, expected: &'static str) -> Result<u32, Error> {
        let b = self.take(4, expected)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn fail<T>(&self, at: usize, expected: &'static str) -> Result<T, Error> {
        Err(Error::Format {
            offset: at,
            expected,
        })
    }
}

impl<'a> SavedModel<'a> {
    /// Reads and checks a saved model: magic, version, shape, sizes, finite
    /// values and the trailing hash. Errors name the byte offset.
    pub fn read(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8, "the magic bytes SOOTHMDL (not a sooth model)")? != MAGIC {
            return r.fail(0, "the magic bytes SOOTHMDL (not a sooth model)");
        }
        let at = r.at;
        let v = r.take(2, "a format version")?;
        let version = u16::from_le_bytes([v[0], v[1]]);
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return r.fail(at, "format version 1 or 2");
        }
        if version >= 2 {
            // Every byte is checked before any is believed; a file that
            // fails the check because it is cut short is reported as such.
            let corrupt = match bytes.len().checked_sub(8) {
                Some(body) => {
                    let stored = u64::from_le_bytes(bytes[body..].try_into().unwrap_or([0; 8]));
                    (fnv1a(&bytes[..body]) != stored).then_some(body)
                }
                None => Some(bytes.len()),
            };
            if let Some(at) = corrupt {
                return match Self::parse(bytes, version) {
                    Err(e @ Error::Format { offset, .. }) if offset == bytes.len() => Err(e),
                    _ => r.fail(at, "the checksum of the file's bytes (the file is corrupt)"),
                };
            }
        }
        Self::parse(bytes, version)
    }

    /// Reads the fields after the version (checked by [`read`](Self::read)).
    fn parse(bytes: &'a [u8], version: u16) -> Result<Self, Error> {
        let mut r = Reader { bytes, at: 10 };
        let at = r.at;
        let activation = match r.u8("an activation")? {
            0 => Activation::Relu,
            1 => Activation::Tanh,
            _ => return r.fail(at, "activation 0 (relu) or 1 (tanh)"),
        };
        let at = r.at;
        let k = usize::from(r.u8("the number of layer widths")?);
        if !(2..=MAX_WIDTHS).contains(&k) {
            return r.fail(at, "2 to 8 layer widths");
        }
        let mut widths = [0usize; MAX_WIDTHS];
        for w in widths.iter_mut().take(k) {
            *w = r.u32("a layer width")? as usize;
        }
        let shape = Shape::new(&widths[..k])
            .or_else(|_| r.fail(at + 1, "non-zero layer widths with at least 2 outputs"))?;
        let at = r.at;
        let l2 = f32::from_le_bytes(
            r.take(4, "the L2 coefficient")?
                .try_into()
                .unwrap_or([0; 4]),
        );
        let mlp = Mlp::new(shape, activation)
            .with_l2(l2)
            .or_else(|_| r.fail(at, "a finite L2 coefficient >= 0"))?;
        let at = r.at;
        let transform = match r.u8("an input transform kind")? {
            0 => None,
            1 => {
                let at = r.at;
                let t = r.take(16 * shape.inputs(), "the input transform")?;
                for (i, pair) in t.chunks_exact(16).enumerate() {
                    let (offset, divisor) = transform_pair(pair);
                    if !offset.is_finite() || !divisor.is_finite() || divisor == 0.0 {
                        return r.fail(at + 16 * i, "finite transform values, non-zero divisors");
                    }
                }
                Some(t)
            }
            _ => return r.fail(at, "input transform 0 (none) or 1 (offset, divisor)"),
        };
        let at = r.at;
        let n = r.u32("the parameter count")? as usize;
        if n != shape.param_count() {
            return r.fail(at, "a parameter count that matches the layer widths");
        }
        let params_at = r.at;
        let params = r.take(4 * n, "the parameters")?;
        let hash_bytes = r.take(8, "the parameter hash")?;
        let hash = u64::from_le_bytes(hash_bytes.try_into().unwrap_or([0; 8]));
        let sections = if version >= 2 {
            let at = r.at;
            let s = r.u32("the length of the sections")? as usize;
            let sections = r.take(s, "the sections")?;
            check_sections(sections, at + 4)?;
            r.take(8, "the checksum")?;
            sections
        } else {
            &[]
        };
        if r.at != bytes.len() {
            return r.fail(r.at, "the end of the model");
        }
        let model = SavedModel {
            mlp,
            version,
            transform,
            params,
            hash,
            sections,
        };
        let mut h = HashStream::new();
        for (i, b) in params.chunks_exact(4).enumerate() {
            let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if !v.is_finite() {
                return r.fail(params_at + 4 * i, "finite parameters");
            }
            h.push(v);
        }
        if h.finish() != hash {
            return r.fail(
                params_at + 4 * n,
                "the hash of the parameters (the file is corrupt)",
            );
        }
        Ok(model)
    }

    /// The network (shape, activation, L2).
    pub fn mlp(&self) -> Mlp {
        self.mlp
    }

    /// The format version of the file (1 or 2).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The optional sections, in id order (none in version 1).
    pub fn sections(&self) -> Sections<'a> {
        Sections {
            bytes: self.sections,
        }
    }

    /// The bytes of section `id` (see [`section`]), if the model has it.
    pub fn section(&self, id: u16) -> Option<&'a [u8]> {
        self.sections().find(|s| s.id == id).map(|s| s.body)
    }

    /// The parameter hash stored with the model.
    pub fn param_hash(&self) -> u64 {
        self.hash
    }

    /// True if the model carries an input transform.
    pub fn has_transform(&self) -> bool {
        self.transform.is_some()
    }

    /// Copies the parameters into `out` (exactly the parameter count).
    pub fn read_params(&self, out: &mut [f32]) -> Result<(), Error> {
        check_len(crate::Buffer::Params, self.params.len() / 4, out.len())?;
        for (o, b) in out.iter_mut().zip(self.params.chunks_exact(4)) {
            *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Ok(())
    }

    /// Applies the input transform to one sample's features in place
    /// (`x' = ((x as f64 - offset) / divisor) as f32`); no-op without one.
    pub fn transform_input(&self, features: &mut [f32]) {
        if let Some(t) = self.transform {
            for (x, pair) in features.iter_mut().zip(t.chunks_exact(16)) {
                let (offset, divisor) = transform_pair(pair);
                *x = ((f64::from(*x) - offset) / divisor) as f32;
            }
        }
    }

    /// The input transform's (offset, divisor) of feature `j`, if any.
    pub fn transform_of(&self, j: usize) -> Option<(f64, f64)> {
        let t = self.transform?;
        t.chunks_exact(16).nth(j).map(transform_pair)
    }
}

/// Writes a model without sections into `out` and returns the bytes
/// written ([`saved_len`]). `transform` holds (offset, divisor) per input
/// feature.
pub fn write_model(
    mlp: &Mlp,
    params: &[f32],
    transform: Option<&[(f64, f64)]>,
    out: &mut [u8],
) -> Result<usize, Error> {
    write_model_with(mlp, params, transform, &[], out)
}

/// Writes a model with `sections` (ids non-zero and strictly increasing)
/// into `out` and returns the bytes written: [`saved_len`] plus
/// [`section_len`] of each section.
pub fn write_model_with(
    mlp: &Mlp,
    params: &[f32],
    transform: Option<&[(f64, f64)]>,
    sections: &[Section<'_>],
    out: &mut [u8],
) -> Result<usize, Error> {
    let shape = mlp.shape();
    check_len(crate::Buffer::Params, shape.param_count(), params.len())?;
    if let Some(t) = transform {
        check_len(crate::Buffer::Features, shape.inputs(), t.len())?;
    }
    let mut sections_len = 0usize;
    let mut last_id = 0u16;
    for s in sections {
        if s.id <= last_id || u32::try_from(s.body.len()).is_err() {
            return Err(Error::Format {
                offset: 0,
                expected: "sections with non-zero, increasing ids and bodies under 4 GiB",
            });
        }
        last_id = s.id;
        sections_len = sections_len.saturating_add(section_len(s.body.len()));
    }
    let Ok(sections_len_u32) = u32::try_from(sections_len) else {
        return Err(Error::Format {
            offset: 0,
            expected: "sections of less than 4 GiB in all",
        });
    };
    let len = saved_len(&shape, transform.is_some()).saturating_add(sections_len);
    crate::error::check_min_len(crate::Buffer::Params, len, out.len()).map_err(|_| {
        Error::Format {
            offset: out.len(),
            expected: "an output buffer of saved_len bytes",
        }
    })?;
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(MAGIC);
    put(&VERSION.to_le_bytes());
    put(&[match mlp.activation() {
        Activation::Relu => 0,
        Activation::Tanh => 1,
    }]);
    put(&[shape.widths().len() as u8]);
    for &w in shape.widths() {
        put(&(w as u32).to_le_bytes());
    }
    put(&mlp.l2().to_le_bytes());
    match transform {
        None => put(&[0]),
        Some(t) => {
            put(&[1]);
            for &(offset, divisor) in t {
                put(&offset.to_le_bytes());
                put(&divisor.to_le_bytes());
            }
        }
    }
    put(&(params.len() as u32).to_le_bytes());
    for p in params {
        put(&p.to_le_bytes());
    }
    put(&param_hash(params).to_le_bytes());
    put(&sections_len_u32.to_le_bytes());
    for s in sections {
        put(&s.id.to_le_bytes());
        put(&(s.body.len() as u32).to_le_bytes());
        put(s.body);
    }
    let checksum = fnv1a(&out[..len - 8]);
    out[len - 8..len].copy_from_slice(&checksum.to_le_bytes());
    Ok(len)
}

/// Checks the framing of the sections `bytes`, which start at byte `at` of
/// the file: each fits, ids are non-zero and strictly increasing.
fn check_sections(bytes: &[u8], at: usize) -> Result<(), Error> {
    let mut i = 0;
    let mut last_id = 0u16;
    while i < bytes.len() {
        let fail = |offset, expected| Err(Error::Format { offset, expected });
        if bytes.len() - i < 6 {
            return fail(at + i, "a section's id and length");
        }
        let id = u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        if id <= last_id {
            return fail(at + i, "a section id above the previous one (and not 0)");
        }
        last_id = id;
        let len = u32::from_le_bytes([bytes[i + 2], bytes[i + 3], bytes[i + 4], bytes[i + 5]]);
        if bytes.len() - i - 6 < len as usize {
            return fail(at + i + 2, "a section length within the sections");
        }
        i += 6 + len as usize;
    }
    Ok(())
}

/// FNV-1a 64 of `bytes` (the same function as [`param_hash`], over bytes).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn transform_pair(pair: &[u8]) -> (f64, f64) {
    let f = |b: &[u8]| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    (f(&pair[..8]), f(&pair[8..16]))
}

/// [`param_hash`] computed value by value.
struct HashStream(u64);

impl HashStream {
    fn new() -> Self {
        HashStream(0xcbf2_9ce4_8422_2325)
    }
    fn push(&mut self, v: f32) {
        for b in v.to_bits().to_le_bytes() {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> (Mlp, [f32; 22]) {
        let mlp = Mlp::new(Shape::new(&[2, 4, 2]).unwrap(), Activation::Tanh)
            .with_l2(0.01)
            .unwrap();
        let mut p = [0.0f32; 22];
        for (i, v) in p.iter_mut().enumerate() {
            *v = i as f32 * 0.25 - 2.0;
        }
        (mlp, p)
    }

    #[test]
    fn round_trip() {
        let (mlp, p) = model();
        let mut buf = [0u8; 256];
        let t = [(0.5f64, 2.0f64), (-1.0, 4.0)];
        let len = write_model(&mlp, &p, Some(&t), &mut buf).unwrap();
        assert_eq!(len, saved_len(&mlp.shape(), true));
        let m = SavedModel::read(&buf[..len]).unwrap();
        assert_eq!((m.version(), m.mlp()), (VERSION, mlp));
        assert_eq!(m.param_hash(), param_hash(&p));
        let mut q = [0.0f32; 22];
        m.read_params(&mut q).unwrap();
        assert_eq!(p, q);
        let mut x = [1.5f32, 3.0];
        m.transform_input(&mut x);
        assert_eq!(x, [0.5, 1.0]);
        let len = write_model(&mlp, &p, None, &mut buf).unwrap();
        assert!(!SavedModel::read(&buf[..len]).unwrap().has_transform());
    }

    /// Found by fuzzing (fuzz/fuzz_targets/model.rs): widths of ~2^31 made
    /// the parameter count overflow (a panic in debug builds). Now an error.
    #[test]
    fn widths_whose_sizes_overflow_are_refused() {
        let crash: [u8; 50] = [
            0x53, 0x4f, 0x4f, 0x54, 0x48, 0x4d, 0x44, 0x4c, 0x01, 0x00, 0x00, 0x07, 0x07, 0x94,
            0xbd, 0x20, 0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x13, 0x01, 0x00, 0x00,
            0x07, 0x94, 0xbd, 0xcc, 0xc9, 0x94, 0x3d, 0x28, 0xc9, 0x94, 0x3d, 0x28, 0x20, 0xfb,
            0xdf, 0x3d, 0x00, 0x03, 0x00, 0x00, 0x53, 0x00,
        ];
        assert!(matches!(
            SavedModel::read(&crash),
            Err(Error::Format { offset: 12, .. })
        ));
    }

    #[test]
    fn corruption_is_found_and_located() {
        let (mlp, p) = model();
        let mut buf = [0u8; 256];
        let len = write_model(&mlp, &p, None, &mut buf).unwrap();
        let bytes = &buf[..len];
        let offset = |b: &[u8]| match SavedModel::read(b) {
            Err(Error::Format { offset, .. }) => offset,
            other => panic!("{other:?}"),
        };
        let mut bad = [0u8; 256];
        bad[..len].copy_from_slice(bytes);
        bad[0] = b'X';
        assert_eq!(offset(&bad[..len]), 0);
        bad[..len].copy_from_slice(bytes);
        bad[8] = 3;
        assert_eq!(offset(&bad[..len]), 8);
        // Any other changed byte: the checksum (before the last 8 bytes),
        // or, where a changed length makes the file look cut short, its end.
        for at in 10..len {
            bad[..len].copy_from_slice(bytes);
            bad[at] ^= 0x80;
            let found = offset(&bad[..len]);
            assert!(found == len - 8 || found == len, "byte {at}: {found}");
        }
        bad[..len].copy_from_slice(bytes);
        bad[40] ^= 1;
        assert_eq!(offset(&bad[..len]), len - 8);
        // Truncated: named at its end; trailing garbage: the checksum.
        assert_eq!(offset(&bytes[..len - 3]), len - 3);
        assert_eq!(offset(&bytes[..len - 20]), len - 20);
        bad[..len].copy_from_slice(bytes);
        assert_eq!(offset(&bad[..len + 1]), len + 1 - 8);
        assert_eq!(offset(&[]), 0);
    }

    /// Issue 18: a flipped bit of the stored input scaling went unnoticed
    /// (the hash covered the parameters only).
    #[test]
    fn a_flipped_bit_of_the_input_transform_is_found() {
        let (mlp, p) = model();
        let mut buf = [0u8; 256];
        let t = [(0.5f64, 2.0f64), (-1.0, 4.0)];
        let len = write_model(&mlp, &p, Some(&t), &mut buf).unwrap();
        let transform_at = 8 + 2 + 1 + 1 + 4 * 3 + 4 + 1;
        for bit in 0..8 {
            let mut bad = buf;
            bad[transform_at + 7] ^= 1 << bit;
            assert!(matches!(
                SavedModel::read(&bad[..len]),
                Err(Error::Format { offset, .. }) if offset == len - 8
            ));
        }
    }

    /// A version 1 file: version 2 without the sections and the checksum.
    fn version_1(bytes: &[u8]) -> ([u8; 256], usize) {
        let mut v1 = [0u8; 256];
        let len = bytes.len() - 12;
        v1[..len].copy_from_slice(&bytes[..len]);
        v1[8] = 1;
        (v1, len)
    }

    #[test]
    fn version_1_files_still_read() {
        let (mlp, p) = model();
        let mut buf = [0u8; 256];
        let len = write_model(&mlp, &p, None, &mut buf).unwrap();
        let (v1, v1_len) = version_1(&buf[..len]);
        assert_eq!(v1_len, saved_len_v1(&mlp.shape(), false));
        let m = SavedModel::read(&v1[..v1_len]).unwrap();
        assert_eq!((m.version(), m.mlp()), (1, mlp));
        assert_eq!(m.sections().count(), 0);
        let mut q = [0.0f32; 22];
        m.read_params(&mut q).unwrap();
        assert_eq!(p, q);
        // Its parameter hash still guards the parameters.
        let mut bad = v1;
        bad[40] ^= 1;
        assert!(matches!(
            SavedModel::read(&bad[..v1_len]),
            Err(Error::Format { offset, .. }) if offset == v1_len - 8
        ));
        assert!(SavedModel::read(&v1[..v1_len + 1]).is_err());
    }

    #[test]
    fn sections_round_trip_in_place() {
        let (mlp, p) = model();
        let names = b"zero\none\n";
        let split = [7u8; 5];
        let sections = [
            Section {
                id: section::CLASS_NAMES,
                body: names,
            },
            Section {
                id: section::DATA_SPLIT,
                body: &split,
            },
            Section { id: 9, body: &[] },
        ];
        let mut buf = [0u8; 256];
        let len = write_model_with(&mlp, &p, None, &sections, &mut buf).unwrap();
        assert_eq!(
            len,
            saved_len(&mlp.shape(), false) + section_len(9) + section_len(5) + section_len(0)
        );
        let m = SavedModel::read(&buf[..len]).unwrap();
        assert_eq!(m.version(), VERSION);
        assert_eq!(m.section(section::CLASS_NAMES), Some(&names[..]));
        assert_eq!(m.section(section::DATA_SPLIT), Some(&split[..]));
        assert_eq!(m.section(3), None);
        let mut read = [Section { id: 0, body: &[] }; 3];
        for (slot, s) in read.iter_mut().zip(m.sections()) {
            *slot = s;
        }
        assert_eq!(read, sections);
        // Ids out of order are refused by the writer.
        let swapped = [sections[1], sections[0]];
        assert!(write_model_with(&mlp, &p, None, &swapped, &mut buf).is_err());
    }

    #[test]
    fn bad_section_framing_is_refused_even_with_a_good_checksum() {
        let (mlp, p) = model();
        let mut buf = [0u8; 256];
        let sections = [Section { id: 1, body: b"ab" }];
        let len = write_model_with(&mlp, &p, None, &sections, &mut buf).unwrap();
        let first = saved_len(&mlp.shape(), false) - 8;
        let reseal = |b: &mut [u8]| {
            let c = fnv1a(&b[..len - 8]);
            b[len - 8..len].copy_from_slice(&c.to_le_bytes());
        };
        // Id 0.
        let mut bad = buf;
        bad[first] = 0;
        reseal(&mut bad);
        assert!(matches!(
            SavedModel::read(&bad[..len]),
            Err(Error::Format { offset, .. }) if offset == first
        ));
        // A section longer than the sections.
        let mut bad = buf;
        bad[first + 2] = 3;
        reseal(&mut bad);
        assert!(matches!(
            SavedModel::read(&bad[..len]),
            Err(Error::Format { offset, .. }) if offset == first + 2
        ));
    }
}
