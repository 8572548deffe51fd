//! parse_csv on arbitrary bytes; the first two bytes pick the options.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sooth::data::{CsvOptions, Header, LabelColumn, parse_csv};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let [mode, delimiter, rest @ ..] = data else {
        return;
    };
    let header = [Header::Auto, Header::Present, Header::Absent][usize::from(mode % 3)];
    let label_column = match (mode / 3) % 5 {
        0 => LabelColumn::First,
        1 => LabelColumn::Last,
        2 => LabelColumn::Number(usize::from(mode / 15) % 4 + 1),
        3 => LabelColumn::Name("y".into()),
        _ => LabelColumn::Name(String::new()),
    };
    let delimiter = match delimiter % 8 {
        0..=3 => b',',
        4 => b';',
        5 => b'\t',
        6 => b' ',
        _ => *delimiter,
    };
    let options = CsvOptions {
        header,
        label_column,
        delimiter,
    };
    common::check(parse_csv(rest, "fuzz.csv", &options));
});
