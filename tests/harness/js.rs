//! A js-libp2p peer in a child process (`tests/interop/js/observer.mjs`), for interoperability
//! tests: it speaks to rix nodes with js-libp2p 3.x, knowing only what `docs/` says, and
//! reports what it sees as JSON lines.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The directory of the js peer and its `package.json`.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/js")
}

/// Whether the js peer can run here: `Err` says why not and what to run. Set
/// `RIX_REQUIRE_JS=1` (CI does) to make the caller fail instead of skipping.
pub fn available() -> Result<(), String> {
    let node = Command::new("node").arg("--version").output();
    let version = match node {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => return Err("Node.js is not installed (`node` is not on PATH); js-libp2p needs Node.js 20 or later".into()),
    };
    let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 20 {
        return Err(format!("Node.js {version} is too old: js-libp2p 3 needs 20 or later"));
    }
    if !js_dir().join("node_modules/libp2p").is_dir() {
        return Err(format!("the js-libp2p packages are not installed: run `npm ci --prefix {}`", js_dir().display()));
    }
    Ok(())
}

/// Returns true when the test may run; otherwise prints why it skips (or panics, when
/// `RIX_REQUIRE_JS` is set).
pub fn ready_or_skip(test: &str) -> bool {
    match available() {
        Ok(()) => true,
        Err(why) if std::env::var_os("RIX_REQUIRE_JS").is_some() => panic!("{test}: RIX_REQUIRE_JS is set but {why}"),
        Err(why) => {
            eprintln!("skipped {test}: {why}");
            false
        }
    }
}

/// A fresh libp2p identity made by js-libp2p: `(peer id, protobuf private key in hex)`.
pub fn keygen() -> (String, String) {
    let out = Command::new("node").arg(js_dir().join("observer.mjs")).arg("keygen").output().expect("run node");
    assert!(out.status.success(), "keygen: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("keygen prints JSON");
    (v["peer_id"].as_str().expect("peer id").to_owned(), v["key"].as_str().expect("key").to_owned())
}

/// A running js peer.
pub struct JsPeer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Value>,
    /// Every event seen so far, in order.
    pub events: Vec<Value>,
}

impl JsPeer {
    /// Starts an observer with identity `key` that dials `dial` (a multiaddr ending in `/p2p/`)
    /// on `network` with genesis hash `genesis`, trusting `members` (code to hex
    /// record-signing key).
    pub fn observe(key: &str, dial: &str, network: &str, genesis: &str, members: &[(String, String)]) -> Self {
        let members: serde_json::Map<String, Value> =
            members.iter().map(|(code, key)| (code.clone(), Value::String(key.clone()))).collect();
        let args = json!({"key": key, "dial": dial, "network": network, "genesis": genesis, "members": members});
        let mut child = Command::new("node")
            .arg(js_dir().join("observer.mjs"))
            .arg("observe")
            .arg(args.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the js peer");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("js peer: {line}"),
                }
            }
        });
        Self { child, stdin, lines, events: Vec::new() }
    }

    /// Sends one command line (`sync`, `quit`).
    pub fn command(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("write to the js peer");
    }

    /// Reads events until `done` holds over all events seen, or panics after `timeout`.
    pub fn wait(&mut self, timeout: Duration, what: &str, mut done: impl FnMut(&[Value]) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(&self.events) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => self.events.push(v),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("js peer: timed out waiting for {what}; events: {}", self.dump())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("js peer exited while waiting for {what}; events: {}", self.dump())
                }
            }
        }
    }

    /// Takes the events that arrived meanwhile, without waiting.
    pub fn drain(&mut self) {
        while let Ok(v) = self.lines.try_recv() {
            self.events.push(v);
        }
    }

    /// The events named `event`.
    pub fn of(&self, event: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == event).collect()
    }

    fn dump(&self) -> String {
        self.events.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for JsPeer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
