//! `sooth export`: a saved model for firmware: a checked copy in the model
//! format, or its parameters as a Rust source file or a C header.

use crate::cli::output::outln;
use crate::export::{c_header, rust_source};
use clap::{Args, ValueEnum};
use sooth_core::SavedModel;
use sooth_reference as reference;
use std::path::PathBuf;

/// What `sooth export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// The model format (version 2), checked; what `SavedModel::read` and the
    /// reference firmware's `SOOTH_MODEL` read.
    Model,
    /// A Rust source file of constants (WIDTHS, ACTIVATION, INPUT_TRANSFORM,
    /// CLASS_NAMES, PARAMS, ...), no dependencies.
    Rust,
    /// A C99 header (SOOTH_MODEL_* macros, sooth_model_params, ...).
    C,
}

/// Flags of `sooth export`.
#[derive(Debug, Args)]
#[command(
    after_help = "Every network can be exported. The reference firmware builds in \
64-16-10 relu models without scaling:\n  cd firmware && SOOTH_MODEL=/path/to/exported.bin cargo \
run --release\nFor your own firmware, `--format rust` or `--format c` write the shape, \
activation, input transform, class names and parameters as source code; every number is a \
literal that reads back to the same bits (Rust: shortest round-trip decimals; C: hexadecimal \
floating literals)."
)]
pub struct ExportArgs {
    /// The model (from `sooth train --save`).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Where to write it (atomically).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// What to write.
    #[arg(long, default_value = "model")]
    pub format: ExportFormat,
}

/// Runs `sooth export`.
pub fn run(args: ExportArgs) -> Result<(), String> {
    let name = args.model.display().to_string();
    let bytes = super::read_model_file(&args.model)?;
    let model = SavedModel::read(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let mlp = model.mlp();
    let widths: Vec<String> = mlp.shape().widths().iter().map(|w| w.to_string()).collect();
    let described = format!(
        "{} {}",
        widths.join("-"),
        crate::run::activation_name(mlp.activation())
    );
    super::train::check_output(&args.out)?;
    let written = match args.format {
        ExportFormat::Model => model_copy(&model).map_err(|e| format!("{name}: {e}"))?,
        ExportFormat::Rust => Some(
            rust_source(&model, &name)
                .map_err(|e| format!("{name}: {e}"))?
                .into_bytes(),
        ),
        ExportFormat::C => Some(
            c_header(&model, &name)
                .map_err(|e| format!("{name}: {e}"))?
                .into_bytes(),
        ),
    };
    let bytes = written.as_deref().unwrap_or(&bytes);
    crate::atomic::write_file(&args.out, bytes).map_err(|e| e.to_string())?;
    outln!(
        "{}: {described}, {} parameters, param_hash {:016x}",
        args.out.display(),
        mlp.shape().param_count(),
        model.param_hash()
    )?;
    if args.format != ExportFormat::Model {
        return Ok(());
    }
    let absolute = std::fs::canonicalize(&args.out).unwrap_or(args.out.clone());
    let reference_network =
        mlp.shape() == reference::SHAPE && mlp.activation() == reference::ACTIVATION;
    if reference_network && !model.has_transform() {
        outln!(
            "build it into the firmware: cd firmware && SOOTH_MODEL={} cargo run --release",
            absolute.display()
        )?;
    } else {
        let why = if reference_network {
            "it scales its inputs (trained with --scale), the firmware feeds the digits unscaled"
                .to_owned()
        } else {
            format!(
                "the firmware trains {}-{}-{} relu",
                reference::INPUTS,
                reference::HIDDEN,
                reference::CLASSES
            )
        };
        outln!(
            "for your own firmware (sooth_core::SavedModel::read); not for the reference \
             firmware's SOOTH_MODEL: {why}"
        )?;
    }
    Ok(())
}

/// A version 1 model as version 2 (the same numbers, with a checksum of
/// every byte); `None` for a version 2 model, which is copied as it is.
fn model_copy(model: &SavedModel<'_>) -> Result<Option<Vec<u8>>, sooth_core::Error> {
    if model.version() >= sooth_core::model::VERSION {
        return Ok(None);
    }
    let mlp = model.mlp();
    let mut params = vec![0.0f32; mlp.shape().param_count()];
    model.read_params(&mut params)?;
    let transform: Option<Vec<(f64, f64)>> = model.has_transform().then(|| {
        (0..mlp.shape().inputs())
            .filter_map(|j| model.transform_of(j))
            .collect()
    });
    let mut out = vec![0u8; sooth_core::saved_len(&mlp.shape(), transform.is_some())];
    let len = sooth_core::write_model(&mlp, &params, transform.as_deref(), &mut out)?;
    out.truncate(len);
    Ok(Some(out))
}
