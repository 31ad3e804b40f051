//! Element-wise passes compiled for the host's widest vector instructions.

/// The vector instructions a pass is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VectorSet {
    /// The target's baseline: 4-lane SSE2 on x86-64, SIMD128 in the wasm build.
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl VectorSet {
    /// Every set of this target, widest first.
    const BY_WIDTH: &[Self] = &[
        #[cfg(target_arch = "x86_64")]
        Self::Avx512,
        #[cfg(target_arch = "x86_64")]
        Self::Avx2,
        Self::Baseline,
    ];

    /// Whether this host has the set's instructions.
    fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        use std::arch::is_x86_feature_detected as has;
        match self {
            Self::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => has!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => has!("avx512f") && has!("avx512bw"),
        }
    }

    /// The widest set this host runs.
    pub(crate) fn widest() -> Self {
        let mut sets = Self::BY_WIDTH.iter().copied();
        sets.find(|set| set.runs_here()).unwrap_or(Self::Baseline)
    }

    /// Every set this host runs.
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Self> {
        let sets = Self::BY_WIDTH.iter().copied();
        sets.filter(|set| set.runs_here()).collect()
    }

    /// Asserts that `run` returns, for every set this host runs, what it returns for the
    /// baseline: a pass written for [`with_wide_vectors`] must give the same bits whatever
    /// the instructions.
    #[cfg(test)]
    pub(crate) fn assert_every_set_gives_the_baseline_result<T: PartialEq + std::fmt::Debug>(
        run: impl Fn(Self) -> T,
    ) {
        let baseline = run(Self::Baseline);
        for set in Self::available() {
            assert_eq!(run(set), baseline, "{set:?}");
        }
    }

    /// Runs `pass` compiled for this set, which the host must have: what
    /// [`with_wide_vectors`] does with the widest, for tests to run each.
    #[cfg(test)]
    #[inline(always)]
    pub(crate) fn run<R>(self, pass: impl FnOnce() -> R) -> R {
        assert!(self.runs_here(), "{self:?} is not available on this host");
        // SAFETY: checked just above.
        unsafe { self.run_unchecked(pass) }
    }

    /// # Safety
    /// The host must have the set's instructions ([`Self::runs_here`]).
    #[inline(always)]
    unsafe fn run_unchecked<R>(self, pass: impl FnOnce() -> R) -> R {
        match self {
            Self::Baseline => pass(),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller guarantees AVX-512 F and BW.
            Self::Avx512 => unsafe { x86::avx512(pass) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the caller guarantees AVX2.
            Self::Avx2 => unsafe { x86::avx2(pass) },
        }
    }
}

/// Runs `pass`, code written to vectorize (element-wise arithmetic, integer widening),
/// compiled for the widest vector instructions the host has: the baseline x86-64 build has
/// 4-lane SSE2 only. The same operations in the same order whatever the instructions (Rust
/// never fuses a multiply and an add), so the same bits as the baseline and wasm builds.
///
/// Mark `pass` `#[inline(always)]`, and what it calls too: it is called from one place per
/// instruction set, so the compiler keeps a large closure out of line, compiled for the
/// baseline (the quantization of the int8 products' activations stayed in SSE2 code without
/// it, `perf record`). Loops of a length known only at run time that are shorter than a wide
/// vector loop's step (16 lanes times 4) run scalar in AVX-512 code.
#[inline(always)]
pub(crate) fn with_wide_vectors<R>(pass: impl FnOnce() -> R) -> R {
    // SAFETY: `widest` returns a set this host runs (it has just checked).
    unsafe { VectorSet::widest().run_unchecked(pass) }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    /// # Safety
    /// AVX-512 F and BW must be available.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn avx512<R>(pass: impl FnOnce() -> R) -> R {
        pass()
    }

    /// # Safety
    /// AVX2 must be available.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2<R>(pass: impl FnOnce() -> R) -> R {
        pass()
    }
}
