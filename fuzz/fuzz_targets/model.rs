//! SavedModel::read on arbitrary bytes: never panics; a model it accepts
//! reads back its parameters and writes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sooth_core::{SavedModel, saved_len, write_model};

fuzz_target!(|data: &[u8]| {
    let Ok(model) = SavedModel::read(data) else {
        return;
    };
    let mlp = model.mlp();
    let shape = mlp.shape();
    let mut params = vec![0.0f32; shape.param_count()];
    model
        .read_params(&mut params)
        .expect("the parameters of an accepted model");
    assert_eq!(sooth_core::param_hash(&params), model.param_hash());
    let mut features = vec![0.5f32; shape.inputs()];
    model.transform_input(&mut features);
    let transform: Option<Vec<(f64, f64)>> = model.has_transform().then(|| {
        (0..shape.inputs())
            .map(|j| model.transform_of(j).expect("a transform pair per input"))
            .collect()
    });
    let mut out = vec![0u8; saved_len(&shape, transform.is_some())];
    let len = write_model(&mlp, &params, transform.as_deref(), &mut out).expect("rewrite");
    assert_eq!(
        &out[..len],
        data,
        "an accepted model writes back to the same bytes"
    );
});
