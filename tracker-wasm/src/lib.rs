//! reftrack's browser snippet: the decisions, compiled to WebAssembly.
//!
//! Every visitor downloads the snippet, so it is split for size: `www/loader.js` does the browser
//! I/O (cookies, storage, DOM, network) in a few hundred lines of plain JS, and calls the
//! operations of [`exports`] for every decision: which click to keep, how it
//! is stored, which links are checkouts and what they carry, what a lead or conversion event says,
//! whether an order was already reported. Those decisions are plain Rust in `config`, `record`,
//! `checkout` and `events`, unit-tested natively and in a browser.
//!
//! On wasm32 the crate is `no_std` and allocates nothing: records borrow from their input and
//! answers are written into a fixed buffer ([`out`]). Its panic handler traps (the loader catches
//! it), so no formatting machinery is shipped. Natively (unit tests) it uses std.

// Tests compiled to wasm32 (wasm-bindgen-test in a browser) use std's harness, allocator and panics.
#![cfg_attr(all(target_arch = "wasm32", not(test)), no_std)]

// Nothing allocates (see `out`); wasm-bindgen still names an allocator, so it gets one that
// always fails, a few bytes instead of a real one.
#[cfg(all(target_arch = "wasm32", not(test)))]
#[global_allocator]
static ALLOCATOR: lol_alloc::FailAllocator = lol_alloc::FailAllocator;

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

pub mod checkout;
pub mod config;
pub mod contract;
pub mod events;
pub mod exports;
pub mod out;
pub mod record;
