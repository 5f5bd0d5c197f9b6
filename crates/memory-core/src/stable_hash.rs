//! Stable hashes of bytes: FNV-1a, 64- and 128-bit.
//!
//! Used wherever a hash is stored or compared across processes, versions and platforms —
//! pattern signatures, embedding-cache keys, the hashing embedder's feature positions, model
//! fingerprints — so the values must never change. FNV-1a is fully specified, has no seed
//! and no platform dependence, unlike `std`'s hashers. It is not collision-resistant against
//! chosen input: never use it where an attacker gains by a collision.

/// The 64-bit FNV offset basis: the state of a 64-bit FNV-1a hash before any byte.
pub const FNV1A64_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// The 64-bit FNV prime.
pub const FNV1A64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The 128-bit FNV offset basis.
const FNV1A128_OFFSET_BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;

/// The 128-bit FNV prime.
const FNV1A128_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// The 64-bit FNV-1a hash of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash = Fnv1a64::new();
    hash.write(bytes);
    hash.finish()
}

/// The 128-bit FNV-1a hash of `bytes`.
pub fn fnv1a128(bytes: &[u8]) -> u128 {
    bytes.iter().fold(FNV1A128_OFFSET_BASIS, |h, b| {
        (h ^ u128::from(*b)).wrapping_mul(FNV1A128_PRIME)
    })
}

/// A 64-bit FNV-1a hash fed in pieces: writing `a` then `b` gives the hash of `a` and `b`
/// concatenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a64 {
    state: u64,
    prime: u64,
}

impl Fnv1a64 {
    /// The hash of no bytes yet.
    pub const fn new() -> Self {
        Fnv1a64::with_parameters(FNV1A64_OFFSET_BASIS, FNV1A64_PRIME)
    }

    /// The same scheme (xor each byte in, then multiply) from another starting state and
    /// multiplier: not FNV-1a itself, but a second hash of the same bytes that differs from
    /// it, for a wider fingerprint made of two.
    pub const fn with_parameters(offset_basis: u64, prime: u64) -> Self {
        Fnv1a64 {
            state: offset_basis,
            prime,
        }
    }

    /// Feeds `bytes` into the hash.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.state = (self.state ^ u64::from(*b)).wrapping_mul(self.prime);
        }
    }

    /// The hash of everything written so far (writing may go on after).
    pub const fn finish(&self) -> u64 {
        self.state
    }
}

impl Default for Fnv1a64 {
    fn default() -> Self {
        Fnv1a64::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_fnv1a_vectors() {
        // The published FNV-1a test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a128(b""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
    }

    #[test]
    fn pinned_values_never_change() {
        // Taken from the hand-written loops this module replaced; stored signatures and
        // cache keys depend on them.
        assert_eq!(fnv1a128(b"abc"), 0xa68d_622c_ec8b_5822_836d_bc79_77af_7f3b);
        assert_eq!(
            fnv1a128("héllo wörld".as_bytes()),
            0xd977_5696_e66e_e341_d7e9_e2d2_556d_fdd2
        );
        assert_eq!(
            fnv1a64(b"seq\x1fa\x1fb|*"),
            0xd333_2840_f1bd_89d3,
            "the signature of the tool sequence a, b in any context"
        );
    }

    #[test]
    fn writing_in_pieces_hashes_the_concatenation() {
        let mut h = Fnv1a64::default();
        h.write(b"foo");
        h.write(b"");
        h.write(b"bar");
        assert_eq!(h.finish(), fnv1a64(b"foobar"));
        assert_eq!(Fnv1a64::new().finish(), FNV1A64_OFFSET_BASIS);
    }

    #[test]
    fn other_parameters_give_another_hash() {
        let mut h = Fnv1a64::with_parameters(FNV1A64_OFFSET_BASIS, FNV1A64_PRIME);
        h.write(b"foobar");
        assert_eq!(h.finish(), fnv1a64(b"foobar"));
        let mut other = Fnv1a64::with_parameters(0x8422_2325_cbf2_9ce4, FNV1A64_PRIME ^ 0x10);
        other.write(b"foobar");
        assert_ne!(other.finish(), fnv1a64(b"foobar"));
    }
}
