//! How L-BFGS stores its curvature pairs: in `f32`, or in 16 bits (bfloat16
//! or IEEE binary16), converted by integer arithmetic only, so that every
//! platform rounds every value the same way.
//!
//! # 16-bit pairs in `f32` storage
//! A pair row of `n` halves takes `(n + 1) / 2` words of the optimizer's
//! `f32` storage: half `2 k` in the low 16 bits of word `k`, half `2 k + 1`
//! in the high 16 bits (`f32::from_bits` / `to_bits`, no `unsafe`; an odd
//! `n` pads the last high half with `+0`). The high half of a word decides
//! the word's exponent: for bfloat16 the exponent bits are the half's, for
//! binary16 they are its exponent and its top three mantissa bits, so a
//! word is never a NaN while its high half is finite, and only finite
//! halves are ever kept (a pair that rounds to infinity is skipped). The
//! storage thus never holds a NaN pattern that a platform could alter by
//! moving it.

/// How L-BFGS stores its curvature pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PairPrecision {
    /// 32-bit floats: `2 m n` floats of pairs.
    #[default]
    F32,
    /// bfloat16 (8 exponent bits, 8 significant bits): `m n` floats of
    /// pairs, the range of `f32`, relative rounding error at most `2^-8`.
    Bf16,
    /// IEEE binary16 (5 exponent bits, 11 significant bits): `m n` floats
    /// of pairs, relative rounding error at most `2^-11` but values below
    /// `2^-14` lose precision (subnormal) and below `2^-25` become 0, and
    /// above 65504 overflow (the pair is then skipped).
    F16,
}

impl PairPrecision {
    /// Every precision, in the order of [`code`](Self::code).
    pub const ALL: [PairPrecision; 3] =
        [PairPrecision::F32, PairPrecision::Bf16, PairPrecision::F16];

    /// The name a flag or a study key uses: `f32`, `bf16` or `f16`.
    pub const fn name(self) -> &'static str {
        match self {
            PairPrecision::F32 => "f32",
            PairPrecision::Bf16 => "bf16",
            PairPrecision::F16 => "f16",
        }
    }

    /// The precision named `name` (see [`name`](Self::name)).
    pub fn from_name(name: &str) -> Option<PairPrecision> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The number a state header stores: 0, 1 or 2.
    pub(crate) const fn code(self) -> u16 {
        match self {
            PairPrecision::F32 => 0,
            PairPrecision::Bf16 => 1,
            PairPrecision::F16 => 2,
        }
    }

    /// Storage words of one pair row of `n` values.
    pub const fn row_words(self, n: usize) -> usize {
        match self {
            PairPrecision::F32 => n,
            PairPrecision::Bf16 | PairPrecision::F16 => n.div_ceil(2),
        }
    }

    /// `v` rounded to this precision (to nearest, ties to even) as 16 bits
    /// (`F32`: the high half of `v`'s bits; not used for storage).
    pub(crate) fn encode(self, v: f32) -> u16 {
        match self {
            PairPrecision::F16 => f16_from_f32(v),
            _ => bf16_from_f32(v),
        }
    }

    /// The `f32` value of 16 bits of this precision (exact).
    pub(crate) fn decode(self, h: u16) -> f32 {
        match self {
            PairPrecision::F16 => f32_from_f16(h),
            _ => f32_from_bf16(h),
        }
    }

    /// Rounds `values` into the 16-bit row `words` (`row_words(n)` words).
    pub(crate) fn encode_row(self, words: &mut [f32], values: &[f32]) {
        self.encode_row_with(words, values.len(), |i| values[i]);
    }

    /// Rounds `value(i)` for `i` in `0..n` into the 16-bit row `words`.
    pub(crate) fn encode_row_with(
        self,
        words: &mut [f32],
        n: usize,
        mut value: impl FnMut(usize) -> f32,
    ) {
        for (k, word) in words.iter_mut().enumerate().take(n.div_ceil(2)) {
            let low = u32::from(self.encode(value(2 * k)));
            let high = if 2 * k + 1 < n {
                u32::from(self.encode(value(2 * k + 1)))
            } else {
                0
            };
            *word = f32::from_bits(high << 16 | low);
        }
    }

    /// Decodes the 16-bit row `words` into `out` (`n = out.len()` values).
    pub(crate) fn decode_row(self, words: &[f32], out: &mut [f32]) {
        let n = out.len();
        for (k, word) in words.iter().enumerate().take(n.div_ceil(2)) {
            let bits = word.to_bits();
            out[2 * k] = self.decode(bits as u16);
            if 2 * k + 1 < n {
                out[2 * k + 1] = self.decode((bits >> 16) as u16);
            }
        }
    }
}

/// `v` as bfloat16, rounded to nearest, ties to even; a NaN stays a (quiet) NaN.
pub(crate) fn bf16_from_f32(v: f32) -> u16 {
    let bits = v.to_bits();
    if bits & 0x7fff_ffff > 0x7f80_0000 {
        return (bits >> 16) as u16 | 0x0040;
    }
    // Adding 0x7fff, plus one when the kept part is odd, carries into the
    // kept part exactly when the dropped part is above half, or half with
    // an odd kept part; a carry out of the mantissa raises the exponent
    // (to infinity above the largest finite value), as rounding does.
    let odd = (bits >> 16) & 1;
    ((bits + 0x7fff + odd) >> 16) as u16
}

/// The `f32` of a bfloat16 (exact).
pub(crate) fn f32_from_bf16(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// `v` as IEEE binary16, rounded to nearest, ties to even (overflow to
/// infinity, underflow to subnormals and signed zero); a NaN stays a quiet NaN.
pub(crate) fn f16_from_f32(v: f32) -> u16 {
    let bits = v.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let abs = bits & 0x7fff_ffff;
    if abs > 0x7f80_0000 {
        return sign | 0x7e00 | ((abs >> 13) & 0x3ff) as u16;
    }
    if abs >= 0x477f_f000 {
        // 65520 and above (the tie between 65504 and 2^16 rounds to even,
        // which is 2^16): infinity.
        return sign | 0x7c00;
    }
    if abs >= 0x3880_0000 {
        // Normal in binary16 (>= 2^-14): rebias the exponent by 127 - 15 and
        // drop 13 mantissa bits, rounding; a carry may raise the exponent.
        let kept = (abs - 0x3800_0000) >> 13;
        let dropped = abs & 0x1fff;
        let up = dropped > 0x1000 || (dropped == 0x1000 && kept & 1 == 1);
        return sign | (kept + u32::from(up)) as u16;
    }
    if abs <= 0x3300_0000 {
        // At most 2^-25, half the smallest subnormal: rounds to zero (the
        // tie goes to the even zero).
        return sign;
    }
    // Subnormal in binary16: the value in units of 2^-24, rounded. The f32
    // is (2^23 + mantissa) 2^(e - 150) with e in 102..=112.
    let e = abs >> 23;
    let significand = (abs & 0x7f_ffff) | 0x80_0000;
    let shift = 126 - e;
    let kept = significand >> shift;
    let dropped = significand & ((1 << shift) - 1);
    let half = 1 << (shift - 1);
    let up = dropped > half || (dropped == half && kept & 1 == 1);
    sign | (kept + u32::from(up)) as u16
}

/// The `f32` of an IEEE binary16 (exact).
pub(crate) fn f32_from_f16(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exponent = u32::from((h >> 10) & 0x1f);
    let mantissa = u32::from(h & 0x3ff);
    let bits = match (exponent, mantissa) {
        (0x1f, _) => 0x7f80_0000 | mantissa << 13,
        (0, 0) => 0,
        (0, _) => {
            // Subnormal: mantissa 2^-24 with its top bit at position p < 10,
            // i.e. 2^(p - 24) (1 + rest): f32 exponent p - 24 + 127.
            let p = 31 - mantissa.leading_zeros();
            let rest = (mantissa << (23 - p)) & 0x7f_ffff;
            (p + 103) << 23 | rest
        }
        _ => (exponent + 112) << 23 | mantissa << 13,
    };
    f32::from_bits(sign | bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every finite 16-bit value of `p`, in increasing order of magnitude
    /// (positive ones).
    fn positive_finite(p: PairPrecision) -> impl Iterator<Item = u16> {
        let top = match p {
            PairPrecision::F16 => 0x7c00,
            _ => 0x7f80,
        };
        0..top
    }

    #[test]
    fn every_16_bit_value_round_trips() {
        for p in [PairPrecision::Bf16, PairPrecision::F16] {
            for h in 0..=u16::MAX {
                let v = p.decode(h);
                if v.is_nan() {
                    assert!(p.decode(p.encode(v)).is_nan(), "{p:?} {h:#06x}");
                    assert_eq!(p.encode(v) & 0x8000, h & 0x8000, "{p:?} sign of NaN");
                } else {
                    assert_eq!(p.encode(v), h, "{p:?} {h:#06x} = {v:e}");
                }
            }
        }
    }

    #[test]
    fn decoding_gives_the_exact_values() {
        assert_eq!(f32_from_f16(0x3c00), 1.0);
        assert_eq!(f32_from_f16(0xc000), -2.0);
        assert_eq!(f32_from_f16(0x7bff), 65504.0);
        assert_eq!(f32_from_f16(0x0400), 2f32.powi(-14));
        assert_eq!(f32_from_f16(0x0001), 2f32.powi(-24));
        assert_eq!(f32_from_f16(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f32_from_f16(0x3555), 0.333_251_95);
        assert_eq!(f32_from_f16(0x7c00), f32::INFINITY);
        assert_eq!(f32_from_f16(0xfc00), f32::NEG_INFINITY);
        assert_eq!(f32_from_f16(0x8000).to_bits(), 0x8000_0000);
        assert!(f32_from_f16(0x7e00).is_nan());
        assert_eq!(f32_from_bf16(0x3f80), 1.0);
        assert_eq!(f32_from_bf16(0x3eab), 0.333_984_38);
        assert_eq!(f32_from_bf16(0x7f7f), 3.389_531_4e38);
        assert_eq!(f32_from_bf16(0x0001).to_bits(), 0x0001_0000);
        assert_eq!(f32_from_bf16(0xff80), f32::NEG_INFINITY);
    }

    /// Between two neighbouring 16-bit values: below the midpoint rounds
    /// down, above it up, the midpoint itself to the even one.
    #[test]
    fn rounding_is_to_nearest_with_ties_to_even_at_every_midpoint() {
        for p in [PairPrecision::Bf16, PairPrecision::F16] {
            let values: std::vec::Vec<u16> = positive_finite(p).collect();
            for pair in values.windows(2) {
                let (lo, hi) = (pair[0], pair[1]);
                let (a, b) = (f64::from(p.decode(lo)), f64::from(p.decode(hi)));
                let mid = (a + b) / 2.0;
                // The midpoint of two neighbours is exact in f32 (one more bit).
                let m = mid as f32;
                assert_eq!(f64::from(m), mid, "{p:?} {lo:#06x}");
                let even = if lo & 1 == 0 { lo } else { hi };
                assert_eq!(p.encode(m), even, "{p:?} tie {m:e}");
                assert_eq!(p.encode(-m), even | 0x8000, "{p:?} tie -{m:e}");
                let below = f32::from_bits(m.to_bits() - 1);
                let above = f32::from_bits(m.to_bits() + 1);
                assert_eq!(p.encode(below), lo, "{p:?} below {m:e}");
                assert_eq!(p.encode(above), hi, "{p:?} above {m:e}");
            }
        }
    }

    #[test]
    fn overflow_underflow_infinities_and_nans() {
        let f16 = PairPrecision::F16;
        assert_eq!(f16.encode(65504.0), 0x7bff);
        assert_eq!(f16.encode(65519.996), 0x7bff);
        assert_eq!(f16.encode(65520.0), 0x7c00);
        assert_eq!(f16.encode(1e10), 0x7c00);
        assert_eq!(f16.encode(-1e10), 0xfc00);
        assert_eq!(f16.encode(f32::INFINITY), 0x7c00);
        assert_eq!(f16.encode(f32::NEG_INFINITY), 0xfc00);
        // 2^-25 is the tie between 0 and the smallest subnormal: even = 0.
        assert_eq!(f16.encode(2f32.powi(-25)), 0x0000);
        assert_eq!(f16.encode(-2f32.powi(-25)), 0x8000);
        assert_eq!(
            f16.encode(f32::from_bits(2f32.powi(-25).to_bits() + 1)),
            0x0001
        );
        // 3 * 2^-25 is the tie between subnormals 1 and 2: even = 2.
        assert_eq!(f16.encode(3.0 * 2f32.powi(-25)), 0x0002);
        assert_eq!(f16.encode(1e-30), 0x0000);
        assert_eq!(f16.encode(f32::MIN_POSITIVE), 0x0000);
        assert_eq!(f16.encode(f32::from_bits(1)), 0x0000);
        assert_eq!(f16.encode(-0.0), 0x8000);
        // The largest subnormal rounds up into the smallest normal.
        assert_eq!(f16.encode(2f32.powi(-14) - 2f32.powi(-26)), 0x0400);
        let bf16 = PairPrecision::Bf16;
        assert_eq!(bf16.encode(f32::MAX), 0x7f80);
        assert_eq!(bf16.encode(3.389_531_4e38), 0x7f7f);
        assert_eq!(bf16.encode(f32::INFINITY), 0x7f80);
        assert_eq!(bf16.encode(-0.0), 0x8000);
        // f32 subnormals keep their top bits: bf16 has subnormals too.
        assert_eq!(bf16.encode(f32::from_bits(0x0001_8000)), 0x0002);
        assert_eq!(bf16.encode(f32::from_bits(0x0000_8000)), 0x0000);
        assert_eq!(bf16.encode(f32::from_bits(0x0000_8001)), 0x0001);
        for p in [bf16, f16] {
            for nan in [f32::NAN, -f32::NAN, f32::from_bits(0x7f80_0001)] {
                assert!(p.decode(p.encode(nan)).is_nan(), "{p:?} {nan:?}");
            }
        }
    }

    #[test]
    fn rows_pack_two_halves_per_word_and_never_make_a_nan_word() {
        let values = [1.0f32, -2.5, 65504.0, 3.0e-5, -0.0];
        for p in [PairPrecision::Bf16, PairPrecision::F16] {
            let mut words = [f32::NAN; 3];
            p.encode_row(&mut words, &values);
            assert_eq!(
                words[0].to_bits(),
                u32::from(p.encode(-2.5)) << 16 | u32::from(p.encode(1.0))
            );
            // The odd row's last word pads its high half with +0.
            assert_eq!(words[2].to_bits(), u32::from(p.encode(-0.0)));
            let mut out = [0.0f32; 5];
            p.decode_row(&words, &mut out);
            for (o, v) in out.iter().zip(values) {
                assert_eq!(o.to_bits(), p.decode(p.encode(v)).to_bits());
            }
        }
        // A word is finite whenever its high half is: every finite high half
        // with the worst low half.
        for p in [PairPrecision::Bf16, PairPrecision::F16] {
            for high in positive_finite(p) {
                for sign in [0, 0x8000] {
                    let word = f32::from_bits(u32::from(high | sign) << 16 | 0xffff);
                    assert!(word.is_finite(), "{p:?} {high:#06x}");
                }
            }
        }
        assert_eq!(PairPrecision::F16.row_words(5), 3);
        assert_eq!(PairPrecision::Bf16.row_words(4), 2);
        assert_eq!(PairPrecision::F32.row_words(5), 5);
    }

    #[test]
    fn names_round_trip() {
        for p in PairPrecision::ALL {
            assert_eq!(PairPrecision::from_name(p.name()), Some(p));
        }
        assert_eq!(PairPrecision::from_name("f64"), None);
        assert_eq!(PairPrecision::default(), PairPrecision::F32);
    }
}
