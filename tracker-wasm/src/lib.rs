//! reftrack's browser snippet: the decisions, compiled to WebAssembly.
//!
//! Every visitor downloads the snippet, so it is split for size: `www/loader.js` does the browser
//! I/O (cookies, storage, DOM, network) in a few hundred lines of plain JS, and calls the
//! string-in/string-out functions of [`exports`] for every decision: which click to keep, how it
//! is stored, which links are checkouts and what they carry, what a lead or conversion event says,
//! whether an order was already reported. Those decisions are plain Rust in `config`, `record`,
//! `checkout` and `events`, unit-tested natively and in a browser.
//!
//! On wasm32 the crate is `no_std`, with its own allocator and a panic handler that traps (the
//! loader catches it), so no formatting machinery is shipped. Natively (unit tests) it uses std.

#![cfg_attr(target_arch = "wasm32", no_std)]
extern crate alloc;

// A free-list allocator of a few hundred bytes instead of dlmalloc's five kilobytes: the snippet
// keeps no state between calls (the loader holds it), so fragmentation cannot build up.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

pub mod checkout;
pub mod config;
pub mod events;
pub mod exports;
pub mod record;
