//! parse_idx on arbitrary bytes: the first byte says how many of the rest
//! (times 4) are the images file; the others are the labels file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sooth::data::parse_idx;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let [split, rest @ ..] = data else {
        return;
    };
    let at = (usize::from(*split) * 4).min(rest.len());
    let (images, labels) = rest.split_at(at);
    common::check(parse_idx(images, "fuzz-images-idx3-ubyte", labels, "fuzz-labels-idx1-ubyte"));
});
