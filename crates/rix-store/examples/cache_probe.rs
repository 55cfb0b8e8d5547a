//! How much anonymous memory sled keeps after reading a replica, at a given page-cache size:
//! three walks of the time index (what `rix stats` and `rix list` read), then 200,000 records.
//!
//! `cargo run --release -p rix-store --example cache_probe -- DATA_DIR/replica CACHE_MB`
//! (on a copy, or with the daemon stopped: sled locks the directory). docs/performance.md has
//! the figures for a million records.

fn resident_anonymous() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("RssAnon"))
        .unwrap_or("RssAnon: unknown")
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(cache_mb)) = (args.next(), args.next().and_then(|v| v.parse::<u64>().ok())) else {
        eprintln!("usage: cache_probe REPLICA_DIR CACHE_MB");
        std::process::exit(2);
    };
    let db = sled::Config::new().path(&path).cache_capacity(cache_mb * 1024 * 1024).open().expect("open the replica");
    println!("cache {cache_mb} MiB: opened, anonymous RSS {}", resident_anonymous());
    for walk in 1..=3 {
        let entries = db.scan_prefix(b"t").inspect(|item| assert!(item.is_ok(), "read: {item:?}")).count();
        println!("time index walk {walk} ({entries} entries): {}", resident_anonymous());
    }
    let records = db.scan_prefix(b"r").take(200_000).inspect(|item| assert!(item.is_ok(), "read: {item:?}")).count();
    println!("{records} records read: {}", resident_anonymous());
}
