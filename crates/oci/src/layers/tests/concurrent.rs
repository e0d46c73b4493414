//! Layers decoded concurrently give exactly what reading them one after the other gives.

use proptest::prelude::*;

use super::*;

/// Everything a read gives, as text: the files (or the error), and the seen paths.
fn outcome(
    store: &MemStore,
    layers: &[LayerDescriptor],
    filter: &dyn FileFilter,
    limits: &Limits,
    threads: usize,
) -> String {
    let limits = Limits {
        layer_threads: threads,
        ..limits.clone()
    };
    let mut seen = SeenPaths::default();
    match read_layers(
        store,
        layers,
        filter,
        &limits,
        &NoProgressForTests,
        &mut seen,
    ) {
        Ok(set) => {
            let mut hashes: Vec<u64> = seen.hashes.iter().copied().collect();
            hashes.sort_unstable();
            format!(
                "{set:#?}\nmissing: {:?}\nseen: {hashes:?}",
                seen.missing_link_targets
            )
        }
        Err(e) => format!("error {:?}: {e}", e.kind()),
    }
}

/// Read with 1 thread and with several; assert the same outcome and return it.
fn same_with_threads(blobs: Vec<Vec<u8>>, filter: &dyn FileFilter, limits: &Limits) -> String {
    let (store, layers) = image(blobs);
    let sequential = outcome(&store, &layers, filter, limits, 1);
    for threads in [2, 3, 8] {
        let concurrent = outcome(&store, &layers, filter, limits, threads);
        assert_eq!(sequential, concurrent, "{threads} threads");
    }
    sequential
}

#[test]
fn layer_threads_are_bounded_by_the_layers() {
    let limits = Limits {
        layer_threads: 3,
        ..Limits::default()
    };
    assert_eq!(layer_threads(&limits, 10), 3);
    assert_eq!(layer_threads(&limits, 2), 2);
    assert_eq!(layer_threads(&limits, 0), 1);
    let one = Limits {
        layer_threads: 1,
        ..Limits::default()
    };
    assert_eq!(layer_threads(&one, 10), 1);
    assert!(layer_threads(&Limits::default(), 10) >= 1);
}

#[test]
fn whiteouts_and_opaque_dirs_hide_lower_layers_the_same_concurrently() {
    let l1 = tar_of(&[
        Ent::Dir("etc/"),
        Ent::File("etc/a", b"a1"),
        Ent::File("etc/b", b"b1"),
        Ent::File("opt/x/1", b"x1"),
        Ent::File("opt/x/2", b"x2"),
        Ent::Sym("opt/x/l", "1"),
        Ent::File("opt/xy", b"xy"),
        Ent::File("usr/lib/os-release", b"ID=debian\n"),
    ]);
    let l2 = tar_of(&[
        Ent::File("etc/.wh.a", b""),
        Ent::File("opt/x/.wh..wh..opq", b""),
        Ent::File("opt/x/3", b"x3"),
        Ent::File("usr/lib/os-release", b"ID=ubuntu\n"),
    ]);
    let l3 = tar_of(&[
        // Its own entries are kept whatever the order of its whiteouts.
        Ent::File("etc/a", b"a3"),
        Ent::File("etc/.wh.a", b""),
        Ent::File("etc/.wh.b", b""),
        Ent::Dir("opt/xy/"),
        Ent::File("usr/.wh..wh..opq", b""),
    ]);
    let l4 = tar_of(&[Ent::File("opt/.wh.x", b""), Ent::File("etc/c", b"c4")]);
    let text = same_with_threads(
        vec![gzip(&l1), gzip(&l2), l3.clone(), gzip(&l4)],
        &all(),
        &Limits::default(),
    );
    let (store, layers) = image(vec![gzip(&l1), gzip(&l2), l3.clone(), gzip(&l4)]);
    let limits = Limits {
        layer_threads: 4,
        ..Limits::default()
    };
    let set = read_stored(&store, &layers, &all(), &limits).unwrap();
    assert_eq!(paths(&set), ["etc/a", "etc/c"], "{text}");
    assert_eq!(super::text(&set, "etc/a"), "a3");
    assert!(set.symlinks.is_empty());
}

#[test]
fn hard_links_to_lower_layers_resolve_the_same_concurrently() {
    let l1 = tar_of(&[
        Ent::Exec("usr/bin/perl", b"perl binary"),
        Ent::File("usr/share/big", b"unwanted"),
        Ent::File("etc/gone", b"gone"),
        Ent::File("etc/kept", b"kept"),
    ]);
    let l2 = tar_of(&[
        // Resolved against the lower layer before this layer's whiteout of it ...
        Ent::Hard("etc/before", "etc/kept"),
        Ent::File("etc/.wh.kept", b""),
        // ... and not after.
        Ent::Hard("etc/after", "etc/kept"),
        Ent::File("etc/.wh.gone", b""),
        Ent::Hard("etc/gone-link", "etc/gone"),
        Ent::Hard("usr/bin/perl5.36", "usr/bin/perl"),
        // A link to a link of this layer whose target is lower.
        Ent::Hard("usr/bin/perl5", "usr/bin/perl5.36"),
        Ent::Hard("usr/share/wanted", "/usr/share/big"),
        // A link to a file of its own layer.
        Ent::File("etc/own", b"own"),
        Ent::Hard("etc/own-link", "etc/own"),
    ]);
    let l3 = tar_of(&[
        Ent::Hard("etc/third", "etc/before"),
        // Replaced later in the same layer: the link must not survive.
        Ent::Hard("etc/replaced", "usr/bin/perl"),
        Ent::File("etc/replaced", b"file"),
    ]);
    let filter = PathPatterns::new(["etc/**", "usr/share/wanted"])
        .unwrap()
        .with_executables(true);
    let text = same_with_threads(
        vec![l1.clone(), gzip(&l2), l3.clone()],
        &filter,
        &Limits::default(),
    );
    assert!(text.contains("etc/before"), "{text}");
    let (store, layers) = image(vec![l1, gzip(&l2), l3]);
    let limits = Limits {
        layer_threads: 3,
        ..Limits::default()
    };
    let mut seen = SeenPaths::default();
    let set = read_layers(
        &store,
        &layers,
        &filter,
        &limits,
        &NoProgressForTests,
        &mut seen,
    )
    .unwrap();
    assert_eq!(super::text(&set, "etc/before"), "kept");
    assert_eq!(super::text(&set, "etc/third"), "kept");
    assert_eq!(super::text(&set, "usr/bin/perl5"), "perl binary");
    assert_eq!(super::text(&set, "etc/own-link"), "own");
    assert_eq!(super::text(&set, "etc/replaced"), "file");
    assert!(matches!(
        set.files["etc/after"].content,
        FileContent::Skipped { .. }
    ));
    assert_eq!(
        seen.missing_link_targets.iter().collect::<Vec<_>>(),
        ["etc/gone", "etc/kept", "usr/share/big"]
    );
}

#[test]
fn links_followed_with_further_passes_are_the_same_concurrently() {
    let l1 = tar_of(&[
        Ent::File("usr/share/big", b"target content"),
        Ent::Dir("lib/"),
    ]);
    let l2 = tar_of(&[
        Ent::Hard("usr/share/wanted", "usr/share/big"),
        Ent::Sym("etc/os-release", "../usr/lib/os-release"),
        Ent::File("usr/lib/os-release", b"ID=debian\n"),
    ]);
    let filter = PathPatterns::new(["usr/share/wanted", "etc/os-release"]).unwrap();
    let (store, layers) = image(vec![gzip(&l1), gzip(&l2)]);
    let read_with = |threads| {
        let limits = Limits {
            layer_threads: threads,
            ..Limits::default()
        };
        crate::read_blobs(&store, &layers, &filter, &limits, &NoProgressForTests).unwrap()
    };
    let sequential = read_with(1);
    assert_eq!(
        sequential.files["usr/share/wanted"].data(),
        Some(&b"target content"[..])
    );
    assert_eq!(format!("{sequential:?}"), format!("{:?}", read_with(2)));
}

#[test]
fn hostile_layers_fail_the_same_concurrently() {
    let good = gzip(&tar_of(&[Ent::File("etc/a", b"a")]));
    let dotdot = tar_of(&[Ent::File("etc/ok", b"ok"), Ent::File("../escape", b"x")]);
    let link_out = tar_of(&[Ent::Hard("etc/l", "../../etc/shadow")]);
    let garbage = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3];
    // The lowest hostile layer's error wins, whichever worker fails first.
    for blobs in [
        vec![good.clone(), dotdot.clone(), link_out.clone()],
        vec![good.clone(), link_out.clone(), dotdot.clone()],
        vec![good.clone(), good.clone(), garbage.clone(), dotdot.clone()],
        vec![dotdot.clone(), good.clone()],
    ] {
        let text = same_with_threads(blobs, &all(), &Limits::default());
        assert!(text.starts_with("error InvalidLayer"), "{text}");
    }
    // A digest mismatch in an upper layer.
    let (mut store, layers) = image(vec![good.clone(), gzip(&tar_of(&[Ent::File("b", b"b")]))]);
    if let Some(blob) = store.blobs.get_mut(&layers[1].digest) {
        blob.push(0);
    }
    let sequential = outcome(&store, &layers, &all(), &Limits::default(), 1);
    assert!(
        sequential.starts_with("error DigestMismatch"),
        "{sequential}"
    );
    assert_eq!(
        sequential,
        outcome(&store, &layers, &all(), &Limits::default(), 2)
    );
    // Too many entries in one layer.
    let many = tar_of(&[
        Ent::File("a", b""),
        Ent::File("b", b""),
        Ent::File("c", b""),
    ]);
    let limits = Limits {
        max_entries_per_layer: 2,
        ..Limits::default()
    };
    let text = same_with_threads(vec![good, many.clone(), many], &all(), &limits);
    assert!(text.starts_with("error TooLarge"), "{text}");
}

#[test]
fn caps_across_layers_are_the_same_concurrently() {
    let l1 = tar_of(&[Ent::File("a", &[1u8; 10]), Ent::File("b", &[2u8; 10])]);
    let l2 = tar_of(&[Ent::File("c", &[3u8; 10]), Ent::File("d", &[4u8; 5])]);
    let l3 = tar_of(&[Ent::Hard("e", "a"), Ent::File("f", &[5u8; 3])]);
    let blobs = vec![gzip(&l1), gzip(&l2), gzip(&l3)];
    for budget in [0, 4, 10, 15, 18, 25, 30, 33, 38, 48, 1000] {
        let limits = Limits {
            max_total_file_bytes: budget,
            ..Limits::default()
        };
        same_with_threads(blobs.clone(), &all(), &limits);
    }
    // A truncated file that the budget left by the layers below would not let be read.
    let kept = tar_of(&[Ent::File("a", &[1u8; 50])]);
    let mut cut = tar_of(&[Ent::File("b", &[2u8; 40])]);
    cut.truncate(512 + 20);
    for budget in [45, 60, 100] {
        let limits = Limits {
            max_total_file_bytes: budget,
            ..Limits::default()
        };
        same_with_threads(vec![kept.clone(), cut.clone()], &all(), &limits);
    }
    // The cap on decompressed bytes is reached in the layer the sequential read reaches it.
    let total = (l1.len() + l2.len() + l3.len()) as u64;
    for cap in [0, 1000, l1.len() as u64 + 10, total - 1, total, total + 1] {
        let limits = Limits {
            max_total_layer_bytes: cap,
            ..Limits::default()
        };
        let text = same_with_threads(blobs.clone(), &all(), &limits);
        if cap < total {
            assert!(text.starts_with("error TooLarge"), "{cap}: {text}");
        }
    }
}

/// A path of the small tree the generated layers share.
const PATHS: [&str; 7] = ["a", "a/b", "a/b/c", "a/d", "e", "e/f", "g"];

/// A generated tar entry.
#[derive(Debug, Clone)]
enum Gen {
    File(usize, u8),
    Exec(usize),
    Dir(usize),
    Sym(usize, usize),
    Hard(usize, usize),
    Whiteout(usize),
    Opaque(Option<usize>),
    DotDot,
}

fn gen_entry() -> impl Strategy<Value = Gen> {
    let p = 0..PATHS.len();
    prop_oneof![
        4 => (p.clone(), 1..40u8).prop_map(|(p, n)| Gen::File(p, n)),
        1 => p.clone().prop_map(Gen::Exec),
        2 => p.clone().prop_map(Gen::Dir),
        1 => (p.clone(), p.clone()).prop_map(|(a, b)| Gen::Sym(a, b)),
        3 => (p.clone(), p.clone()).prop_map(|(a, b)| Gen::Hard(a, b)),
        2 => p.clone().prop_map(Gen::Whiteout),
        1 => proptest::option::of(p).prop_map(Gen::Opaque),
        1 => Just(Gen::DotDot),
    ]
}

fn layer_bytes(entries: &[Gen], compress: bool) -> Vec<u8> {
    let names: Vec<String> = entries
        .iter()
        .map(|e| match e {
            Gen::Whiteout(p) => {
                let path = PATHS[*p];
                match path.rsplit_once('/') {
                    Some((parent, name)) => format!("{parent}/.wh.{name}"),
                    None => format!(".wh.{path}"),
                }
            }
            Gen::Opaque(Some(p)) => format!("{}/.wh..wh..opq", PATHS[*p]),
            Gen::Opaque(None) => ".wh..wh..opq".to_string(),
            Gen::DotDot => "a/../x".to_string(),
            Gen::Dir(p) => format!("{}/", PATHS[*p]),
            Gen::File(p, _) | Gen::Exec(p) | Gen::Sym(p, _) | Gen::Hard(p, _) => {
                PATHS[*p].to_string()
            }
        })
        .collect();
    let contents: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| match e {
            Gen::File(p, n) => vec![*n; usize::from(*n) + *p],
            Gen::Exec(p) => format!("exec {p}").into_bytes(),
            _ => Vec::new(),
        })
        .collect();
    let ents: Vec<Ent<'_>> = entries
        .iter()
        .zip(&names)
        .zip(&contents)
        .map(|((e, name), data)| match e {
            Gen::File(..) | Gen::Whiteout(_) | Gen::Opaque(_) | Gen::DotDot => {
                Ent::File(name, data)
            }
            Gen::Exec(_) => Ent::Exec(name, data),
            Gen::Dir(_) => Ent::Dir(name),
            Gen::Sym(_, t) => Ent::Sym(name, PATHS[*t]),
            Gen::Hard(_, t) => Ent::Hard(name, PATHS[*t]),
        })
        .collect();
    let tar = tar_of(&ents);
    if compress { gzip(&tar) } else { tar }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn generated_images_read_the_same_concurrently(
        layers in proptest::collection::vec(
            (proptest::collection::vec(gen_entry(), 0..8), any::<bool>()),
            1..6,
        ),
        budget in prop_oneof![Just(u64::MAX), 0..200u64],
        unpacked in prop_oneof![3 => Just(u64::MAX), 1 => 0..60_000u64],
        narrow in any::<bool>(),
    ) {
        let blobs: Vec<Vec<u8>> = layers
            .iter()
            .map(|(entries, compress)| layer_bytes(entries, *compress))
            .collect();
        let limits = Limits {
            max_total_file_bytes: budget,
            max_total_layer_bytes: unpacked,
            ..Limits::default()
        };
        let filter = if narrow {
            PathPatterns::new(["a/b/**", "g"]).unwrap().with_executables(true)
        } else {
            all()
        };
        let (store, descriptors) = image(blobs);
        let sequential = outcome(&store, &descriptors, &filter, &limits, 1);
        for threads in [2, 5] {
            let concurrent = outcome(&store, &descriptors, &filter, &limits, threads);
            prop_assert_eq!(&sequential, &concurrent, "{} threads", threads);
        }
    }
}
