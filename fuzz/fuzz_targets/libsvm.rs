//! parse_libsvm on arbitrary bytes; the first byte picks the width option.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sooth::data::{LibsvmOptions, parse_libsvm};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let [width, rest @ ..] = data else {
        return;
    };
    let options = LibsvmOptions {
        width: (*width >= 128).then(|| usize::from(*width - 127)),
        // Small, so that a huge index is an error and not a huge allocation.
        max_values: 1 << 20,
    };
    let result = parse_libsvm(rest, "fuzz.svm", &options);
    if let (Ok(parsed), Some(width)) = (&result, options.width) {
        assert_eq!(parsed.table.width, width, "width option ignored");
    }
    common::check(result);
});
