//! A multi-raft host: its groups share one disk under their own file names, one tick timer, and
//! one disk sync per event for every group that asked.

use std::collections::BTreeMap;

use kv::{ReadMode, ServerConfig};
use shardkv::{GroupOptions, Host, HostConfig, Jitters, Layout, MutantSet, Wire};

#[derive(Default)]
struct Disk {
    files: BTreeMap<&'static str, Vec<u8>>,
    syncs: Vec<u64>,
    timers: usize,
    sent: Vec<(u64, Wire)>,
}

impl kv::Env<Wire> for Disk {
    fn send(&mut self, to: u64, wire: Wire) {
        self.sent.push((to, wire));
    }

    fn append(&mut self, file: &'static str, bytes: Vec<u8>) {
        self.files.entry(file).or_default().extend(bytes);
    }

    fn replace(&mut self, file: &'static str, bytes: Vec<u8>) {
        self.files.insert(file, bytes);
    }

    fn truncate(&mut self, file: &'static str, len: u64) {
        if let Some(bytes) = self.files.get_mut(file) {
            bytes.truncate(len as usize);
        }
    }

    fn read(&self, file: &'static str) -> Vec<u8> {
        self.files.get(file).cloned().unwrap_or_default()
    }

    fn sync(&mut self, token: u64) {
        self.syncs.push(token);
    }

    fn set_tick_timer(&mut self, _delay_ns: u64) {
        self.timers += 1;
    }

    fn local_time_ns(&self) -> u64 {
        0
    }
}

/// The one server of a one-server group.
fn server<O>(state_machine: O) -> ServerConfig<O> {
    ServerConfig {
        address: 0,
        voters: vec![0],
        learners: Vec::new(),
        raft: raft::Config::new(1),
        tick_ns: 10_000_000,
        read_mode: ReadMode::ReadIndex,
        snapshot_threshold_entries: 100,
        state_machine,
    }
}

/// One server hosting a one-server group g1 and the controller's only replica.
fn host_config() -> HostConfig {
    let layout = Layout::new(&[1], 2);
    HostConfig {
        address: 0,
        replica: server(GroupOptions {
            group: 1,
            shard_count: 2,
            mutants: MutantSet::default(),
        }),
        controller: Some(server(layout.first_config(1))),
        tick_ns: 10_000_000,
        poll_ticks: 5,
        layout,
    }
}

fn jitters() -> Jitters {
    Jitters {
        replica: Box::new(|| 0),
        controller: Some(Box::new(|| 0)),
    }
}

#[test]
fn two_groups_elected_together_share_one_sync_and_one_timer() {
    let mut disk = Disk::default();
    let mut host = Host::on_start(host_config(), jitters(), &mut disk).expect("valid");
    assert_eq!(disk.timers, 1, "one tick timer for both groups");
    // Both single-voter groups campaign after the same election timeout.
    while disk.syncs.is_empty() {
        host.on_tick(&mut disk);
    }
    assert_eq!(disk.syncs.len(), 1, "one disk sync for both groups");
    for file in ["g1/hardstate", "ctrl/hardstate"] {
        assert!(disk.files.contains_key(file), "{file} not written");
    }
    while let Some(token) = disk.syncs.pop() {
        host.on_sync(&mut disk, token);
    }
    assert!(host.replica().is_leader() && host.controller().is_some_and(|c| c.is_leader()));
    // g1's leader polls the controller for configuration 1, learns it and applies it.
    for _ in 0..20 {
        host.on_tick(&mut disk);
        let sent = std::mem::take(&mut disk.sent);
        for (to, wire) in sent {
            assert_eq!(to, 0, "a one-server cluster talks to itself");
            host.on_message(&mut disk, 0, wire);
        }
        while let Some(token) = disk.syncs.pop() {
            host.on_sync(&mut disk, token);
        }
    }
    let state = host.replica().state_machine();
    assert_eq!(state.config().num, 1);
    assert_eq!(
        state.served(),
        vec![0, 1],
        "g1 serves both shards, empty from the start"
    );
}
