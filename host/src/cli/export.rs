//! `sooth export`: a saved model for the firmware.

use crate::cli::output::outln;
use clap::Args;
use sooth_core::SavedModel;
use sooth_reference as reference;
use std::path::PathBuf;

/// Flags of `sooth export`.
#[derive(Debug, Args)]
#[command(
    after_help = "Then build it into the firmware, which evaluates it on the test digits and \
fine-tunes it on the device:\n  cd firmware && SOOTH_MODEL=/path/to/exported.bin cargo run --release"
)]
pub struct ExportArgs {
    /// The model (from `sooth train --save`).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Where to write the checked copy for the firmware build.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
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
    if mlp.shape() != reference::SHAPE || mlp.activation() != reference::ACTIVATION {
        return Err(format!(
            "{name}: the model is {described}, but the firmware trains {}-{}-{} relu on the digits; \
             train one with: sooth train --hidden {} --save FILE",
            reference::INPUTS,
            reference::HIDDEN,
            reference::CLASSES,
            reference::HIDDEN
        ));
    }
    if model.has_transform() {
        return Err(format!(
            "{name}: the model scales its inputs (trained with --scale); the firmware feeds the \
             digits unscaled (level / 16): train with --scale none"
        ));
    }
    super::train::check_output(&args.out)?;
    // A version 1 model is copied as version 2 (the same numbers, with a
    // checksum of every byte).
    let upgraded = if model.version() < sooth_core::model::VERSION {
        let mut params = vec![0.0f32; mlp.shape().param_count()];
        model
            .read_params(&mut params)
            .map_err(|e| format!("{name}: {e}"))?;
        let mut out = vec![0u8; sooth_core::saved_len(&mlp.shape(), false)];
        let len = sooth_core::write_model(&mlp, &params, None, &mut out)
            .map_err(|e| format!("{name}: {e}"))?;
        out.truncate(len);
        Some(out)
    } else {
        None
    };
    crate::atomic::write_file(&args.out, upgraded.as_deref().unwrap_or(&bytes))
        .map_err(|e| e.to_string())?;
    let absolute = std::fs::canonicalize(&args.out).unwrap_or(args.out.clone());
    outln!(
        "{}: {described}, {} parameters, param_hash {:016x}",
        args.out.display(),
        mlp.shape().param_count(),
        model.param_hash()
    )?;
    outln!(
        "build it into the firmware: cd firmware && SOOTH_MODEL={} cargo run --release",
        absolute.display()
    )?;
    Ok(())
}
