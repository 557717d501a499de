//! A replica group's state machine (seed 004, lab 4B): the shards of the keys, each with its
//! own data and client sessions (a `kv::Store`), the group's current configuration and the one
//! before it, and where each shard stands in a migration. Replicated through a `kv::Server`,
//! like the KV service and the controller.
//!
//! A shard's status in the current configuration:
//!
//! - `Absent`: not this group's.
//! - `Serving`: this group's, installed; clients are served.
//! - `Pulling`: this group's since this configuration; its data is still with the previous
//!   owner, so it is not served.
//! - `HandingOff`: this group's in the previous configuration only; frozen (no client is
//!   served) and kept until the new owner says it has installed it.
//! - `AwaitingDelete`: installed from the previous owner and served; the previous owner has yet
//!   to confirm that it deleted its copy.
//!
//! Configurations apply strictly in order, one at a time: the next one only when every shard is
//! `Absent` or `Serving`. Shards that do not move keep being served throughout.
//!
//! Command encoding: `u8` tag, then: `0` a client's `kv::Command` (its own encoding); `1`
//! configure (`Config`); `2` install (`u64` num, `u64` count, per shard `u64` shard and its
//! `kv::Store`); `3` delete and `4` deleted (`u64` num, `u64` count, `u64` per shard).
//!
//! Snapshot: `"SGSN"`, `u8` version (1), `u64` applied index, `u32` group, the configuration and
//! the previous one, then per shard `u8` status and its store.

use std::collections::BTreeMap;

use kv::codec::{DecodeError, Reader, Sink, put_header, read_header};
use kv::{Answer, AppliedIndex, Command, OpResult, ReplyOutcome, Sessions, Store};

use crate::config::{Config, GroupId, read_u32, shard_of};
use crate::mutant::{Mutant, MutantSet};

const SNAPSHOT_MAGIC: &[u8; 4] = b"SGSN";
const SNAPSHOT_VERSION: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShardStatus {
    Absent,
    Serving,
    Pulling,
    HandingOff,
    AwaitingDelete,
}

impl ShardStatus {
    const ALL: [ShardStatus; 5] = [
        ShardStatus::Absent,
        ShardStatus::Serving,
        ShardStatus::Pulling,
        ShardStatus::HandingOff,
        ShardStatus::AwaitingDelete,
    ];

    /// Installed and this group's: clients are served.
    pub fn is_served(self) -> bool {
        matches!(self, ShardStatus::Serving | ShardStatus::AwaitingDelete)
    }

    /// Nothing left to do for the current configuration.
    pub fn is_settled(self) -> bool {
        matches!(self, ShardStatus::Absent | ShardStatus::Serving)
    }
}

/// One shard at one replica.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    pub status: ShardStatus,
    pub store: Store,
}

/// The group's runtime switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupOptions {
    pub group: GroupId,
    pub shard_count: usize,
    pub mutants: MutantSet,
}

/// A replicated command of a replica group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupCommand {
    /// A client's operation.
    Client(Command),
    /// Move to this configuration (the next one).
    Configure(Config),
    /// Shards pulled from their previous owner in configuration `num`.
    Install {
        num: u64,
        shards: Vec<(usize, Store)>,
    },
    /// The new owners installed these shards of configuration `num`: drop our copies.
    Delete { num: u64, shards: Vec<usize> },
    /// The previous owner dropped its copies of these shards of configuration `num`.
    Deleted { num: u64, shards: Vec<usize> },
}

const TAG_CLIENT: u8 = 0;
const TAG_CONFIGURE: u8 = 1;
const TAG_INSTALL: u8 = 2;
const TAG_DELETE: u8 = 3;
const TAG_DELETED: u8 = 4;

impl GroupCommand {
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        let put_shards = |bytes: &mut Vec<u8>, tag: u8, num: u64, shards: &[usize]| {
            bytes.put_u8(tag);
            bytes.put_u64(num);
            bytes.put_u64(shards.len() as u64);
            shards.iter().for_each(|&shard| bytes.put_u64(shard as u64));
        };
        match self {
            GroupCommand::Client(command) => {
                bytes.put_u8(TAG_CLIENT);
                bytes.put(&command.encode());
            }
            GroupCommand::Configure(config) => {
                bytes.put_u8(TAG_CONFIGURE);
                config.encode_into(&mut bytes);
            }
            GroupCommand::Install { num, shards } => {
                bytes.put_u8(TAG_INSTALL);
                bytes.put_u64(*num);
                bytes.put_u64(shards.len() as u64);
                for (shard, store) in shards {
                    bytes.put_u64(*shard as u64);
                    store.encode_into(&mut bytes);
                }
            }
            GroupCommand::Delete { num, shards } => {
                put_shards(&mut bytes, TAG_DELETE, *num, shards)
            }
            GroupCommand::Deleted { num, shards } => {
                put_shards(&mut bytes, TAG_DELETED, *num, shards)
            }
        }
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<GroupCommand, DecodeError> {
        let mut reader = Reader::new(bytes);
        let tag = reader.u8("group command tag")?;
        let shard_list = |reader: &mut Reader<'_>| -> Result<(u64, Vec<usize>), DecodeError> {
            let num = reader.u64("configuration number")?;
            let count = reader.count("shards", 8)?;
            let shards = (0..count)
                .map(|_| reader.u64("shard").map(|s| s as usize))
                .collect::<Result<Vec<usize>, _>>()?;
            Ok((num, shards))
        };
        let command = match tag {
            TAG_CLIENT => return Command::decode(&bytes[1..]).map(GroupCommand::Client),
            TAG_CONFIGURE => GroupCommand::Configure(Config::decode(&mut reader)?),
            TAG_INSTALL => {
                let num = reader.u64("configuration number")?;
                // A shard number and two empty counts at least.
                let count = reader.count("installed shards", 24)?;
                let mut shards = Vec::new();
                for _ in 0..count {
                    let shard = reader.u64("shard")? as usize;
                    shards.push((shard, Store::decode(&mut reader)?));
                }
                GroupCommand::Install { num, shards }
            }
            TAG_DELETE => {
                let (num, shards) = shard_list(&mut reader)?;
                GroupCommand::Delete { num, shards }
            }
            TAG_DELETED => {
                let (num, shards) = shard_list(&mut reader)?;
                GroupCommand::Deleted { num, shards }
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "group command",
                    tag,
                    offset: 0,
                });
            }
        };
        reader.finish("group command")?;
        Ok(command)
    }
}

/// A replica group's replicated state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupStateMachine {
    options: GroupOptions,
    config: Config,
    previous: Config,
    shards: Vec<Shard>,
    applied_index: AppliedIndex,
}

impl GroupStateMachine {
    pub fn new(options: GroupOptions) -> Self {
        let empty = Shard {
            status: ShardStatus::Absent,
            store: Store::default(),
        };
        GroupStateMachine {
            options,
            config: Config::initial(options.shard_count),
            previous: Config::initial(options.shard_count),
            shards: vec![empty; options.shard_count],
            applied_index: AppliedIndex::default(),
        }
    }

    pub fn group(&self) -> GroupId {
        self.options.group
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration before the current one: where shards being pulled come from.
    pub fn previous(&self) -> &Config {
        &self.previous
    }

    pub fn shard(&self, shard: usize) -> &Shard {
        &self.shards[shard]
    }

    pub fn statuses(&self) -> Vec<ShardStatus> {
        self.shards.iter().map(|shard| shard.status).collect()
    }

    /// The shards clients are served now, ascending.
    pub fn served(&self) -> Vec<usize> {
        (0..self.shards.len())
            .filter(|&shard| self.shards[shard].status.is_served())
            .collect()
    }

    /// Every shard is `Absent` or `Serving`: the next configuration may apply.
    pub fn is_settled(&self) -> bool {
        self.shards.iter().all(|shard| shard.status.is_settled())
    }

    fn mutant(&self, mutant: Mutant) -> bool {
        self.options.mutants.contains(mutant)
    }

    /// Shards in `status`, by the group that owned them in the previous configuration.
    pub fn by_previous_owner(&self, status: ShardStatus) -> BTreeMap<GroupId, Vec<usize>> {
        let mut owners: BTreeMap<GroupId, Vec<usize>> = BTreeMap::new();
        for (shard, state) in self.shards.iter().enumerate() {
            if state.status == status {
                owners
                    .entry(self.previous.owner(shard))
                    .or_default()
                    .push(shard);
            }
        }
        owners
    }

    /// The data of `shards` for their new owner in configuration `num`: the shards this group
    /// handed off in it, with their sessions. `None` before the group has reached `num` (it
    /// may still be serving them) or after it left `num` behind.
    pub fn hand_off(&self, num: u64, shards: &[usize]) -> Option<Vec<(usize, Store)>> {
        if self.config.num != num {
            return None;
        }
        let deleted_early = self.mutant(Mutant::DeleteBeforeConfirm);
        let handed: Vec<(usize, Store)> = shards
            .iter()
            .filter(|&&shard| shard < self.shards.len())
            .filter(|&&shard| match self.shards[shard].status {
                ShardStatus::HandingOff => true,
                // The mutant dropped the copy when it sent it: it sends what is left.
                ShardStatus::Absent => deleted_early && self.previous.owner(shard) == self.group(),
                _ => false,
            })
            .map(|&shard| {
                let mut store = self.shards[shard].store.clone();
                if self.mutant(Mutant::MigrateWithoutDedup) {
                    store.sessions = Sessions::default();
                }
                (shard, store)
            })
            .collect();
        (!handed.is_empty()).then_some(handed)
    }

    /// Whether this group no longer holds `shards` of configuration `num`.
    pub fn has_deleted(&self, num: u64, shards: &[usize]) -> bool {
        self.config.num > num
            || (self.config.num == num
                && shards.iter().all(|&shard| {
                    self.shards
                        .get(shard)
                        .is_none_or(|s| s.status != ShardStatus::HandingOff)
                }))
    }

    /// Whether a client operation on `shard` is served now.
    fn accepts(&self, shard: usize, is_write: bool) -> bool {
        match self.shards[shard].status {
            ShardStatus::Serving | ShardStatus::AwaitingDelete => true,
            ShardStatus::Pulling => self.mutant(Mutant::ServeBeforeInstall),
            ShardStatus::HandingOff => is_write && self.mutant(Mutant::WriteAfterHandoff),
            ShardStatus::Absent => false,
        }
    }

    fn shard_of(&self, key: &str) -> usize {
        shard_of(key, self.options.shard_count)
    }

    fn apply_client(&mut self, command: Command) -> Option<Answer<OpResult>> {
        let shard = self.shard_of(command.op.key());
        if !self.accepts(shard, !command.op.is_read_only()) {
            return Some(Answer {
                client_id: command.client_id,
                seq: command.seq,
                is_write: !command.op.is_read_only(),
                outcome: ReplyOutcome::WrongGroup,
                retried: false,
            });
        }
        let outcome = self.shards[shard].store.execute(&command, true);
        Answer::of(&command, outcome)
    }

    /// The next configuration, once every shard has settled (the `config-before-migration`
    /// mutant does not wait). A shard's status follows from who owns it before and after:
    /// settled shards are exactly that, so correct code and the mutant share the rule.
    fn configure(&mut self, next: Config) {
        if next.num != self.config.num + 1 {
            return;
        }
        if !self.is_settled() && !self.mutant(Mutant::ConfigBeforeMigration) {
            return;
        }
        let group = self.group();
        for (shard, state) in self.shards.iter_mut().enumerate() {
            let before = self.config.owner(shard) == group;
            let after = next.owner(shard) == group;
            state.status = match (before, after) {
                (true, true) => ShardStatus::Serving,
                (true, false) => ShardStatus::HandingOff,
                // Shards nobody held (before the first configuration) start empty.
                (false, true) if self.config.owner(shard) == 0 => ShardStatus::Serving,
                (false, true) => ShardStatus::Pulling,
                (false, false) => ShardStatus::Absent,
            };
            if state.status == ShardStatus::Absent {
                state.store = Store::default();
            }
        }
        self.previous = std::mem::replace(&mut self.config, next);
    }

    fn install(&mut self, num: u64, shards: Vec<(usize, Store)>) {
        if num != self.config.num {
            return;
        }
        for (shard, store) in shards {
            let Some(state) = self.shards.get_mut(shard) else {
                continue;
            };
            if state.status == ShardStatus::Pulling {
                state.store = store;
                state.status = ShardStatus::AwaitingDelete;
            }
        }
    }

    /// Drops this group's copies of `shards` (status `from`) or marks them served (`to`).
    fn settle(&mut self, num: u64, shards: &[usize], from: ShardStatus, to: ShardStatus) {
        if num != self.config.num {
            return;
        }
        for &shard in shards {
            let Some(state) = self.shards.get_mut(shard) else {
                continue;
            };
            if state.status == from {
                state.status = to;
                if to == ShardStatus::Absent {
                    state.store = Store::default();
                }
            }
        }
    }

    fn encode_into(&self, sink: &mut impl Sink) {
        put_header(sink, SNAPSHOT_MAGIC, SNAPSHOT_VERSION);
        sink.put_u64(self.applied_index.get());
        sink.put(&self.options.group.to_le_bytes());
        self.config.encode_into(sink);
        self.previous.encode_into(sink);
        for shard in &self.shards {
            sink.put_u8(shard.status as u8);
            shard.store.encode_into(sink);
        }
    }
}

impl kv::StateMachine for GroupStateMachine {
    type Op = kv::Op;
    type Output = OpResult;
    type Options = GroupOptions;

    fn create(options: GroupOptions) -> Self {
        GroupStateMachine::new(options)
    }

    fn restore_snapshot(bytes: &[u8], options: GroupOptions) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let names = ("group snapshot", "group snapshot");
        read_header(&mut reader, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, names)?;
        let applied_index = AppliedIndex::new(reader.u64("applied index")?);
        let group = read_u32(&mut reader, "group id")?;
        assert_eq!(group, options.group, "a group restores its own snapshot");
        let config = Config::decode(&mut reader)?;
        let previous = Config::decode(&mut reader)?;
        let mut shards = Vec::new();
        for _ in 0..options.shard_count {
            let offset = reader.offset();
            let tag = reader.u8("shard status")?;
            let status = *ShardStatus::ALL
                .get(tag as usize)
                .ok_or(DecodeError::UnknownTag {
                    what: "shard status",
                    tag,
                    offset,
                })?;
            shards.push(Shard {
                status,
                store: Store::decode(&mut reader)?,
            });
        }
        reader.finish("group snapshot")?;
        Ok(GroupStateMachine {
            options,
            config,
            previous,
            shards,
            applied_index,
        })
    }

    fn encode_snapshot(&self, sink: &mut impl Sink) {
        self.encode_into(sink);
    }

    fn applied_index(&self) -> u64 {
        self.applied_index.get()
    }

    fn apply_empty(&mut self, index: u64) {
        let group = self.options.group;
        self.applied_index.advance_to(index, || format!("g{group}"));
    }

    fn apply_command(&mut self, index: u64, data: &[u8]) -> Option<Answer<OpResult>> {
        let group = self.options.group;
        self.applied_index.advance_to(index, || format!("g{group}"));
        let command = GroupCommand::decode(data).expect("entries carry commands we encoded");
        match command {
            GroupCommand::Client(command) => return self.apply_client(command),
            GroupCommand::Configure(next) => self.configure(next),
            GroupCommand::Install { num, shards } => self.install(num, shards),
            GroupCommand::Delete { num, shards } => {
                self.settle(num, &shards, ShardStatus::HandingOff, ShardStatus::Absent)
            }
            GroupCommand::Deleted { num, shards } => self.settle(
                num,
                &shards,
                ShardStatus::AwaitingDelete,
                ShardStatus::Serving,
            ),
        }
        None
    }

    fn encode_command(client_id: u64, seq: u64, op: &kv::Op) -> Vec<u8> {
        let command = Command {
            client_id,
            seq,
            op: op.clone(),
        };
        GroupCommand::Client(command).encode()
    }

    fn is_read_only(op: &kv::Op) -> bool {
        op.is_read_only()
    }

    fn refuse(&self, op: &kv::Op) -> Option<ReplyOutcome<OpResult>> {
        let shard = self.shard_of(op.key());
        (!self.accepts(shard, !op.is_read_only())).then_some(ReplyOutcome::WrongGroup)
    }

    fn read(&self, op: &kv::Op) -> ReplyOutcome<OpResult> {
        let shard = self.shard_of(op.key());
        if !self.accepts(shard, false) {
            return ReplyOutcome::WrongGroup;
        }
        ReplyOutcome::Ok(OpResult::Value(
            self.shards[shard].store.get(op.key()).to_string(),
        ))
    }
}
