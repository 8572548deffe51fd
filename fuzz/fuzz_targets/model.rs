//! SavedModel::read on arbitrary bytes: never panics; a model it accepts
//! reads back its parameters and writes back to the same bytes (a version 1
//! model: to a version 2 model with the same contents).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sooth_core::{SavedModel, Section, saved_len, section_len, write_model_with};

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
    let sections: Vec<Section> = model.sections().collect();
    let len = saved_len(&shape, transform.is_some())
        + sections
            .iter()
            .map(|s| section_len(s.body.len()))
            .sum::<usize>();
    let mut out = vec![0u8; len];
    let written = write_model_with(&mlp, &params, transform.as_deref(), &sections, &mut out)
        .expect("rewrite");
    assert_eq!(written, len);
    if model.version() == sooth_core::model::VERSION {
        assert_eq!(
            &out[..],
            data,
            "an accepted model writes back to the same bytes"
        );
    } else {
        let again = SavedModel::read(&out).expect("the rewritten model reads");
        assert_eq!(again.mlp(), mlp);
        assert_eq!(again.param_hash(), model.param_hash());
        assert_eq!(again.has_transform(), model.has_transform());
    }
});
