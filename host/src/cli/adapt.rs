//! `sooth adapt`: the host replay of the firmware's adapt program (the
//! logic is [`crate::adapt`]; this module parses flags and prints).

use crate::adapt::{self, Replay};
use crate::cli::output::outln;
use clap::{Args, ValueEnum};
use sooth_reference::adapt::{BLOCK, RUNS, SEED};
use sooth_reference::digits::TRAIN_LEN;
use std::path::PathBuf;

/// Which adaptations to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdaptOptimizer {
    /// L-BFGS (m = 5), then SGD, as the firmware runs them.
    Both,
    /// L-BFGS (m = 5) only.
    Lbfgs,
    /// SGD (momentum 0.9) only.
    Sgd,
}

/// Flags of `sooth adapt`.
#[derive(Debug, Args)]
#[command(
    after_help = "With the default seed and optimizers, the lines are the firmware's \
(cd firmware && cargo run --release --bin adapt), bit for bit."
)]
pub struct AdaptArgs {
    /// Seed of the host model's training and of the stream's order.
    #[arg(long, default_value_t = SEED)]
    pub seed: u64,
    /// Which adaptations to run.
    #[arg(long, default_value = "both")]
    pub optimizer: AdaptOptimizer,
    /// Samples that arrive (a multiple of 50, at most 1347); the firmware's
    /// release build runs 500, its debug build 100.
    #[arg(long, default_value_t = sooth_reference::adapt::ARRIVALS, value_parser = parse_arrivals)]
    pub arrivals: u32,
    /// Print one JSON object on stdout instead of the log lines.
    #[arg(long)]
    pub json: bool,
    /// Also write the host model (saved-model format) to FILE; with the
    /// default seed this is the firmware's data/adapt/host-model.bin.
    #[arg(long, value_name = "FILE")]
    pub save_model: Option<PathBuf>,
}

/// `--arrivals`: a multiple of the block, at most the shifted training split.
fn parse_arrivals(text: &str) -> Result<u32, String> {
    let (block, most) = (BLOCK, TRAIN_LEN as u32);
    match text.parse::<u32>() {
        Ok(n) if n.is_multiple_of(block) && n <= most => Ok(n),
        _ => Err(format!(
            "expected a multiple of {block} from 0 to {most} (the stream's blocks, at most the training split)"
        )),
    }
}

/// Runs `sooth adapt`.
pub fn run(args: AdaptArgs) -> Result<(), String> {
    if let Some(path) = &args.save_model {
        super::train::check_output(path)?;
    }
    let model = adapt::host_model(args.seed).map_err(|e| e.to_string())?;
    if let Some(path) = &args.save_model {
        let bytes = adapt::model_bytes(&model).map_err(|e| e.to_string())?;
        crate::atomic::write_file(path, &bytes).map_err(|e| e.to_string())?;
    }
    let runs = match args.optimizer {
        AdaptOptimizer::Both => &RUNS[..],
        AdaptOptimizer::Lbfgs => &RUNS[..1],
        AdaptOptimizer::Sgd => &RUNS[1..],
    };
    let replay: Replay = adapt::replay(model, runs, args.arrivals).map_err(|e| e.to_string())?;
    if args.json {
        let json = serde_json::to_string(&replay).map_err(|e| e.to_string())?;
        outln!("{json}")?;
    } else {
        for line in adapt::log_lines(&replay) {
            outln!("{line}")?;
        }
    }
    Ok(())
}
