//! Every bad input the core can see comes back as an `Error`, never a panic.

use sooth_core::*;

/// A data set that lies about its labels.
struct BadLabels;
impl Dataset for BadLabels {
    fn len(&self) -> usize {
        4
    }
    fn width(&self) -> usize {
        2
    }
    fn classes(&self) -> usize {
        3
    }
    fn fetch(&self, index: usize, features: &mut [f32]) -> usize {
        features.fill(0.5);
        if index == 2 { 7 } else { index % 3 }
    }
}

fn setup() -> (Mlp, Vec<f32>, Vec<f32>, Vec<f32>) {
    let shape = Shape::new(&[2, 3, 3]).unwrap();
    let mlp = Mlp::new(shape, Activation::Relu);
    let n = shape.param_count();
    (
        mlp,
        vec![0.1; n],
        vec![0.0; n],
        vec![0.0; shape.workspace_len()],
    )
}

#[test]
fn label_out_of_range() {
    let (mlp, p, mut g, mut w) = setup();
    assert_eq!(
        mlp.loss_grad(&p, &BadLabels, &[0, 1, 2], &mut g, &mut w),
        Err(Error::LabelOutOfRange {
            index: 2,
            label: 7,
            classes: 3
        })
    );
    assert!(matches!(
        mlp.evaluate(&p, &BadLabels, &mut w),
        Err(Error::LabelOutOfRange { index: 2, .. })
    ));
    let x = [0.0f32; 4];
    assert!(matches!(
        SliceDataset::new(&x, &[0u16, 3], 2, 3),
        Err(Error::LabelOutOfRange {
            index: 1,
            label: 3,
            classes: 3
        })
    ));
}

#[test]
fn width_and_class_mismatch() {
    let (mlp, p, mut g, mut w) = setup();
    let x = [0.0f32; 6];
    let wide = SliceDataset::new(&x, &[0u16, 1], 3, 3).unwrap();
    assert_eq!(
        mlp.loss_grad(&p, &wide, &[0], &mut g, &mut w),
        Err(Error::WidthMismatch { model: 2, data: 3 })
    );
    let x = [0.0f32; 4];
    let two_classes = SliceDataset::new(&x, &[0u16, 1], 2, 2).unwrap();
    assert_eq!(
        mlp.evaluate(&p, &two_classes, &mut w),
        Err(Error::ClassMismatch { model: 3, data: 2 })
    );
}

#[test]
fn empty_dataset_and_batch() {
    let (mlp, p, mut g, mut w) = setup();
    let empty = SliceDataset::<u16>::new(&[], &[], 2, 3).unwrap();
    assert_eq!(
        mlp.loss_grad(&p, &empty, &[0], &mut g, &mut w),
        Err(Error::EmptyDataset)
    );
    assert_eq!(mlp.evaluate(&p, &empty, &mut w), Err(Error::EmptyDataset));
    let x = [0.0f32; 4];
    let data = SliceDataset::new(&x, &[0u16, 1], 2, 3).unwrap();
    assert_eq!(
        mlp.loss_grad(&p, &data, &[], &mut g, &mut w),
        Err(Error::EmptyBatch)
    );
    assert_eq!(mlp.loss(&p, &data, &[], &mut w), Err(Error::EmptyBatch));
}

#[test]
fn index_out_of_range() {
    let (mlp, p, mut g, mut w) = setup();
    let x = [0.0f32; 4];
    let data = SliceDataset::new(&x, &[0u16, 1], 2, 3).unwrap();
    assert_eq!(
        mlp.loss_grad(&p, &data, &[1, 2], &mut g, &mut w),
        Err(Error::IndexOutOfRange { index: 2, len: 2 })
    );
}

#[test]
fn batch_size_zero_or_beyond_the_data() {
    let mut storage = [0u32; 8];
    for batch in [0, 9] {
        let (_, rng) = seed_streams(1);
        assert!(matches!(
            Sampler::new(
                8,
                batch,
                Sampling::Shuffle,
                LastBatch::Keep,
                rng,
                &mut storage
            ),
            Err(Error::InvalidBatchSize { len: 8, .. })
        ));
    }
}

#[test]
fn wrong_buffer_lengths() {
    let (mlp, p, mut g, mut w) = setup();
    let x = [0.0f32; 4];
    let data = SliceDataset::new(&x, &[0u16, 1], 2, 3).unwrap();
    assert!(matches!(
        mlp.loss_grad(&p[1..], &data, &[0], &mut g, &mut w),
        Err(Error::BufferLength {
            buffer: Buffer::Params,
            ..
        })
    ));
    assert!(matches!(
        mlp.loss_grad(&p, &data, &[0], &mut g[1..], &mut w),
        Err(Error::BufferLength {
            buffer: Buffer::Gradient,
            ..
        })
    ));
    assert!(matches!(
        mlp.loss_grad(&p, &data, &[0], &mut g, &mut w[1..]),
        Err(Error::BufferLength {
            buffer: Buffer::Workspace,
            ..
        })
    ));
    let mut init_rng = seed_streams(0).0;
    assert!(matches!(
        mlp.init(&mut g[1..], Init::HeUniform, &mut init_rng),
        Err(Error::BufferLength {
            buffer: Buffer::Params,
            ..
        })
    ));
    let mut state = [0.0f32; 5];
    assert!(matches!(
        Sgd::new(SgdConfig::new(0.1), 2, &mut state),
        Err(Error::BufferLength {
            buffer: Buffer::OptimizerState,
            expected: 11,
            actual: 5
        })
    ));
}

#[test]
fn invalid_hyperparameters() {
    let mut state = [0.0f32; 30];
    for config in [
        SgdConfig::new(0.0),
        SgdConfig::new(f32::NAN),
        SgdConfig {
            momentum: 1.0,
            ..SgdConfig::new(0.1)
        },
        SgdConfig {
            weight_decay: -1.0,
            ..SgdConfig::new(0.1)
        },
    ] {
        assert!(matches!(
            Sgd::new(config, 10, &mut state),
            Err(Error::InvalidHyperparameter { .. })
        ));
    }
    let (mlp, ..) = setup();
    assert!(mlp.with_l2(-0.1).is_err());
    assert!(mlp.with_l2(f32::INFINITY).is_err());
}

#[test]
fn errors_read_well() {
    let e = Error::LabelOutOfRange {
        index: 12,
        label: 10,
        classes: 10,
    };
    assert_eq!(
        e.to_string(),
        "sample 12 has label 10, expected a label below 10"
    );
    let e = Error::InvalidBatchSize {
        batch: 0,
        len: 1347,
    };
    assert_eq!(
        e.to_string(),
        "batch size 0 is invalid for a data set of 1347 samples (expected 1..=1347)"
    );
}
