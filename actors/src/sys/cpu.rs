//! Hints to the CPU, for any Unix backend.

/// Asks for the cache line holding the start of `value`, which is about to be
/// read. Only a hint: nothing is read, and on other architectures it does
/// nothing.
#[inline]
pub fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = (value as *const T).cast::<i8>();
        // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has (it is
        // in the target's baseline), and a prefetch never dereferences in a
        // way that can fault: any address, even a dangling one, is allowed.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
