//! parse_idx on fuzzed image and label files. Bit 0 of the first byte picks
//! the mode:
//! * raw: the next byte times 4 is the length of the images file, the rest
//!   is the labels file (headers, lengths, magic numbers: all fuzzed);
//! * framed: the next bytes pick the types and small dimensions, and the
//!   harness writes matching headers around the data, so that the value and
//!   label decoding is reached often; bit 1 gzips the images file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sooth::data::parse_idx;
use std::io::Write;

#[path = "common.rs"]
mod common;

const TYPES: [(u8, usize); 6] = [
    (0x08, 1),
    (0x09, 1),
    (0x0B, 2),
    (0x0C, 4),
    (0x0D, 4),
    (0x0E, 8),
];

fn header(kind: u8, dims: &[u32]) -> Vec<u8> {
    let mut out = vec![0, 0, kind, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("writing to a Vec");
    e.finish().expect("writing to a Vec")
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else {
        return;
    };
    if mode & 1 == 0 {
        let [split, rest @ ..] = rest else {
            return;
        };
        let at = (usize::from(*split) * 4).min(rest.len());
        let (images, labels) = rest.split_at(at);
        common::check(parse_idx(
            images,
            "fuzz-images-idx3-ubyte",
            labels,
            "fuzz-labels-idx1-ubyte",
        ));
        return;
    }
    let [kind, ndim, count, d2, d3, label_kind, rest @ ..] = rest else {
        return;
    };
    let (kind, size) = TYPES[usize::from(kind % 6)];
    let (label_kind, label_size) = TYPES[usize::from(label_kind % 6)];
    let ndim = 1 + usize::from(ndim % 3);
    let dims = &[u32::from(count % 16), u32::from(d2 % 8), u32::from(d3 % 8)][..ndim];
    let values = dims.iter().map(|&d| d as usize).product::<usize>();
    let (image_data, rest) = rest.split_at((values * size).min(rest.len()));
    let label_data = &rest[..(usize::from(count % 16) * label_size).min(rest.len())];
    let mut images = header(kind, dims);
    images.extend(image_data);
    if mode & 2 != 0 {
        images = gzip(&images);
    }
    let mut labels = header(label_kind, &[u32::from(count % 16)]);
    labels.extend(label_data);
    common::check(parse_idx(
        &images,
        "fuzz-images-idx3-ubyte",
        &labels,
        "fuzz-labels-idx1-ubyte",
    ));
});
