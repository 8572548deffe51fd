//! The saved-model format: a network's shape, activation, L2 coefficient,
//! an optional input transform and its parameters, in a small versioned
//! binary that a microcontroller can read in place (no allocation).
//!
//! # Format, version 1 (all integers and floats little-endian)
//! | bytes | field |
//! |---|---|
//! | 8 | magic `SOOTHMDL` |
//! | 2 | version, `1` |
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
//!
//! The trailing hash doubles as a checksum: a model whose parameters do
//! not hash to it is rejected.

use crate::error::{Error, check_len};
use crate::hash::param_hash;
use crate::network::{Activation, MAX_WIDTHS, Mlp, Shape};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"SOOTHMDL";
/// The version this code writes and reads.
pub const VERSION: u16 = 1;

/// A saved model, read in place from a byte slice.
#[derive(Clone, Copy, Debug)]
pub struct SavedModel<'a> {
    mlp: Mlp,
    transform: Option<&'a [u8]>,
    params: &'a [u8],
    hash: u64,
}

/// Bytes of a model of `shape` (with a transform of the input if `transform`).
pub const fn saved_len(shape: &Shape, transform: bool) -> usize {
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
        if u16::from_le_bytes([v[0], v[1]]) != VERSION {
            return r.fail(at, "format version 1");
        }
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
        if r.at != bytes.len() {
            return r.fail(r.at, "the end of the model");
        }
        let model = SavedModel {
            mlp,
            transform,
            params,
            hash,
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

/// Writes a model into `out` and returns the bytes written
/// ([`saved_len`]). `transform` holds (offset, divisor) per input feature.
pub fn write_model(
    mlp: &Mlp,
    params: &[f32],
    transform: Option<&[(f64, f64)]>,
    out: &mut [u8],
) -> Result<usize, Error> {
    let shape = mlp.shape();
    check_len(crate::Buffer::Params, shape.param_count(), params.len())?;
    if let Some(t) = transform {
        check_len(crate::Buffer::Features, shape.inputs(), t.len())?;
    }
    let len = saved_len(&shape, transform.is_some());
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
    Ok(len)
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
        assert_eq!(m.mlp(), mlp);
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
        bad[8] = 2;
        assert_eq!(offset(&bad[..len]), 8);
        bad[..len].copy_from_slice(bytes);
        bad[10] = 7;
        assert_eq!(offset(&bad[..len]), 10);
        // A flipped bit in a parameter: the hash catches it.
        bad[..len].copy_from_slice(bytes);
        bad[40] ^= 1;
        assert_eq!(offset(&bad[..len]), len - 8);
        // Truncated.
        assert_eq!(offset(&bytes[..len - 3]), len - 3);
        // Trailing garbage.
        bad[..len].copy_from_slice(bytes);
        assert_eq!(offset(&bad[..len + 1]), len);
        assert_eq!(offset(&[]), 0);
    }
}
