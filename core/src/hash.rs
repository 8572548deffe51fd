//! The parameter hash that host and firmware print to prove a run is bit-identical.

/// FNV-1a (64 bit) over the little-endian bytes of each value's bit pattern.
///
/// ```
/// assert_eq!(sooth_core::param_hash(&[]), 0xcbf2_9ce4_8422_2325);
/// assert_ne!(sooth_core::param_hash(&[0.0]), sooth_core::param_hash(&[-0.0]));
/// ```
pub fn param_hash(params: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in params {
        for b in p.to_bits().to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_reference_fnv1a() {
        // Reference values from Python:
        // h = 0xcbf29ce484222325; for b in struct.pack('<3f', 1.0, -2.5, 0.1):
        //     h = ((h ^ b) * 0x100000001b3) % 2**64
        assert_eq!(super::param_hash(&[1.0]), 0x4b72_477f_9c5c_2f98);
        assert_eq!(super::param_hash(&[1.0, -2.5, 0.1]), 0x3cf8_e613_b812_8996);
    }
}
