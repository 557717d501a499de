//! Throughput of the Raft core alone: a 3-node cluster in memory (no simulator) committing
//! batches of proposals. Reported as committed entries per wall second (BRIEF §12 target for the
//! core: at least 1,000,000).

use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use raft::{ConfState, Config, MemStorage, Message, NodeId, RawNode};

const BATCH_ENTRIES: usize = 4096;
const ENTRY_BYTES: usize = 16;

struct Cluster {
    nodes: BTreeMap<NodeId, RawNode<MemStorage>>,
    queue: VecDeque<Message>,
    applied_count: u64,
}

impl Cluster {
    fn new() -> Cluster {
        let mut nodes = BTreeMap::new();
        for id in 1..=3 {
            let config = Config {
                max_entries_per_msg: 1024,
                max_inflight_msgs: 64,
                ..Config::new(id)
            };
            let storage = MemStorage::new_with_conf_state(ConfState::with_voters([1, 2, 3]));
            nodes.insert(id, RawNode::new(config, storage, Box::new(|| 0)).unwrap());
        }
        let mut cluster = Cluster {
            nodes,
            queue: VecDeque::new(),
            applied_count: 0,
        };
        cluster.nodes.get_mut(&1).unwrap().campaign();
        cluster
            .run_until(|cluster| cluster.nodes[&1].commit_index() >= 1 && cluster.queue.is_empty());
        cluster
    }

    fn process_ready(&mut self) -> bool {
        let mut busy = false;
        for (&id, node) in &mut self.nodes {
            if !node.has_ready() {
                continue;
            }
            busy = true;
            let mut ready = node.ready();
            self.queue
                .append(&mut VecDeque::from(std::mem::take(&mut ready.messages)));
            node.storage_mut().persist_ready(&ready);
            self.queue.append(&mut VecDeque::from(std::mem::take(
                &mut ready.persisted_messages,
            )));
            if id == 1 {
                self.applied_count += ready.committed_entries.len() as u64;
            }
            black_box(&ready.committed_entries);
            node.advance();
        }
        busy
    }

    fn run_until(&mut self, done: impl Fn(&Cluster) -> bool) {
        while !done(self) {
            let busy = self.process_ready();
            while let Some(message) = self.queue.pop_front() {
                let to = message.to;
                self.nodes.get_mut(&to).unwrap().step(message).unwrap();
            }
            assert!(
                busy || !self.queue.is_empty() || done(self),
                "cluster stalled"
            );
        }
    }

    /// Proposes one batch and runs until the leader has applied it.
    fn commit_batch(&mut self, batch: Vec<Vec<u8>>) {
        let target = self
            .nodes
            .get_mut(&1)
            .unwrap()
            .propose_batch(batch)
            .unwrap()
            .index()
            .expect("node 1 leads and appends");
        self.run_until(|cluster| cluster.nodes[&1].applied_index() >= target);
        // Keep memory flat across iterations: compact every node at its applied index.
        for node in self.nodes.values_mut() {
            if node.applied_index() > node.first_index() {
                node.compact(Vec::new()).unwrap();
            }
        }
    }
}

fn commit_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("raft_3_nodes");
    group.throughput(Throughput::Elements(BATCH_ENTRIES as u64));
    let mut cluster = Cluster::new();
    group.bench_function("commit_batch_4096x16B", |b| {
        b.iter(|| {
            let batch = (0..BATCH_ENTRIES)
                .map(|i| vec![i as u8; ENTRY_BYTES])
                .collect();
            cluster.commit_batch(batch);
        });
    });
    group.finish();
    assert!(cluster.applied_count > 0);
}

criterion_group!(benches, commit_throughput);
criterion_main!(benches);
