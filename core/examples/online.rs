//! Online training on a host with `sooth-core` alone: samples arrive one at a time (the digits'
//! 1347 training images, 8x8 levels 0..=16), each is predicted BEFORE its label is learned, then
//! pushed into a ring of the latest 256; every 8 arrivals L-BFGS (m = 5) takes 4 steps on batches
//! of 64 from the ring. Then the held-out images: accuracy, and predictions with their confidence.
//! Run: `cargo run --release -p sooth-core --example online`
use sooth_core::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/digits/");
    let read = |name: &str| std::fs::read(format!("{dir}{name}"));
    let (levels, labels) = (read("train-levels.u8")?, read("train-labels.u8")?);
    let shape = Shape::new(&[64, 32, 10])?;
    let setup = OnlineSetup {
        optimizer: OptimizerConfig::Lbfgs(LbfgsConfig::new(5)),
        capacity: 256,
        retention: Retention::Latest,
        batch_size: 64,
    };
    let len = setup.buffer_lengths(&shape);
    let (mut floats, mut indices, mut stored_labels) = (
        vec![0.0; len.floats()],
        vec![0; len.indices],
        vec![0; len.labels],
    );
    let buffers = OnlineBuffers::split(&len, &mut floats, &mut indices, &mut stored_labels)?;
    let mlp = Mlp::new(shape, Activation::Tanh);
    let (mut init_rng, rng) = seed_streams(1);
    mlp.init(buffers.params, Init::GlorotUniform, &mut init_rng)?;
    let mut trainer = OnlineTrainer::new(mlp, &setup, rng, buffers)?;
    let mut right = 0;
    for (k, (image, &label)) in levels.chunks_exact(64).zip(&labels).enumerate() {
        let x: Vec<f32> = image.iter().map(|&v| f32::from(v) / 16.0).collect();
        right += usize::from(trainer.predict(&x)? == usize::from(label)); // predict, then learn
        trainer.push(&x, label.into())?;
        if k % 8 == 7 && trainer.store().len() >= trainer.batch_size() {
            trainer.train(4)?;
        }
        if (k + 1) % 200 == 0 {
            println!(
                "{:4} arrivals: {right} of the last 200 right before learning",
                k + 1
            );
            right = 0;
        }
    }
    let (test_levels, test_labels) = (read("test-levels.u8")?, read("test-labels.u8")?);
    let test = PackedDataset::new(&test_levels, &test_labels, 64, 10, Packing::U8, 0.0625, 0.0)?;
    let score = trainer.evaluate(&test)?;
    println!(
        "held-out: {} of {} right ({:.3})",
        score.correct,
        score.total,
        score.accuracy()
    );
    let mut p = [0.0f32; 10];
    for (image, label) in test_levels.chunks_exact(64).zip(&test_labels).take(4) {
        let x: Vec<f32> = image.iter().map(|&v| f32::from(v) / 16.0).collect();
        let class = trainer.probabilities(&x, &mut p)?;
        println!("predicted {class} with p = {:.3}; label {label}", p[class]);
    }
    Ok(())
}
