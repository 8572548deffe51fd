//! The whole state of an [`OnlineTrainer`] as bytes: written by
//! [`OnlineTrainer::save`], read by [`OnlineTrainer::restore`].
//!
//! # Format, version 1 (all integers and floats little-endian)
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic `SOOTHONL` |
//! | 8 | 2 | version, `1` |
//! | 10 | 2 | retention: 0 latest, 1 reservoir |
//! | 12 | 8 | network fingerprint: FNV-1a 64 of the widths (`u32` each), the activation (0 ReLU, 1 tanh) and the L2 coefficient's bits |
//! | 20 | 4 | parameter count `n` |
//! | 24 | 4 | optimizer state floats `s` |
//! | 28 | 4 | capacity `c` |
//! | 32 | 4 | batch size |
//! | 36 | 4 | samples held |
//! | 40 | 4 | the ring's next slot |
//! | 44 | 8 | samples seen |
//! | 52 | 8 | optimizer steps, then 8 objective calls, 8 gradients |
//! | 76 | 32 | the batch stream's xoshiro256++ state, then 32 the reservoir's |
//! | 140 | 4 n | parameters (`f32` bits) |
//! | | 4 s | the optimizer's storage (`f32` bits, header included) |
//! | | 4 c w | the store's feature rows, all `c` slots (`w` = input width) |
//! | | 2 c | the store's labels, all `c` slots |
//! | | 8 | checksum: FNV-1a 64 of every byte before it |
//!
//! The length is fixed by the shape and the setup
//! ([`OnlineLengths::snapshot`](super::OnlineLengths::snapshot)), so a
//! flash page can be reserved for it.

use super::store::Retention;
use super::trainer::{OnlineBuffers, OnlineSetup, OnlineTrainer};
use crate::error::{Buffer, Error, check_min_len};
use crate::network::{Activation, Mlp};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The first bytes of a saved online state.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"SOOTHONL";
/// The format version this code writes and reads.
pub const SNAPSHOT_VERSION: u16 = 1;

const FIXED: usize = 140;
const CHECKSUM: usize = 8;

/// Bytes of a saved state with `params` parameters, `optimizer` floats of
/// optimizer state, `samples` stored feature floats and `capacity` labels.
pub(super) const fn snapshot_len(
    params: usize,
    optimizer: usize,
    samples: usize,
    capacity: usize,
) -> usize {
    FIXED + 4 * (params + optimizer + samples) + 2 * capacity + CHECKSUM
}

fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

fn fingerprint(mlp: &Mlp) -> u64 {
    let mut h = FNV_START;
    for &w in mlp.shape().widths() {
        h = fnv(&(w as u32).to_le_bytes(), h);
    }
    let activation: u8 = match mlp.activation() {
        Activation::Relu => 0,
        Activation::Tanh => 1,
    };
    h = fnv(&[activation], h);
    fnv(&mlp.l2().to_bits().to_le_bytes(), h)
}

fn retention_code(r: Retention) -> u16 {
    match r {
        Retention::Latest => 0,
        Retention::Reservoir => 1,
    }
}

/// A cursor writing little-endian values.
struct Writer<'b> {
    out: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.out[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: usize) {
        self.bytes(&(v as u32).to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn floats(&mut self, v: &[f32]) {
        for x in v {
            self.bytes(&x.to_bits().to_le_bytes());
        }
    }
}

/// A cursor reading little-endian values (the length was checked first).
struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize) -> &'b [u8] {
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        out
    }
    fn u16(&mut self) -> u16 {
        let b = self.take(2);
        u16::from_le_bytes([b[0], b[1]])
    }
    fn u32(&mut self) -> usize {
        let b = self.take(4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    }
    fn u64(&mut self) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8));
        u64::from_le_bytes(a)
    }
    /// Checks that the next `u32` is `expected`.
    fn expect_u32(&mut self, expected: usize, what: &'static str) -> Result<(), Error> {
        let at = self.at;
        if self.u32() == expected {
            Ok(())
        } else {
            Err(Error::Format {
                offset: at,
                expected: what,
            })
        }
    }
}

fn float_at(bytes: &[u8], i: usize) -> f32 {
    f32::from_bits(u32::from_le_bytes([
        bytes[4 * i],
        bytes[4 * i + 1],
        bytes[4 * i + 2],
        bytes[4 * i + 3],
    ]))
}

fn bad(offset: usize, expected: &'static str) -> Error {
    Error::Format { offset, expected }
}

impl<'a> OnlineTrainer<'a> {
    /// Writes the whole state (parameters, optimizer state with its
    /// history, both random streams, the store's samples and counters, the
    /// batch size and the step counts) to `out`, which needs at least
    /// [`OnlineLengths::snapshot`](super::OnlineLengths::snapshot) bytes;
    /// returns the bytes written (that length). The format is in
    /// [`crate::online::snapshot`].
    pub fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        let n = self.params.len();
        let opt_len = self.config.storage_len(n);
        let (features, labels, held, seen, next, reservoir) = self.store.raw();
        let len = snapshot_len(n, opt_len, features.len(), labels.len());
        check_min_len(Buffer::Snapshot, len, out.len())?;
        let mut w = Writer {
            out: &mut out[..len],
            at: 0,
        };
        w.bytes(SNAPSHOT_MAGIC);
        w.u16(SNAPSHOT_VERSION);
        w.u16(retention_code(self.store.retention()));
        w.u64(fingerprint(&self.mlp));
        w.u32(n);
        w.u32(opt_len);
        w.u32(self.store.capacity());
        w.u32(self.batch);
        w.u32(held);
        w.u32(next);
        w.u64(seen);
        w.u64(self.steps);
        w.u64(self.evaluations);
        w.u64(self.gradients);
        w.bytes(&self.rng.state());
        w.bytes(&reservoir.state());
        w.floats(self.params);
        w.floats(&self.optimizer[..opt_len]);
        w.floats(features);
        for &l in labels {
            w.u16(l);
        }
        let sum = fnv(&w.out[..len - CHECKSUM], FNV_START);
        w.u64(sum);
        Ok(len)
    }

    /// A trainer continuing, bit for bit, from the state that
    /// [`save`](Self::save) wrote to `bytes`, for the same network and
    /// setup (the setup's batch size is replaced by the saved one), over
    /// `buffers` (as for [`new`](Self::new)). Errors with
    /// [`Error::Format`] (the byte offset and what was expected there) for a
    /// buffer of the wrong length, another format or version, a failed
    /// checksum, another network, optimizer kind, capacity or retention, and
    /// values out of range; on an error the buffers' contents are
    /// unspecified (nothing is read from them).
    pub fn restore(
        mlp: Mlp,
        setup: &OnlineSetup,
        bytes: &[u8],
        buffers: OnlineBuffers<'a>,
    ) -> Result<Self, Error> {
        let lengths = setup.buffer_lengths(&mlp.shape());
        let len = lengths.snapshot;
        if bytes.len() < 8 || &bytes[..8] != SNAPSHOT_MAGIC {
            return Err(bad(0, "the magic bytes SOOTHONL of a saved online state"));
        }
        if bytes.len() < 10 || u16::from_le_bytes([bytes[8], bytes[9]]) != SNAPSHOT_VERSION {
            return Err(bad(8, "format version 1"));
        }
        if bytes.len() != len {
            return Err(bad(
                bytes.len().min(len),
                "a saved state of the length this network and setup take",
            ));
        }
        let body = len - CHECKSUM;
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&bytes[body..]);
        if fnv(&bytes[..body], FNV_START) != u64::from_le_bytes(sum) {
            return Err(bad(body, "the checksum of the bytes before it"));
        }
        let mut r = Reader { bytes, at: 10 };
        if r.u16() != retention_code(setup.retention) {
            return Err(bad(10, "the setup's retention policy"));
        }
        if r.u64() != fingerprint(&mlp) {
            return Err(bad(
                12,
                "the network's fingerprint (widths, activation, L2)",
            ));
        }
        r.expect_u32(lengths.params, "the network's parameter count")?;
        r.expect_u32(lengths.optimizer, "the optimizer's state length")?;
        r.expect_u32(setup.capacity, "the setup's store capacity")?;
        let capacity = setup.capacity;
        let batch = r.u32();
        if batch == 0 || batch > capacity {
            return Err(bad(32, "a batch size in 1..=capacity"));
        }
        let held = r.u32();
        let next = r.u32();
        let seen = r.u64();
        let consistent = held <= capacity
            && next < capacity
            && seen >= held as u64
            && (held == capacity || seen == held as u64)
            && match setup.retention {
                Retention::Latest => held == capacity || next == held,
                Retention::Reservoir => next == 0,
            };
        if !consistent {
            return Err(bad(36, "consistent store counters (held, next, seen)"));
        }
        let steps = r.u64();
        let evaluations = r.u64();
        let gradients = r.u64();
        let mut rngs = [[0u8; 32]; 2];
        for (k, state) in rngs.iter_mut().enumerate() {
            let at = r.at;
            state.copy_from_slice(r.take(32));
            if state.iter().all(|&b| b == 0) {
                return Err(bad(
                    at,
                    if k == 0 {
                        "a non-zero batch stream state"
                    } else {
                        "a non-zero reservoir stream state"
                    },
                ));
            }
        }
        let params_at = r.at;
        let params = r.take(4 * lengths.params);
        if (0..lengths.params).any(|i| !float_at(params, i).is_finite()) {
            return Err(bad(params_at, "finite parameters"));
        }
        let optimizer = r.take(4 * lengths.optimizer);
        let features_at = r.at;
        let features = r.take(4 * lengths.samples);
        let width = mlp.shape().inputs();
        if (0..held * width).any(|i| !float_at(features, i).is_finite()) {
            return Err(bad(features_at, "finite stored features"));
        }
        let labels_at = r.at;
        let labels = r.take(2 * capacity);
        let classes = mlp.shape().outputs();
        let label = |i: usize| u16::from_le_bytes([labels[2 * i], labels[2 * i + 1]]);
        if (0..held).any(|i| usize::from(label(i)) >= classes) {
            return Err(bad(labels_at, "stored labels below the number of classes"));
        }

        let restored_setup = OnlineSetup {
            batch_size: batch,
            ..*setup
        };
        let mut trainer = OnlineTrainer::new(
            mlp,
            &restored_setup,
            Xoshiro256PlusPlus::seed_from_u64(0),
            buffers,
        )?;
        for (i, p) in trainer.params.iter_mut().enumerate() {
            *p = float_at(params, i);
        }
        for (i, s) in trainer.optimizer[..lengths.optimizer]
            .iter_mut()
            .enumerate()
        {
            *s = float_at(optimizer, i);
        }
        let n = lengths.params;
        if let Err(e) = trainer.config.resume(n, trainer.optimizer) {
            return Err(match e {
                Error::Format { offset, expected } => bad(params_at + 4 * n + offset, expected),
                other => other,
            });
        }
        {
            let (store_features, store_labels) = trainer.store.raw_mut();
            for (i, f) in store_features.iter_mut().enumerate() {
                *f = float_at(features, i);
            }
            for (i, l) in store_labels.iter_mut().enumerate() {
                *l = label(i);
            }
        }
        trainer
            .store
            .set_counters(held, seen, next, Xoshiro256PlusPlus::from_seed(rngs[1]));
        trainer.rng = Xoshiro256PlusPlus::from_seed(rngs[0]);
        trainer.steps = steps;
        trainer.evaluations = evaluations;
        trainer.gradients = gradients;
        Ok(trainer)
    }
}
