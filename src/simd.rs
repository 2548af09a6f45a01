//! Run-time choice of the instruction set for the hot kernels.
//!
//! The wheel targets baseline x86-64, which has no `popcnt`. The kernels are
//! written once as plain loops; entry points are compiled several times with
//! `#[target_feature]` (see `multiversion!` below) and the
//! best version the CPU supports is picked when first needed. All versions do
//! the same exact integer arithmetic, so they give identical results.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level, from the portable fallback up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Baseline code: whatever the compilation target guarantees.
    Portable = 1,
    /// `popcnt` (SSE4.2 era).
    Popcnt = 2,
    /// AVX2 with `popcnt`, BMI and FMA.
    Avx2 = 3,
    /// AVX-512 F/BW/VL/DQ with `VPOPCNTDQ` (vector popcount).
    Avx512 = 4,
}

impl Level {
    /// The name used by `HOPFIELD_SIMD` and reported to users.
    pub fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Popcnt => "popcnt",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    fn from_name(name: &str) -> Option<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "portable" => Some(Level::Portable),
            "popcnt" => Some(Level::Popcnt),
            "avx2" => Some(Level::Avx2),
            "avx512" => Some(Level::Avx512),
            _ => None,
        }
    }

    #[inline(always)]
    fn from_u8(v: u8) -> Level {
        match v {
            2 => Level::Popcnt,
            3 => Level::Avx2,
            4 => Level::Avx512,
            _ => Level::Portable,
        }
    }
}

/// The best level this CPU supports.
pub fn detected() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("bmi2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            return Level::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("bmi2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            return Level::Avx2;
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            return Level::Popcnt;
        }
    }
    Level::Portable
}

static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// The level the kernels use: the detected one, capped by the environment
/// variable `HOPFIELD_SIMD` (`portable`, `popcnt`, `avx2`, `avx512`) or by
/// [`set_level`]. Never above what the CPU supports. After the first call
/// this is one relaxed atomic load, cheap enough for inner loops.
#[inline(always)]
pub fn level() -> Level {
    match ACTIVE.load(Ordering::Relaxed) {
        0 => init_level(),
        v => Level::from_u8(v),
    }
}

#[cold]
#[inline(never)]
fn init_level() -> Level {
    let best = detected();
    let chosen = std::env::var("HOPFIELD_SIMD")
        .ok()
        .and_then(|v| Level::from_name(&v))
        .map_or(best, |cap| cap.min(best));
    ACTIVE.store(chosen as u8, Ordering::Relaxed);
    chosen
}

/// Caps the level at `cap` (never above the detected one) and returns the
/// level now in force. Used by tests that compare every version.
pub fn set_level(cap: Level) -> Level {
    let chosen = cap.min(detected());
    ACTIVE.store(chosen as u8, Ordering::Relaxed);
    chosen
}

/// Defines `$name` that dispatches on [`level()`] to copies of `$body`, an
/// `#[inline(always)]` function, compiled for each instruction-set level.
/// Generic parameters are allowed; the body's callees should be `#[inline]`
/// so that they are compiled with the same features.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident $(<$($g:ident : $bound:path),*>)? ($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty
        => $body:ident
    ) => {
        $(#[$meta])*
        $vis fn $name $(<$($g: $bound),*>)? ($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512vpopcntdq,avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
                unsafe fn avx512 $(<$($g: $bound),*>)? ($($arg: $ty),*) -> $ret { $body($($arg),*) }
                #[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
                unsafe fn avx2 $(<$($g: $bound),*>)? ($($arg: $ty),*) -> $ret { $body($($arg),*) }
                #[target_feature(enable = "popcnt,sse4.2")]
                unsafe fn popcnt $(<$($g: $bound),*>)? ($($arg: $ty),*) -> $ret { $body($($arg),*) }
                match $crate::simd::level() {
                    // SAFETY: level() never exceeds what is_x86_feature_detected! found.
                    $crate::simd::Level::Avx512 => unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::simd::Level::Avx2 => unsafe { avx2($($arg),*) },
                    // SAFETY: as above.
                    $crate::simd::Level::Popcnt => unsafe { popcnt($($arg),*) },
                    $crate::simd::Level::Portable => $body($($arg),*),
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                $body($($arg),*)
            }
        }
    };
}

// Reached as `crate::simd::multiversion!` (not exported from the crate).
pub(crate) use multiversion;
