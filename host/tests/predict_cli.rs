//! `sooth predict` end to end, run as the built binary: one row per sample
//! in file order, the probabilities the core computes (bit for bit, after
//! the model's input scaling), class names from a CSV written back, files
//! without labels, and errors that name the file.

use sooth_core::SavedModel;
use sooth_core::model::section;
use std::path::PathBuf;
use std::process::Command;

/// Exit code and output of `sooth ARGS`.
fn sooth(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sooth"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the sooth binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "sooth {args:?} panicked:\n{stderr}"
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn succeeds(args: &[&str]) -> String {
    let (code, stdout, stderr) = sooth(args);
    assert_eq!(code, Some(0), "sooth {args:?} failed:\n{stdout}{stderr}");
    stdout
}

/// The error message of `sooth ARGS`, which must exit with 1.
fn fails(args: &[&str]) -> String {
    let (code, stdout, stderr) = sooth(args);
    assert_eq!(code, Some(1), "sooth {args:?}:\n{stdout}{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sooth-predict-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

const FRUIT: &str = "fruit,weight_g,diameter_cm\n\
    apple,150,7.5\napple,170,8.0\napple,140,7.2\napple,160,7.8\n\
    cherry,8,2.0\ncherry,6,1.8\ncherry,9,2.2\ncherry,7,1.9\n\
    melon,1500,16\nmelon,1800,18\nmelon,1300,15\nmelon,1650,17\n";

/// The header and the rows of a predictions CSV, split into cells.
fn rows(csv: &str) -> (String, Vec<Vec<String>>) {
    let mut lines = csv.lines();
    let header = lines.next().expect("a header").to_owned();
    let rows = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// A model trained on class names writes them back, for a file without
/// labels; the probabilities of each row sum to 1; `--out` writes the same
/// text to a file; the names are in the model.
#[test]
fn class_names_come_back_from_the_model() {
    let dir = Scratch::new("names");
    let train = dir.write("fruit.csv", FRUIT);
    let model = dir.path("fruit.model");
    succeeds(&[
        "train",
        "--quiet",
        "--dataset",
        &train,
        "--hidden",
        "8",
        "--scale",
        "standardize",
        "--batch-size",
        "full",
        "--epochs",
        "30",
        "--save",
        &model,
    ]);
    let bytes = std::fs::read(&model).unwrap();
    let saved = SavedModel::read(&bytes).unwrap();
    assert_eq!(
        saved.section(section::CLASS_NAMES),
        Some(&b"apple\ncherry\nmelon\n"[..])
    );
    let new = dir.write(
        "new.csv",
        "weight_g,diameter_cm\n155,7.6\n7.5,2.1\n1400,15.5\n",
    );
    let args = [
        "predict",
        "--model",
        &model,
        "--dataset",
        &new,
        "--label-column",
        "none",
    ];
    let stdout = succeeds(&args);
    let (header, rows) = rows(&stdout);
    assert_eq!(header, "prediction,p_apple,p_cherry,p_melon");
    let predicted: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(predicted, ["apple", "cherry", "melon"]);
    for row in &rows {
        let p: Vec<f32> = row[1..].iter().map(|v| v.parse().unwrap()).collect();
        assert_eq!(p.len(), 3);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
    }
    // LIBSVM is read with the model's width (its labels are ignored).
    let svm = dir.write("new.svm", "2 1:155 2:7.6\n0 1:7.5 2:2.1\n1 1:1400 2:15.5\n");
    let from_svm = succeeds(&["predict", "--model", &model, "--dataset", &svm]);
    assert_eq!(from_svm, stdout);
    let out = dir.path("p.csv");
    let mut with_out = args.to_vec();
    with_out.extend(["--out", &out]);
    assert_eq!(succeeds(&with_out), "");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), stdout);

    // `sooth eval` numbers a file's names by the model's: this file has no
    // apple, so its own sorted order would make cherry class 0.
    let two = dir.write(
        "two.csv",
        "fruit,weight_g,diameter_cm\ncherry,8,2.1\nmelon,1600,17\ncherry,6.5,1.9\nmelon,1450,15.2\n",
    );
    let said = succeeds(&[
        "eval",
        "--model",
        &model,
        "--dataset",
        &two,
        "--part",
        "all",
    ]);
    assert_eq!(said.matches("accuracy 100.00%").count(), 2, "{said}");
    let kiwi = dir.write(
        "kiwi.csv",
        "fruit,weight_g,diameter_cm\nkiwi,70,5\napple,150,7\nkiwi,75,5\napple,140,7\n",
    );
    let e = fails(&["eval", "--model", &model, "--dataset", &kiwi]);
    assert!(
        e.contains("kiwi.csv: class \"kiwi\" is not one of the model's classes"),
        "{e}"
    );

    // Fine-tuning needs the same classes.
    let numbered = dir.write(
        "numbered.csv",
        &FRUIT
            .replace("apple", "0")
            .replace("cherry", "1")
            .replace("melon", "2"),
    );
    let e = fails(&[
        "train",
        "--dataset",
        &numbered,
        "--init-from",
        &model,
        "--hidden",
        "8",
        "--scale",
        "standardize",
    ]);
    assert!(e.contains("the model was trained on the classes [\"apple\", \"cherry\", \"melon\"], but the data has class numbers"), "{e}");

    // A test file with a class the training file does not have.
    let test = dir.write(
        "test.csv",
        "fruit,weight_g,diameter_cm\napple,150,7\nkiwi,70,5\n",
    );
    let e = fails(&[
        "train",
        "--dataset",
        &train,
        "--test-data",
        &test,
        "--epochs",
        "1",
    ]);
    assert!(
        e.contains("test.csv:3: column 1: class \"kiwi\" is not in the training file"),
        "{e}"
    );
}

/// Class numbers: `p_0..p_{k-1}`, one row per sample in file order, and
/// every probability the bits `Mlp::probabilities` gives for the row after
/// the model's scaling (the file's label column is ignored).
#[test]
fn probabilities_are_the_cores_bits_in_file_order() {
    let dir = Scratch::new("numbers");
    let mut text = String::new();
    for i in 0..60u32 {
        let class = i % 3;
        let x = (i * 37 % 17) as f32 * 0.5 + class as f32 * 4.0;
        let y = (i * 11 % 13) as f32 - class as f32 * 3.0;
        text.push_str(&format!("{class},{x},{y}\n"));
    }
    let data = dir.write("data.csv", &text);
    let model = dir.path("m.model");
    succeeds(&[
        "train",
        "--quiet",
        "--dataset",
        &data,
        "--hidden",
        "5",
        "--scale",
        "min-max",
        "--epochs",
        "3",
        "--batch-size",
        "full",
        "--save",
        &model,
    ]);
    let stdout = succeeds(&["predict", "--model", &model, "--dataset", &data]);
    let (header, rows) = rows(&stdout);
    assert_eq!(header, "prediction,p_0,p_1,p_2");
    assert_eq!(rows.len(), 60);
    let bytes = std::fs::read(&model).unwrap();
    let saved = SavedModel::read(&bytes).unwrap();
    assert!(saved.has_transform());
    let mlp = saved.mlp();
    let mut params = vec![0.0f32; mlp.shape().param_count()];
    saved.read_params(&mut params).unwrap();
    let mut work = vec![0.0f32; mlp.shape().workspace_len()];
    for (line, row) in text.lines().zip(&rows) {
        let mut x: Vec<f32> = line
            .split(',')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        saved.transform_input(&mut x);
        let mut p = [0.0f32; 3];
        let class = mlp.probabilities(&params, &x, &mut p, &mut work).unwrap();
        assert_eq!(row[0], class.to_string());
        let printed: Vec<u32> = row[1..]
            .iter()
            .map(|v| v.parse::<f32>().unwrap().to_bits())
            .collect();
        assert_eq!(printed, p.map(f32::to_bits), "{line}");
    }
}

/// Errors name the file and say what was expected.
#[test]
fn errors_name_the_file() {
    let dir = Scratch::new("errors");
    let train = dir.write("fruit.csv", FRUIT);
    let model = dir.path("fruit.model");
    succeeds(&[
        "train",
        "--quiet",
        "--dataset",
        &train,
        "--epochs",
        "1",
        "--batch-size",
        "full",
        "--save",
        &model,
    ]);
    // Two feature columns read as a label and one feature.
    let unlabelled = dir.write("new.csv", "1,2\n3,4\n");
    let e = fails(&["predict", "--model", &model, "--dataset", &unlabelled]);
    assert!(
        e.contains("new.csv: 1 features per sample, but the model")
            && e.contains("takes 2 (one column was read as the label; for a file without labels give --label-column none)"),
        "{e}"
    );
    let e = fails(&[
        "predict",
        "--model",
        &model,
        "--dataset",
        &dir.path("missing.csv"),
    ]);
    assert!(e.contains("missing.csv: no such file"), "{e}");
    let e = fails(&[
        "predict",
        "--model",
        &dir.path("none.model"),
        "--dataset",
        &unlabelled,
    ]);
    assert!(e.contains("none.model"), "{e}");
    let bad = dir.write("bad.csv", "1,2\n3,x\n");
    let e = fails(&[
        "predict",
        "--model",
        &model,
        "--dataset",
        &bad,
        "--label-column",
        "none",
    ]);
    assert!(
        e.contains("bad.csv:2: column 2: \"x\" is not a number"),
        "{e}"
    );
    // Training needs labels.
    let e = fails(&["train", "--dataset", &train, "--label-column", "none"]);
    assert!(e.contains("label column none"), "{e}");
}
