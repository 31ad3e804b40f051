//! FNV-1a: fast on the short strings tamis hashes (ids, words, character n-grams), and the
//! same on every platform, so hashed features computed natively and in wasm agree.

use std::hash::{BuildHasher, Hasher};

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a of `bytes`.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hasher = Fnv(OFFSET);
    hasher.write(bytes);
    hasher.0
}

/// Builds FNV-1a hashers for `HashMap`s keyed by short strings, where the default SipHash
/// dominated fusion time.
#[derive(Clone, Copy, Default)]
pub(crate) struct BuildFnv;

pub(crate) struct Fnv(u64);

impl BuildHasher for BuildFnv {
    type Hasher = Fnv;
    fn build_hasher(&self) -> Fnv {
        Fnv(OFFSET)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}
