//! The admin store under concurrent writers and killed writers, through the real `hgs` binary.
//! The records are `root_sources` (the CLI's own typed record, `{"file": ...}`): what is tested is
//! the document's locking and atomic replacement, whatever the record type.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hgs_cli::store::Store;

const HGS: &str = env!("CARGO_BIN_EXE_hgs");

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hgs-store-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn put(store: &Path, collection: &str, name: &str, value: &Path) -> Command {
    let mut c = Command::new(HGS);
    c.args(["store", "put", collection, name, "--value"])
        .arg(value)
        .arg("--store")
        .arg(store);
    c
}

#[test]
fn concurrent_adds_from_many_processes_lose_nothing() {
    const PROCS: usize = 8;
    const PER_PROC: usize = 12;
    let dir = tempdir("conc");
    let store = dir.join("store");
    let value = dir.join("v.json");
    std::fs::write(&value, br#"{"file":"00112233"}"#).unwrap();
    // Each worker is a shell loop of `hgs store put` so all workers run at the same time.
    let mut children = Vec::new();
    for p in 0..PROCS {
        let mut script = String::new();
        for i in 0..PER_PROC {
            script.push_str(&format!(
                "\"$HGS\" store put root_sources h{p}_{i} --value \"$V\" --store \"$S\" || exit 1\n"
            ));
        }
        children.push(
            Command::new("sh")
                .arg("-c")
                .arg(script)
                .env("HGS", HGS)
                .env("V", &value)
                .env("S", &store)
                .spawn()
                .unwrap(),
        );
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let data = Store::open(&store).unwrap().read().unwrap();
    let names: Vec<_> = data.root_sources.keys().collect();
    assert_eq!(names.len(), PROCS * PER_PROC, "lost updates: {names:?}");
    for p in 0..PROCS {
        for i in 0..PER_PROC {
            let rec = &data.root_sources[&format!("h{p}_{i}")];
            assert_eq!(rec.file, "00112233");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writers_killed_mid_write_leave_the_store_readable() {
    let dir = tempdir("kill");
    let store = dir.join("store");
    // A value big enough (~6 MB) that a write takes a while, so kills land inside it.
    let big = dir.join("big.json");
    let blob = "ab".repeat(3 << 20);
    std::fs::write(&big, format!("{{\"file\":\"{blob}\"}}")).unwrap();
    let small = dir.join("small.json");
    std::fs::write(&small, b"{\"file\":\"k\"}").unwrap();
    assert!(put(&store, "root_sources", "base", &small)
        .status()
        .unwrap()
        .success());

    let mut killed_alive = 0;
    for round in 0..12u64 {
        let mut child = put(&store, "root_sources", &format!("big{round}"), &big)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + round * 7));
        if child.try_wait().unwrap().is_none() {
            killed_alive += 1;
        }
        child.kill().ok(); // SIGKILL: no cleanup code runs
        child.wait().unwrap();
        // Whatever the moment of death, the document parses and the earlier record is intact.
        let data = Store::open(&store).unwrap().read().unwrap();
        assert_eq!(data.root_sources["base"].file, "k");
        for (name, rec) in data
            .root_sources
            .iter()
            .filter(|(n, _)| n.starts_with("big"))
        {
            assert_eq!(rec.file.len(), blob.len(), "torn record {name}");
        }
    }
    assert!(
        killed_alive > 0,
        "no writer was killed while running; test proves nothing"
    );

    // The next writer succeeds and clears temporary files left by the killed ones.
    assert!(put(&store, "root_sources", "after", &small)
        .status()
        .unwrap()
        .success());
    let leftovers: Vec<_> = std::fs::read_dir(&store)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let data = Store::open(&store).unwrap().read().unwrap();
    assert!(data.root_sources.contains_key("after"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn leftover_temp_file_is_ignored_by_readers_and_removed_by_writers() {
    let dir = tempdir("tmp");
    let store = dir.join("store");
    let small = dir.join("small.json");
    std::fs::write(&small, b"{\"file\":\"k\"}").unwrap();
    assert!(put(&store, "root_sources", "a", &small)
        .status()
        .unwrap()
        .success());
    // What a writer killed between write and rename leaves behind: a truncated temp file.
    let stale = store.join(".store.json.tmp.99999.0");
    std::fs::write(&stale, b"{\"format\":\"hgs-store/2\",\"regis").unwrap();
    let out = Command::new(HGS)
        .args(["store", "list", "root_sources", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\t-\n");
    assert!(put(&store, "root_sources", "b", &small)
        .status()
        .unwrap()
        .success());
    assert!(!stale.exists());
    let data = Store::open(&store).unwrap().read().unwrap();
    assert_eq!(data.root_sources.keys().collect::<Vec<_>>(), vec!["a", "b"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_store_gives_one_line_error_naming_the_file() {
    let dir = tempdir("bad");
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("store.json"), b"{not json").unwrap();
    let out = Command::new(HGS)
        .args(["store", "check", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("store.json"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn duplicate_put_is_refused_without_force() {
    let dir = tempdir("dup");
    let store = dir.join("store");
    let small = dir.join("small.json");
    std::fs::write(&small, b"{\"file\":\"k\"}").unwrap();
    assert!(put(&store, "root_sources", "a", &small)
        .status()
        .unwrap()
        .success());
    let out = put(&store, "root_sources", "a", &small).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already registered"));
    assert!(put(&store, "root_sources", "a", &small)
        .arg("--force")
        .status()
        .unwrap()
        .success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_store_in_the_old_generic_format_is_refused_naming_the_file_and_format() {
    let dir = tempdir("legacy");
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let old = br#"{"format": "hgs-store/1", "collections": {"hosts": {"H": {"value": {}}}}}"#;
    std::fs::write(store.join("store.json"), old).unwrap();
    let out = Command::new(HGS)
        .args(["host", "list", "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("store.json") && err.contains("earlier generic format"),
        "{err}"
    );
    // Refused, not rewritten.
    assert_eq!(std::fs::read(store.join("store.json")).unwrap(), old);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_put_record_is_read_as_its_collection_type() {
    let dir = tempdir("typed");
    let store = dir.join("store");
    let value = dir.join("v.json");
    std::fs::write(&value, br#"{"ek":"00112233"}"#).unwrap();
    let out = put(&store, "hosts", "h", &value).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hosts/h: stored value has the wrong shape"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
