//! Which of tamis's integer kernels runs: the widest instruction set the host has. The int8
//! products of MiniLM (`tract/integer_kernels.rs`) and the 4-bit products of e5
//! (`xlm_roberta/kernels.rs`) choose the same way; each module adds its own products to
//! [`Kernel`] in an `impl` block of its own.

/// Most rows any kernel takes at once.
pub(crate) const MAX_TILE_ROWS: usize = 8;

/// An instruction set with a kernel, on the targets that have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Vnni,
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    Simd128,
}

impl Kernel {
    /// Every kernel of this target, fastest first.
    pub(crate) const BY_SPEED: &[Self] = &[
        #[cfg(target_arch = "x86_64")]
        Self::Vnni,
        #[cfg(target_arch = "x86_64")]
        Self::Avx2,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Self::Simd128,
        Self::Portable,
    ];

    /// Whether this host has the instructions the kernel uses.
    pub(crate) fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        use std::arch::is_x86_feature_detected as has;
        match self {
            Self::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => has!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Self::Vnni => has!("avx512f") && has!("avx512bw") && has!("avx512vnni"),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Self::Simd128 => true,
        }
    }

    /// The fastest kernel this host runs.
    pub(crate) fn detect() -> Self {
        let mut kernels = Self::BY_SPEED.iter().copied();
        kernels
            .find(|kernel| kernel.runs_here())
            .unwrap_or(Self::Portable)
    }

    /// Every kernel this host can run.
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Self> {
        let kernels = Self::BY_SPEED.iter().copied();
        kernels.filter(|kernel| kernel.runs_here()).collect()
    }

    /// Rows per tile: as many as keep the accumulators in registers.
    pub(crate) fn max_rows(self) -> usize {
        match self {
            Self::Portable => MAX_TILE_ROWS,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => 4,
            #[cfg(target_arch = "x86_64")]
            Self::Vnni => 8,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Self::Simd128 => 3,
        }
    }
}
