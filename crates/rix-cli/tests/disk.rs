//! A full disk and a failed write, on real file systems: a real `rix daemon` whose data
//! directory is a small tmpfs this test mounts (it skips, saying why, where it cannot mount:
//! not root, or no permission to mount). What it checks: the free-space reserve pauses and
//! resumes intake by itself while queries go on; a write that fails (disk full, file system
//! read-only) stops the daemon with exit 1 and a sentence naming the cause; after the cause is
//! gone and the daemon is started again, nothing acknowledged is lost and the member's chain
//! has no gap; a SIGTERM while the daemon waits for the replica's lock is a clean exit 0.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use rix_tests::{Daemon, NodeDir, Rix, TestNet, signal};

const WAIT: Duration = Duration::from_secs(40);

fn rix() -> Rix {
    Rix::new(env!("CARGO_BIN_EXE_rix"))
}

/// A tmpfs of a given size, mounted for the test's duration.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one, or says why it cannot and returns `None`.
    fn mount(size_mb: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "rix-test", dir.path().to_str().unwrap()])
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs here ({}); this test needs root",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount ({e}); this test needs root and util-linux's mount");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{options}"), self.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "remount {options}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Fills the file system with a file until `leave` bytes remain free (or it is full).
    fn fill(&self, leave: u64) -> PathBuf {
        let filler = self.path().join(format!("filler-{}", rand_suffix()));
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0x5a; 64 * 1024];
        loop {
            let free = rix_node::disk::free_bytes(self.path()).unwrap();
            if free <= leave {
                break;
            }
            let n = usize::try_from((free - leave).min(chunk.len() as u64)).unwrap();
            if f.write_all(&chunk[..n.max(1)]).is_err() {
                break;
            }
        }
        let _ = f.sync_all();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).output();
    }
}

/// `count` record files of about 16 KiB with no references to other records, in `dir`.
fn record_files(dir: &Path, count: usize) -> Vec<PathBuf> {
    (1..=count)
        .map(|i| {
            let path = dir.join(format!("event-{i}.md"));
            std::fs::write(
                &path,
                format!(
                    "+++\nkind = \"event\"\ntitle = \"Integrity seminar {i}\"\nlanguage = \"en\"\nfactors = [\"hrm\"]\n+++\nA seminar on integrity, number {i}.\n\n{}\n",
                    // 16 KiB of body: each record needs new pages on disk, which a full
                    // tmpfs cannot give (a small one may fit in a page already written).
                    "Notes of the seminar. ".repeat(750)
                ),
            )
            .unwrap();
            path
        })
        .collect()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// Puts `node`'s data directory on `fs`, with a free-space reserve of `reserve_mb`.
fn data_on(node: &NodeDir, fs: &Tmpfs, reserve_mb: u64) {
    let config = std::fs::read_to_string(&node.config).unwrap();
    let data = fs.path().join("data");
    let config = config
        .replace("data_dir = \"data\"", &format!("data_dir = {:?}", data.display().to_string()))
        .replace("reserve_mb = 256", &format!("reserve_mb = {reserve_mb}"));
    assert!(config.contains(&format!("reserve_mb = {reserve_mb}")), "{config}");
    std::fs::write(&node.config, config).unwrap();
}

/// A one-member network (KZ) whose data directory is on a fresh 24 MiB tmpfs with a reserve
/// of `reserve_mb`, and `files` record files: `None` (the test skips) where no tmpfs can be
/// mounted.
fn kz_on_tmpfs(reserve_mb: u64, files: usize) -> Option<(Tmpfs, Rix, TestNet, Vec<PathBuf>, PathBuf)> {
    let fs = Tmpfs::mount(24)?;
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    data_on(net.node("KZ"), &fs, reserve_mb);
    let files = record_files(net.root.path(), files);
    let log = net.root.path().join("kz.log");
    Some((fs, rix, net, files, log))
}

fn status(rix: &Rix, node: &NodeDir) -> serde_json::Value {
    let out = rix.run(&["--json", "--config", node.config_arg(), "status"]);
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn start(rix: &Rix, node: &NodeDir, log: &Path) -> Daemon {
    let daemon = rix.spawn_daemon_with(node, &[], log);
    rix_tests::wait_for(WAIT, "the daemon answers", || status(rix, node)["daemon_running"] == true);
    daemon
}

/// Publishes `file` through the daemon: the record's seq, or the error's text.
fn publish(rix: &Rix, node: &NodeDir, file: &Path) -> Result<u64, String> {
    let out = rix.run(&["--json", "--config", node.config_arg(), "publish", file.to_str().unwrap()]);
    if out.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        Ok(v["seq"].as_u64().unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Waits for `daemon` (logging to `log`) to exit and returns its exit code.
fn exit_code(daemon: &mut Daemon, log: &Path) -> Option<i32> {
    let deadline = std::time::Instant::now() + WAIT;
    while daemon.try_wait().unwrap().is_none() {
        let log = std::fs::read_to_string(log).unwrap_or_default();
        assert!(std::time::Instant::now() < deadline, "the daemon did not exit; its log:\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon.wait().unwrap().code()
}

/// KZ's chain as the node holds it: (held, contiguous, highest).
fn chain(rix: &Rix, node: &NodeDir) -> (u64, u64, u64) {
    let v = rix.json(&["--config", node.config_arg(), "verify"]);
    let kz = v["chains"].as_array().unwrap().iter().find(|c| c["member"] == "KZ").unwrap();
    (kz["held"].as_u64().unwrap(), kz["contiguous"].as_u64().unwrap(), kz["max_seq"].as_u64().unwrap())
}

#[test]
fn below_the_reserve_intake_pauses_and_resumes_while_queries_and_publishing_go_on() {
    let Some((fs, rix, net, files, log)) = kz_on_tmpfs(8, 40) else { return };
    let kz = net.node("KZ");
    let daemon = start(&rix, kz, &log);
    assert_eq!(publish(&rix, kz, &files[0]), Ok(1));
    let pack = net.root.path().join("pack.rixpack");
    rix.ok(&["--config", kz.config_arg(), "export", "--format", "signed", "--out", pack.to_str().unwrap()]);

    // 6 MiB left: below the 8 MiB reserve, above half of it.
    let filler = fs.fill(6 << 20);
    rix_tests::wait_for(WAIT, "the daemon notices the reserve", || status(&rix, kz)["storage"]["accepting"] == false);
    let text = rix.ok(&["--config", kz.config_arg(), "status"]);
    assert!(text.contains("BELOW the reserve"), "{text}");
    let import = rix.run(&["--config", kz.config_arg(), "import", pack.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert_eq!(import.status.code(), Some(1), "an import below the reserve is refused: {stderr}");
    assert!(stderr.contains("below the reserve") && !stderr.contains("Os {"), "{stderr}");
    assert_eq!(publish(&rix, kz, &files[1]), Ok(2), "the member publishes down to half the reserve");
    rix.ok(&["--config", kz.config_arg(), "list"]);
    let metrics = rix_tests::http_get(&format!("http://127.0.0.1:{}/metrics", kz.api_port));
    assert!(metrics.contains("rix_ingest_paused 1"), "{metrics}");

    // 3 MiB left: below half the reserve, publishing is refused too, before anything is signed.
    std::fs::remove_file(&filler).unwrap();
    let filler = fs.fill(3 << 20);
    rix_tests::wait_for(WAIT, "the daemon measures again", || {
        status(&rix, kz)["storage"]["free_bytes"].as_u64().is_some_and(|f| f <= 3 << 20)
    });
    let refused = publish(&rix, kz, &files[2]).unwrap_err();
    assert!(refused.contains("below the reserve") && refused.contains("store.reserve_mb"), "{refused}");

    // Space returns: intake resumes by itself, and nothing was signed for the refused publish.
    std::fs::remove_file(&filler).unwrap();
    rix_tests::wait_for(WAIT, "intake resumes", || status(&rix, kz)["storage"]["accepting"] == true);
    let metrics = rix_tests::http_get(&format!("http://127.0.0.1:{}/metrics", kz.api_port));
    assert!(metrics.contains("rix_ingest_paused 0"), "{metrics}");
    assert_eq!(publish(&rix, kz, &files[2]), Ok(3));
    rix.ok(&["--config", kz.config_arg(), "import", pack.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&log).unwrap().contains("free space is back above the reserve"));
    daemon.stop_cleanly();
    assert_eq!(chain(&rix, kz), (3, 3, 3));
}

#[test]
fn a_full_disk_stops_the_daemon_loudly_and_after_it_nothing_is_lost_and_no_number_burnt() {
    // No reserve: the disk fills up under the daemon, as when another program fills it.
    let Some((fs, rix, net, files, log)) = kz_on_tmpfs(0, 40) else { return };
    let kz = net.node("KZ");
    let mut daemon = start(&rix, kz, &log);
    assert_eq!(publish(&rix, kz, &files[0]), Ok(1));
    // Filled again after each publish that got through: a failed search-index commit gives
    // back the space of the segment it was writing.
    let mut fillers = vec![fs.fill(0)];
    let mut acknowledged = 1;
    let mut failure = None;
    for file in files.iter().skip(1) {
        match publish(&rix, kz, file) {
            Ok(seq) => {
                acknowledged = seq;
                fillers.push(fs.fill(0));
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failure = failure.unwrap_or_else(|| {
        let free = rix_node::disk::free_bytes(fs.path()).unwrap();
        panic!("no publish failed; {free} bytes free; log:\n{}", std::fs::read_to_string(&log).unwrap())
    });
    eprintln!("the refused publish said: {failure}");
    assert!(
        failure.contains("is full: free space on it") && !failure.contains("Os {"),
        "a sentence naming the cause: {failure}; the daemon's log:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert_eq!(exit_code(&mut daemon, &log), Some(1), "the daemon stops instead of serving errors");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("is full: free space on it"), "the log names the cause: {logged}");

    // The cause goes; the daemon starts again and carries on without a gap.
    for filler in fillers {
        std::fs::remove_file(filler).unwrap();
    }
    let daemon = start(&rix, kz, &log);
    let next = publish(&rix, kz, &files[39]).expect("publishing works again");
    assert!(next > acknowledged, "acknowledged #{acknowledged}, then #{next}");
    daemon.stop_cleanly();
    let (held, contiguous, highest) = chain(&rix, kz);
    assert_eq!((held, contiguous), (highest, highest), "no burnt sequence number: #1-#{highest} all held");
    assert_eq!(highest, next);
}

/// A file system that turned read-only (as ext4 does on errors): the daemon refuses to start
/// on it, naming the cause, offline commands say the same, and once it is writable again the
/// node carries on without a gap. (A tmpfs cannot be made read-only while a process writes to
/// it, so the daemon is stopped first.)
#[test]
fn a_read_only_file_system_is_named_and_the_node_carries_on_once_writable() {
    let Some((fs, rix, net, files, log)) = kz_on_tmpfs(0, 3) else { return };
    let kz = net.node("KZ");
    let daemon = start(&rix, kz, &log);
    assert_eq!(publish(&rix, kz, &files[0]), Ok(1));
    daemon.stop_cleanly();
    fs.remount("ro");
    let offline = publish(&rix, kz, &files[1]).expect_err("nothing can be written");
    assert!(offline.contains("read-only: remount it read-write") && !offline.contains("Os {"), "{offline}");
    let mut daemon = rix.spawn_daemon_with(kz, &[], &log);
    assert_eq!(exit_code(&mut daemon, &log), Some(1), "the daemon refuses to run on a read-only replica");
    assert!(std::fs::read_to_string(&log).unwrap().contains("read-only: remount it read-write"));
    fs.remount("rw");
    let daemon = start(&rix, kz, &log);
    assert_eq!(publish(&rix, kz, &files[2]), Ok(2), "the refused publishes signed nothing");
    daemon.stop_cleanly();
    assert_eq!(chain(&rix, kz), (2, 2, 2));
}

/// The replica directory's permissions taken away from the user the daemon runs as: it
/// refuses to start, naming the cause; with them given back it carries on without a gap. The
/// daemon runs as `nobody` here, since permissions do not stop root.
#[test]
fn a_replica_without_write_permission_is_named_and_the_node_carries_on_once_given_back() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let Some((fs, rix, net, files, log)) = kz_on_tmpfs(0, 3) else { return };
    let kz = net.node("KZ");
    const NOBODY: u32 = 65534;
    // The daemon's user owns the node: its config, keys and data directory.
    std::fs::create_dir_all(fs.path().join("data")).unwrap();
    for top in [net.root.path(), fs.path()] {
        chown_all(top, NOBODY);
    }
    let spawn = || {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        Daemon(
            rix.command()
                .uid(NOBODY)
                .gid(NOBODY)
                .args(["--config", kz.config_arg(), "daemon"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    // Only once the daemon has written its API token: a `rix status` before that would open
    // the replica itself, as root, and leave root's files in it.
    let token = fs.path().join("data/api.token");
    let running = |daemon: &mut Daemon| {
        rix_tests::wait_for(WAIT, "the daemon answers", || {
            assert!(daemon.try_wait().unwrap().is_none(), "{}", std::fs::read_to_string(&log).unwrap());
            token.exists() && status(&rix, kz)["daemon_running"] == true
        })
    };
    let mut daemon = spawn();
    running(&mut daemon);
    assert_eq!(publish(&rix, kz, &files[0]), Ok(1));
    daemon.stop_cleanly();

    let replica = fs.path().join("data/replica");
    std::fs::set_permissions(&replica, std::fs::Permissions::from_mode(0o500)).unwrap();
    let mut daemon = spawn();
    assert_eq!(exit_code(&mut daemon, &log), Some(1), "the daemon refuses to run on a replica it cannot write");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("no permission to write") && !logged.contains("Os {"), "{logged}");

    std::fs::set_permissions(&replica, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut daemon = spawn();
    running(&mut daemon);
    assert_eq!(publish(&rix, kz, &files[1]), Ok(2), "the refused start signed nothing");
    daemon.stop_cleanly();
    // Read back as root, after the daemon is gone.
    assert_eq!(chain(&rix, kz), (2, 2, 2));
}

/// Gives `path` and everything under it to `uid` (and the group of the same number).
fn chown_all(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_all(&entry.unwrap().path(), uid);
        }
    }
}

/// A daemon that waits for the replica's lock (another process holds it) and gets SIGTERM
/// exits 0 at once, having changed nothing.
#[test]
fn sigterm_while_waiting_for_the_replica_lock_is_a_clean_exit() {
    let rix = rix();
    let net = TestNet::init(&rix, &["KZ"]);
    let kz = net.node("KZ");
    let log = net.root.path().join("kz.log");
    let first = start(&rix, kz, &log);
    let second_log = net.root.path().join("second.log");
    let mut second = rix.spawn_daemon_with(kz, &[], &second_log);
    rix_tests::wait_for(WAIT, "the second daemon waits for the lock", || {
        std::fs::read_to_string(&second_log).unwrap_or_default().contains("replica in use by another process")
    });
    signal(&second, Signal::SIGTERM);
    assert_eq!(exit_code(&mut second, &second_log), Some(0), "{}", std::fs::read_to_string(&second_log).unwrap());
    first.stop_cleanly();
}
