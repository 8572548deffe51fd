//! Golden-bit tests: committed parameter bits that every platform and build
//! profile must reproduce. CI runs this file in debug AND release
//! (scripts/test.sh); a change of any bit here means results changed.

use sooth_core::*;
use sooth_tests::digits_train;

/// 100 SGD steps (lr 0.1, momentum 0.9, batch 32, shuffled) of a 64-32-10
/// ReLU network on digits, seed 1.
#[test]
fn sgd_100_steps_on_digits() {
    let (x, y) = digits_train();
    let data = SliceDataset::new(&x, &y, 64, 10).unwrap();
    let shape = Shape::new(&[64, 32, 10]).unwrap();
    let mlp = Mlp::new(shape, Activation::Relu);
    let n = shape.param_count();
    let mut params = vec![0.0f32; n];
    let mut work = vec![0.0f32; shape.workspace_len()];
    let mut state = vec![0.0f32; Sgd::storage_len(n)];
    let mut indices = vec![0u32; data.len()];
    let (mut init_rng, sampler_rng) = seed_streams(1);
    mlp.init(&mut params, Init::HeUniform, &mut init_rng)
        .unwrap();
    let mut sampler = Sampler::new(
        data.len(),
        32,
        Sampling::Shuffle,
        LastBatch::Keep,
        sampler_rng,
        &mut indices,
    )
    .unwrap();
    let config = SgdConfig {
        momentum: 0.9,
        ..SgdConfig::new(0.1)
    };
    let mut sgd = Sgd::new(config, n, &mut state).unwrap();
    let mut steps = 0;
    let last_loss;
    'outer: loop {
        sampler.start_epoch();
        while let Some(batch) = sampler.next_batch() {
            let mut objective = BatchObjective {
                mlp: &mlp,
                data: &data,
                batch,
                work: &mut work,
            };
            let report = sgd.step(&mut params, &mut objective).unwrap();
            assert_eq!(report.status, Status::Moved);
            steps += 1;
            if steps == 100 {
                last_loss = report.loss;
                break 'outer;
            }
        }
    }
    let eval = mlp.evaluate(&params, &data, &mut work).unwrap();
    println!(
        "hash {:#018x} loss {:#018x} first {:#010x} last {:#010x} train acc {}",
        param_hash(&params),
        last_loss.to_bits(),
        params[0].to_bits(),
        params[n - 1].to_bits(),
        eval.accuracy()
    );
    // A sanity anchor that does not depend on bits: SGD learned something.
    assert!(eval.accuracy() > 0.9, "train accuracy {}", eval.accuracy());
    assert_eq!(param_hash(&params), GOLDEN_SGD_HASH);
    assert_eq!(last_loss.to_bits(), GOLDEN_SGD_LAST_LOSS);
    assert_eq!(params[0].to_bits(), GOLDEN_SGD_FIRST);
    assert_eq!(params[n - 1].to_bits(), GOLDEN_SGD_LAST);
}

// Recorded on x86_64 (debug); release and the Cortex-M4F must match.
const GOLDEN_SGD_HASH: u64 = 0xb238_b82c_851d_63d7;
const GOLDEN_SGD_LAST_LOSS: u64 = 0x3fb9_9e6c_8000_0000;
const GOLDEN_SGD_FIRST: u32 = 0x3e43_6706;
const GOLDEN_SGD_LAST: u32 = 0xbe4a_fff1;
