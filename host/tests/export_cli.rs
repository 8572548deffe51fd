//! `sooth export` end to end: any network in the model format, and as a C
//! header and a Rust source file that compile (gcc, rustc) and hold the
//! model's numbers bit for bit.

use sooth_core::SavedModel;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sooth(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sooth"))
        .args(args)
        .output()
        .expect("the sooth binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "sooth {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sooth-export-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A 2-6-5-3 tanh model with scaling and class names (`a "b"` tests the
/// escapes), trained for a few epochs in `dir`; its path.
fn trained_model(dir: &Scratch) -> String {
    let mut text = String::from("kind,x,y\n");
    let names = ["a \"b\"", "grün?", "c"];
    for i in 0..30u32 {
        let class = (i % 3) as usize;
        text.push_str(&format!(
            "\"{}\",{},{}\n",
            names[class].replace('"', "\"\""),
            i * 7 % 11 + class as u32 * 20,
            (i * 3 % 5) as f32 * 0.25 - class as f32
        ));
    }
    let data = dir.path("data.csv");
    std::fs::write(&data, text).unwrap();
    let model = dir.path("m.model");
    sooth(&[
        "train",
        "--quiet",
        "--dataset",
        &data,
        "--hidden",
        "6,5",
        "--activation",
        "tanh",
        "--scale",
        "standardize",
        "--batch-size",
        "full",
        "--epochs",
        "3",
        "--save",
        &model,
    ]);
    model
}

/// The model's numbers as the check programs print them: widths, the
/// activation, the hash, the transform's and parameters' bits, the names.
fn expected_lines(model: &SavedModel<'_>, names: &[&str]) -> Vec<String> {
    let mlp = model.mlp();
    let mut lines = vec![format!("widths {:?}", mlp.shape().widths())];
    lines.push(format!(
        "tanh {}",
        u8::from(mlp.activation() == sooth_core::Activation::Tanh)
    ));
    lines.push(format!("hash {:016x}", model.param_hash()));
    for j in 0..mlp.shape().inputs() {
        let (o, d) = model.transform_of(j).unwrap();
        lines.push(format!(
            "transform {:016x} {:016x}",
            o.to_bits(),
            d.to_bits()
        ));
    }
    let mut params = vec![0.0f32; mlp.shape().param_count()];
    model.read_params(&mut params).unwrap();
    for p in params {
        lines.push(format!("param {:08x}", p.to_bits()));
    }
    for n in names {
        lines.push(format!("name {n}"));
    }
    lines
}

fn run_program(exe: &Path) -> Vec<String> {
    let out = Command::new(exe).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn c_header_compiles_and_holds_the_bits() {
    let dir = Scratch::new("c");
    let model_path = trained_model(&dir);
    let header = dir.path("model.h");
    sooth(&[
        "export",
        "--model",
        &model_path,
        "--out",
        &header,
        "--format",
        "c",
    ]);
    let main = dir.path("main.c");
    std::fs::write(
        &main,
        r#"#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "model.h"
int main(void) {
    printf("widths [");
    for (int i = 0; i < SOOTH_MODEL_WIDTHS; i++) printf(i ? ", %u" : "%u", (unsigned)sooth_model_widths[i]);
    printf("]\ntanh %d\nhash %016" PRIx64 "\n", SOOTH_MODEL_ACTIVATION_TANH, (uint64_t)SOOTH_MODEL_PARAM_HASH);
    for (int j = 0; j < SOOTH_MODEL_INPUTS; j++) {
        uint64_t o, d;
        memcpy(&o, &sooth_model_input_offset[j], 8);
        memcpy(&d, &sooth_model_input_divisor[j], 8);
        printf("transform %016" PRIx64 " %016" PRIx64 "\n", o, d);
    }
    for (int i = 0; i < SOOTH_MODEL_PARAMS; i++) {
        uint32_t b;
        memcpy(&b, &sooth_model_params[i], 4);
        printf("param %08" PRIx32 "\n", b);
    }
    for (int k = 0; k < SOOTH_MODEL_OUTPUTS; k++) printf("name %s\n", sooth_model_class_names[k]);
    return SOOTH_MODEL_HAS_TRANSFORM == 1 && SOOTH_MODEL_HAS_CLASS_NAMES == 1 ? 0 : 1;
}
"#,
    )
    .unwrap();
    let exe = dir.path("check-c");
    let gcc = Command::new("gcc")
        .args([
            "-std=c99",
            "-pedantic",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O0",
            "-o",
            &exe,
            &main,
        ])
        .output()
        .expect("gcc runs");
    assert!(
        gcc.status.success(),
        "{}",
        String::from_utf8_lossy(&gcc.stderr)
    );
    let bytes = std::fs::read(&model_path).unwrap();
    let model = SavedModel::read(&bytes).unwrap();
    assert_eq!(
        run_program(Path::new(&exe)),
        expected_lines(&model, &["a \"b\"", "c", "grün?"])
    );
}

#[test]
fn rust_source_compiles_and_holds_the_bits() {
    let dir = Scratch::new("rust");
    let model_path = trained_model(&dir);
    let source = dir.path("model.rs");
    sooth(&[
        "export",
        "--model",
        &model_path,
        "--out",
        &source,
        "--format",
        "rust",
    ]);
    let main = dir.path("main.rs");
    std::fs::write(
        &main,
        r#"#![deny(warnings)]
include!("model.rs");
fn main() {
    println!("widths {:?}", WIDTHS);
    println!("tanh {}", u8::from(ACTIVATION == "tanh"));
    println!("hash {:016x}", PARAM_HASH);
    for (o, d) in INPUT_TRANSFORM.unwrap() {
        println!("transform {:016x} {:016x}", o.to_bits(), d.to_bits());
    }
    for p in PARAMS {
        println!("param {:08x}", p.to_bits());
    }
    for n in CLASS_NAMES {
        println!("name {n}");
    }
    assert_eq!(L2, 0.0);
}
"#,
    )
    .unwrap();
    let exe = dir.path("check-rust");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args(["--edition", "2021", "-C", "opt-level=0", "-o", &exe, &main])
        .output()
        .expect("rustc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&model_path).unwrap();
    let model = SavedModel::read(&bytes).unwrap();
    assert_eq!(
        run_program(Path::new(&exe)),
        expected_lines(&model, &["a \"b\"", "c", "grün?"])
    );
}

/// Any network is exported in the model format, as the same bytes; the
/// reference firmware's hint is only given for its network.
#[test]
fn any_network_in_the_model_format() {
    let dir = Scratch::new("model");
    let model_path = trained_model(&dir);
    let out = dir.path("copy.bin");
    let said = sooth(&["export", "--model", &model_path, "--out", &out]);
    assert!(said.contains("2-6-5-3 tanh"), "{said}");
    assert!(said.contains("for your own firmware"), "{said}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&model_path).unwrap()
    );
}
