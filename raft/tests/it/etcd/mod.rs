//! Tests ported from etcd-raft (go.etcd.io/raft/v3): each keeps the Go test's intent and its
//! name in snake case without the `Test` prefix (`TestLeaderBcastBeat` is
//! `paper::leader_bcast_beat`). `raft/CONFORMANCE.md` lists every one with its status.

mod support;

mod flow_control;
mod paper;
mod raft_election;
mod raft_membership;
mod raft_progress;
mod raft_replication;
mod raft_snapshot;
mod raft_transfer;
mod rawnode;
mod snap;

/// `raft/CONFORMANCE.md` stays true: it lists every ported test by its path here, every one
/// exists, and every interaction file it calls ported is in `raft/testdata`, and no other.
#[test]
fn conformance_document_lists_every_ported_test() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let document = std::fs::read_to_string(root.join("CONFORMANCE.md")).expect("the document");
    let mut listed = 0;
    for line in document.lines().filter(|l| l.starts_with("| `Test")) {
        let path = line
            .split('`')
            .nth(3)
            .expect("| `TestX` | `module::name` |");
        let (module, name) = path.split_once("::").expect("module::name");
        let source = std::fs::read_to_string(root.join(format!("tests/it/etcd/{module}.rs")))
            .unwrap_or_else(|_| panic!("{path}: no module {module}"));
        assert!(
            source.contains(&format!("#[test]\nfn {name}()")),
            "{path} is listed but is not a test"
        );
        listed += 1;
    }
    let defined: usize = std::fs::read_dir(root.join("tests/it/etcd"))
        .expect("the ported tests")
        .map(|entry| std::fs::read_to_string(entry.expect("a file").path()).expect("readable"))
        .map(|source| source.matches("#[test]\nfn ").count())
        .sum();
    // This test itself is not a port.
    assert_eq!(listed, defined - 1, "ported tests listed vs defined");
    let mut ported: Vec<String> = document
        .lines()
        .filter(|l| l.starts_with("| `") && !l.contains("not applicable"))
        .map(|l| l.split('`').nth(1).expect("| `first cell` |").to_string())
        .filter(|file| file.ends_with(".txt") && !file.contains('*'))
        .collect();
    ported.sort();
    let mut files: Vec<String> = std::fs::read_dir(root.join("testdata"))
        .expect("raft/testdata")
        .map(|entry| {
            entry
                .expect("a file")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    assert_eq!(
        ported, files,
        "interaction files listed as ported vs present"
    );
}
