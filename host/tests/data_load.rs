//! `sooth::data::load` end to end: files on disk, built-in sets, splits,
//! scaling, and the errors people see.

use sooth::data::{DataSpec, Format, Header, LabelColumn, Loaded, Place, Scaling, Table, load};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sooth-data-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn spec(path: &Path) -> DataSpec {
    DataSpec::new(path.to_string_lossy())
}

fn error(spec: &DataSpec) -> String {
    load(spec).unwrap_err().to_string()
}

/// `n` rows of `width` features, label `i % classes`, feature j of row i = i + j / 10.
fn csv_text(n: usize, width: usize, classes: usize, header: bool) -> String {
    let mut s = String::new();
    if header {
        s.push('y');
        for j in 0..width {
            s.push_str(&format!(",f{j}"));
        }
        s.push('\n');
    }
    for i in 0..n {
        s.push_str(&(i % classes).to_string());
        for j in 0..width {
            s.push_str(&format!(",{}", i as f32 + j as f32 / 10.0));
        }
        s.push('\n');
    }
    s
}

#[test]
fn digits_built_in() {
    let data = load(&DataSpec::new("digits")).unwrap();
    assert_eq!(data.name, "digits");
    assert_eq!((data.train.len(), data.test.len()), (1347, 450));
    assert_eq!(
        (data.train.width, data.train.classes, data.test.classes),
        (64, 10, 10)
    );
    assert!(data.description.starts_with("digits (built-in 8x8 handwritten digits, fixed split): 1347 training / 450 test samples (fixed test part), 64 features, 10 classes, scaling none"), "{}", data.description);
    assert!(data.train.dataset().is_ok());
    // The same numbers as the core's PackedDataset with scale 1/16 over the raw levels.
    let (levels, labels, _, _) = sooth::data::digits_raw();
    let packed = sooth_core::PackedDataset::new(
        levels,
        labels,
        64,
        10,
        sooth_core::Packing::U8,
        0.0625,
        0.0,
    )
    .unwrap();
    let mut row = [0.0f32; 64];
    for i in [0, 1, 1346] {
        let label = sooth_core::Dataset::fetch(&packed, i, &mut row);
        assert_eq!(&row[..], data.train.row(i).unwrap());
        assert_eq!(label, usize::from(data.train.labels[i]));
    }
    // Min-max on digits: fitted on the training part; column 0 is constant 0.
    let scaled = load(&DataSpec {
        scaling: Scaling::MinMax,
        ..DataSpec::new("digits")
    })
    .unwrap();
    assert!(
        scaled
            .train
            .features
            .iter()
            .all(|x| (0.0..=1.0).contains(x))
    );
    assert_eq!(scaled.scaler.divisor[0], 1.0);
    assert!(scaled.train.features.chunks(64).all(|r| r[0] == 0.0));
}

#[test]
fn synthetic_sets_are_seeded_and_split() {
    let s = |seed| DataSpec {
        seed,
        ..DataSpec::new("spirals:samples=400")
    };
    let a = load(&s(1)).unwrap();
    let b = load(&s(1)).unwrap();
    let c = load(&s(2)).unwrap();
    assert_eq!((a.train.clone(), a.test.clone()), (b.train, b.test));
    assert_ne!(a.train, c.train);
    assert_eq!((a.train.len(), a.test.len()), (300, 100));
    assert_eq!(a.test.class_counts(), vec![50, 50]);
    let blobs = load(&DataSpec {
        test_fraction: 0.1,
        ..DataSpec::new("blobs:samples=100,classes=5,width=3")
    })
    .unwrap();
    assert_eq!(
        (
            blobs.train.len(),
            blobs.test.len(),
            blobs.train.width,
            blobs.train.classes
        ),
        (90, 10, 3, 5)
    );
    assert_eq!(blobs.test.class_counts(), vec![2; 5]);
}

#[test]
fn csv_file_split_is_stratified_and_seeded() {
    let dir = scratch("csv-split");
    let path = write(&dir, "data.csv", csv_text(40, 3, 4, true).as_bytes());
    let data = load(&DataSpec {
        test_fraction: 0.2,
        seed: 9,
        ..spec(&path)
    })
    .unwrap();
    assert_eq!(data.name, "data.csv");
    assert_eq!((data.train.len(), data.test.len()), (32, 8));
    assert_eq!(data.test.class_counts(), vec![2, 2, 2, 2]);
    assert_eq!((data.train.width, data.train.classes), (3, 4));
    assert!(data.description.contains("(CSV, label column first): 32 training / 8 test samples (stratified split, test fraction 0.2, seed 9), 3 features, 4 classes, scaling none"), "{}", data.description);
    // Rows are whole and in file order: feature 0 of row i is i, its label i % 4.
    for t in [&data.train, &data.test] {
        for i in 0..t.len() {
            let row = t.row(i).unwrap();
            assert_eq!(usize::from(t.labels[i]), row[0] as usize % 4);
            assert_eq!(row[1], row[0] + 0.1);
        }
        assert!(
            t.features
                .chunks(3)
                .map(|r| r[0])
                .collect::<Vec<_>>()
                .windows(2)
                .all(|w| w[0] < w[1])
        );
    }
    let again = load(&DataSpec {
        test_fraction: 0.2,
        seed: 9,
        ..spec(&path)
    })
    .unwrap();
    assert_eq!(again.test, data.test);
    let other = load(&DataSpec {
        test_fraction: 0.2,
        seed: 10,
        ..spec(&path)
    })
    .unwrap();
    assert_ne!(other.test, data.test);
}

#[test]
fn csv_with_test_file_and_label_by_name() {
    let dir = scratch("csv-test-file");
    let train = write(&dir, "train.csv", b"a,label,b\n1,0,2\n3,1,4\n5,2,6\n");
    let test = write(&dir, "test.csv", b"a,label,b\n7,2,8\n");
    let data = load(&DataSpec {
        test_data: Some(test.clone()),
        label_column: LabelColumn::Name("label".into()),
        ..spec(&train)
    })
    .unwrap();
    assert_eq!(data.train.features, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(data.test.features, vec![7.0, 8.0]);
    assert_eq!((data.test.labels.clone(), data.test.classes), (vec![2], 3));
    assert!(
        data.description
            .contains(&format!("(test file {})", test.display())),
        "{}",
        data.description
    );

    // A test label beyond the training classes names the test file, line and column.
    let bad = write(&dir, "bad-test.csv", b"a,label,b\n7,1,8\n7,3,8\n");
    let e = load(&DataSpec {
        test_data: Some(bad.clone()),
        label_column: LabelColumn::Number(2),
        ..spec(&train)
    })
    .unwrap_err();
    assert_eq!(e.file.as_deref(), Some(&*bad.display().to_string()));
    assert_eq!(e.place, Place::Cell { line: 3, column: 2 });
    assert_eq!(
        e.message,
        "label 3 is beyond the 3 classes of the training data (labels 0 to 2)"
    );

    // Widths must agree.
    let narrow = write(&dir, "narrow.csv", b"1,2\n");
    let e = error(&DataSpec {
        test_data: Some(narrow.clone()),
        header: Header::Absent,
        ..spec(&write(&dir, "t.csv", b"0,1,2\n1,3,4\n"))
    });
    assert_eq!(
        e,
        format!(
            "{}:1: test data has 1 features per sample, but the training data {} has 2",
            narrow.display(),
            dir.join("t.csv").display()
        )
    );
}

#[test]
fn classes_given_or_found() {
    let dir = scratch("classes");
    let path = write(&dir, "d.csv", b"0,1\n1,2\n0,3\n1,4\n");
    let data = load(&DataSpec {
        classes: Some(5),
        test_fraction: 0.5,
        ..spec(&path)
    })
    .unwrap();
    assert_eq!((data.train.classes, data.test.classes), (5, 5));
    let e = load(&DataSpec {
        classes: Some(2),
        ..spec(&write(&dir, "e.csv", b"0,1\n2,2\n1,2\n"))
    })
    .unwrap_err();
    assert_eq!(e.place, Place::Cell { line: 2, column: 1 });
    assert_eq!(
        e.message,
        "label 2 is not below the 2 classes given (labels 0 to 1)"
    );
    let zeros = write(&dir, "z.csv", b"0,1\n0,2\n");
    assert_eq!(
        error(&spec(&zeros)),
        format!(
            "{}: every training label is 0; expected at least 2 classes (or give the number of classes)",
            zeros.display()
        )
    );
    assert_eq!(
        error(&DataSpec {
            classes: Some(1),
            ..spec(&zeros)
        }),
        "1 classes; expected 2 to 65536"
    );
}

#[test]
fn scaling_is_fitted_on_the_training_part_only() {
    let dir = scratch("scaling");
    let train = write(&dir, "train.csv", b"0,0,5\n1,10,5\n0,5,5\n");
    let test = write(&dir, "test.csv", b"1,20,6\n");
    let minmax = load(&DataSpec {
        test_data: Some(test.clone()),
        scaling: Scaling::MinMax,
        ..spec(&train)
    })
    .unwrap();
    assert_eq!(minmax.train.features, vec![0.0, 0.0, 1.0, 0.0, 0.5, 0.0]);
    assert_eq!(minmax.test.features, vec![2.0, 1.0]);
    let z = load(&DataSpec {
        test_data: Some(test.clone()),
        scaling: Scaling::Standardize,
        ..spec(&train)
    })
    .unwrap();
    // numpy: x = np.array([0, 10, 5.0]); (x - x.mean()) / x.std() -> [-1.22474487, 1.22474487, 0.]
    // and (20 - 5) / x.std() = 3.6742346141747673
    let expect = [
        -1.224_744_871_391_589,
        0.0,
        1.224_744_871_391_589,
        0.0,
        0.0,
        0.0,
    ];
    for (got, want) in z.train.features.iter().zip(expect) {
        assert!((f64::from(*got) - want).abs() < 1e-6);
    }
    assert!((f64::from(z.test.features[0]) - 3.674_234_614_174_767).abs() < 1e-6);
    assert_eq!(z.test.features[1], 1.0); // constant column: (6 - 5) / 1
    // A test value that overflows f32 after scaling names its cell.
    let tiny = write(&dir, "tiny.csv", b"0,0\n1,1e-30\n");
    let huge = write(&dir, "huge.csv", b"1,3e38\n");
    let e = load(&DataSpec {
        test_data: Some(huge.clone()),
        scaling: Scaling::MinMax,
        ..spec(&tiny)
    })
    .unwrap_err();
    assert_eq!(e.place, Place::Cell { line: 1, column: 2 });
    assert!(
        e.message.starts_with(
            "value 3e38 is not finite in f32 after min-max scaling fitted on the training part"
        ),
        "{e}"
    );
}

#[test]
fn libsvm_width_is_the_union_of_train_and_test() {
    let dir = scratch("libsvm");
    let train = write(&dir, "a.svm", b"0 1:1\n1 2:2\n");
    let test = write(&dir, "a.t", b"1 4:1\n");
    let data = load(&DataSpec {
        test_data: Some(test.clone()),
        format: Some(Format::Libsvm),
        ..spec(&train)
    })
    .unwrap();
    assert_eq!((data.train.width, data.test.width), (4, 4));
    assert_eq!(
        data.train.features,
        vec![1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0]
    );
    assert_eq!(data.test.features, vec![0.0, 0.0, 0.0, 1.0]);
    // With the width given, an index beyond it is an error in the test file.
    let e = error(&DataSpec {
        test_data: Some(test.clone()),
        width: Some(3),
        ..spec(&train)
    });
    assert_eq!(
        e,
        format!(
            "{}:1: field 2: \"4:1\": index 4 is beyond the width of 3 features that was given",
            test.display()
        )
    );
    // .txt is sniffed: a ':' on the first data line is LIBSVM.
    let txt = write(&dir, "b.txt", b"# comment\n0 1:1\n1 1:2\n0 1:3\n1 1:4\n");
    assert!(
        load(&DataSpec {
            test_fraction: 0.5,
            ..spec(&txt)
        })
        .unwrap()
        .description
        .contains("(LIBSVM)")
    );
}

/// An IDX file of unsigned bytes.
fn idx_u8(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

#[test]
fn idx_pairs_by_mnist_naming() {
    let dir = scratch("idx");
    let pixels: Vec<u8> = (0..4 * 2 * 2).map(|i| i as u8 * 10).collect();
    let images = write(
        &dir,
        "train-images-idx3-ubyte.gz",
        &gzip(&idx_u8(&[4, 2, 2], &pixels)),
    );
    // The labels file is plain although the images are gzipped: both names are tried.
    write(
        &dir,
        "train-labels-idx1-ubyte",
        &idx_u8(&[4], &[0, 1, 0, 1]),
    );
    let test = write(
        &dir,
        "t10k-images.idx3-ubyte",
        &idx_u8(&[1, 2, 2], &[255, 0, 0, 0]),
    );
    write(
        &dir,
        "t10k-labels.idx1-ubyte.gz",
        &gzip(&idx_u8(&[1], &[1])),
    );
    let data = load(&DataSpec {
        test_data: Some(test),
        scaling: Scaling::MinMax,
        ..spec(&images)
    })
    .unwrap();
    assert_eq!(
        (data.train.len(), data.train.width, data.train.classes),
        (4, 4, 2)
    );
    assert_eq!(
        data.train.row(1).unwrap(),
        &[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]
    );
    assert_eq!(
        data.test.row(0).unwrap(),
        &[255.0 / 120.0, -1.0 / 12.0, -2.0 / 12.0, -3.0 / 12.0]
    );
    assert_eq!(data.test.labels, vec![1]);

    // A labels path given explicitly.
    let odd = write(&dir, "faces.idx", &idx_u8(&[4, 1], &[1, 2, 3, 4]));
    let odd_labels = write(&dir, "answers.bin", &idx_u8(&[4], &[1, 0, 1, 0]));
    let data = load(&DataSpec {
        labels_path: Some(odd_labels.clone()),
        test_fraction: 0.5,
        ..spec(&odd)
    })
    .unwrap();
    assert_eq!((data.train.len(), data.test.len()), (2, 2));
    // No "images" in the name and no labels path.
    assert_eq!(
        error(&spec(&odd)),
        format!(
            "{}: cannot tell where the labels are: the name has no \"images\" to turn into \"labels\" (MNIST naming); give the labels file",
            odd.display()
        )
    );
    // The named labels file is missing.
    let lonely = write(&dir, "x-images-idx3-ubyte", &idx_u8(&[2, 1], &[1, 2]));
    let e = error(&spec(&lonely));
    assert!(
        e.starts_with(&format!(
            "{}: no such file (the labels file for {}",
            dir.join("x-labels-idx1-ubyte").display(),
            lonely.display()
        )),
        "{e}"
    );
    // A labels path for a CSV file is a mistake.
    let csv = write(&dir, "c.csv", b"0,1\n1,2\n");
    assert!(
        error(&DataSpec {
            labels_path: Some(odd_labels),
            ..spec(&csv)
        })
        .contains("only IDX keeps labels in a separate file")
    );
}

#[test]
fn files_that_cannot_be_read() {
    let dir = scratch("unreadable");
    let missing = dir.join("nope.csv");
    assert_eq!(
        error(&spec(&missing)),
        format!("{}: no such file", missing.display())
    );
    assert_eq!(
        error(&spec(&dir)),
        format!("{}: is a directory, expected a data file", dir.display())
    );
    let empty = write(&dir, "empty.csv", b"");
    assert_eq!(
        error(&spec(&empty)),
        format!(
            "{}: empty file; expected CSV lines of a label and features",
            empty.display()
        )
    );
    let empty_idx = write(&dir, "e-images-idx3-ubyte", b"");
    write(&dir, "e-labels-idx1-ubyte", &idx_u8(&[1], &[0]));
    assert!(error(&spec(&empty_idx)).starts_with(&format!(
        "{}: byte 0: empty file; expected an IDX header",
        empty_idx.display()
    )));
    let mut packed = gzip(csv_text(50, 2, 2, false).as_bytes());
    let n = packed.len();
    packed.truncate(n - 10);
    let cut = write(&dir, "cut.csv.gz", &packed);
    let e = error(&spec(&cut));
    assert!(
        e.starts_with(&format!(
            "{}: byte {}: gzip data ends early",
            cut.display(),
            n - 10
        )),
        "{e}"
    );
    let test_missing = DataSpec {
        test_data: Some(dir.join("gone.csv")),
        ..spec(&write(&dir, "ok.csv", b"0,1\n1,1\n"))
    };
    assert_eq!(
        error(&test_missing),
        format!("{}: no such file", dir.join("gone.csv").display())
    );
}

#[test]
fn gzipped_csv_reads_like_plain() {
    let dir = scratch("gz-csv");
    let text = csv_text(20, 2, 2, true);
    let plain = load(&spec(&write(&dir, "p.csv", text.as_bytes()))).unwrap();
    let packed = load(&spec(&write(&dir, "p.csv.gz", &gzip(text.as_bytes())))).unwrap();
    assert_eq!((plain.train, plain.test), (packed.train, packed.test));
}

#[test]
fn option_errors() {
    let check =
        |spec: DataSpec, expected: &str| assert_eq!(load(&spec).unwrap_err().to_string(), expected);
    check(
        DataSpec {
            test_fraction: 0.0,
            ..DataSpec::new("spirals")
        },
        "test fraction 0; expected a number between 0 and 1 (exclusive), e.g. 0.25",
    );
    check(
        DataSpec {
            test_fraction: 1.0,
            ..DataSpec::new("blobs")
        },
        "test fraction 1; expected a number between 0 and 1 (exclusive), e.g. 0.25",
    );
    check(
        DataSpec {
            test_fraction: f64::NAN,
            ..DataSpec::new("blobs")
        },
        "test fraction NaN; expected a number between 0 and 1 (exclusive), e.g. 0.25",
    );
    check(
        DataSpec {
            test_data: Some("t.csv".into()),
            ..DataSpec::new("digits")
        },
        "digits is a built-in data set; test data and labels files are for data files",
    );
    check(
        DataSpec {
            width: Some(0),
            ..DataSpec::new("x.svm")
        },
        "width 0; expected at least 1 feature",
    );
    check(
        DataSpec::new("blobs:classes=1"),
        "blobs: classes must be 2 to 65536",
    );
    let dir = scratch("options");
    let one_each = write(&dir, "one.csv", b"0,1\n1,2\n2,3\n");
    check(
        spec(&one_each),
        &format!(
            "{}: test fraction 0.25 of 3 samples leaves no test samples; expected a larger fraction or more samples per class",
            one_each.display()
        ),
    );
}

#[test]
fn format_from_names() {
    let f = |s: &str| Format::from_path(Path::new(s));
    assert_eq!(f("a/b.csv"), Some(Format::Csv));
    assert_eq!(f("b.CSV.gz"), Some(Format::Csv));
    assert_eq!(f("train-images-idx3-ubyte"), Some(Format::Idx));
    assert_eq!(f("train-images-idx3-ubyte.gz"), Some(Format::Idx));
    assert_eq!(f("t10k-images.idx3-ubyte"), Some(Format::Idx));
    assert_eq!(f("x.idx"), Some(Format::Idx));
    assert_eq!(f("a9a.libsvm"), Some(Format::Libsvm));
    assert_eq!(f("a9a.svm.gz"), Some(Format::Libsvm));
    assert_eq!(f("a9a.txt"), None);
    assert_eq!(f("a9a"), None);
    assert_eq!(Format::sniff(&[0, 0, 8, 1]), Format::Idx);
    assert_eq!(Format::sniff(b"\n# c: d\n1 3:4\n"), Format::Libsvm);
    assert_eq!(Format::sniff(b"y,x\n1,2\n"), Format::Csv);
    assert_eq!(Format::sniff(b""), Format::Csv);
    assert_eq!("svmlight".parse(), Ok(Format::Libsvm));
    assert!("xlsx".parse::<Format>().is_err());
}

#[test]
fn loaded_tables_feed_the_core() {
    let data: Loaded = load(&DataSpec {
        scaling: Scaling::Standardize,
        ..DataSpec::new("blobs:samples=60,classes=3,width=4")
    })
    .unwrap();
    let check = |t: &Table| {
        let d = t.dataset().unwrap();
        assert_eq!(sooth_core::Dataset::width(&d), 4);
        assert_eq!(sooth_core::Dataset::classes(&d), 3);
    };
    check(&data.train);
    check(&data.test);
}

#[test]
fn a_given_width_must_match_dense_files() {
    let dir = scratch("width");
    let path = write(&dir, "w.csv", b"y,a,b\n0,1,2\n1,3,4\n");
    let e = load(&DataSpec {
        width: Some(3),
        ..spec(&path)
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: 2 features per sample, but a width of 3 was given",
            path.display()
        )
    );
}

/// CSV class names: the training file's names, sorted, are the classes;
/// a test file's names are numbered by them; a name only the test file has,
/// class numbers against names, a label column of none and --classes that
/// disagree with the names are errors.
#[test]
fn csv_class_names_number_the_classes() {
    let dir = scratch("class-names");
    let train = write(
        &dir,
        "train.csv",
        b"species,a\nversicolor,1\nsetosa,2\nvirginica,3\nsetosa,4\n",
    );
    // The test file has no virginica: its own sorted order would differ.
    let test = write(&dir, "test.csv", b"species,a\nversicolor,5\nsetosa,6\n");
    let data = load(&DataSpec {
        test_data: Some(test.clone()),
        ..spec(&train)
    })
    .unwrap();
    assert_eq!(data.class_names, ["setosa", "versicolor", "virginica"]);
    assert_eq!(data.train.labels, vec![1, 0, 2, 0]);
    assert_eq!(
        (data.test.labels.clone(), data.test.classes),
        (vec![1, 0], 3)
    );

    let unknown = write(&dir, "unknown.csv", b"species,a\nsetosa,5\nrosa,6\n");
    let e = load(&DataSpec {
        test_data: Some(unknown.clone()),
        ..spec(&train)
    })
    .unwrap_err();
    assert_eq!(e.file.as_deref(), Some(&*unknown.display().to_string()));
    assert_eq!(e.place, Place::Cell { line: 3, column: 1 });
    assert!(
        e.message
            .starts_with("class \"rosa\" is not in the training file"),
        "{}",
        e.message
    );

    let numbers = write(&dir, "numbers.csv", b"0,5\n1,6\n");
    let e = error(&DataSpec {
        test_data: Some(numbers),
        ..spec(&train)
    });
    assert!(
        e.contains("numbers.csv:1: column 1: label 0 is a class number, but the training file"),
        "{e}"
    );

    let e = error(&DataSpec {
        classes: Some(4),
        ..spec(&train)
    });
    assert!(e.contains("4 classes given, but the training file"), "{e}");
    let e = error(&DataSpec {
        label_column: LabelColumn::None,
        ..spec(&train)
    });
    assert!(e.contains("label column none"), "{e}");
}
