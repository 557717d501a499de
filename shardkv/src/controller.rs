//! The shard controller (seed 004, lab 4A): numbered configurations changed by `Join`, `Leave`
//! and `Move` and read by `Query`, replicated on its own Raft group through a `kv::Server`, so
//! its log, snapshots, reads and client sessions work exactly as the KV service's do.
//!
//! Command encoding (little-endian; `str`s and lists `u64`-counted):
//!
//! ```text
//! u8 version (1), u64 client_id, u64 seq, u8 tag, then per tag:
//!   0 query:  u8 0 (latest) | u8 1 + u64 num
//!   1 join:   u64 count, per group u32 id, u64 count, u64 per server
//!   2 leave:  u64 count, u32 per group
//!   3 move:   u64 shard, u32 group
//! ```
//!
//! Snapshot: `"SCSN"`, u8 version (1), u64 applied index, u64 config count, the configurations
//! (`Config::encode_into`), the sessions (`kv::Sessions::encode_into`).

use std::fmt;

use kv::codec::{DecodeError, Reader, Sink, put_header, read_header};
use kv::{Answer, AppliedIndex, ApplyOutcome, OpResult, ReplyOutcome, Sessions};

use crate::config::{Config, GroupId, read_u32};

const COMMAND_VERSION: u8 = 1;
const SNAPSHOT_MAGIC: &[u8; 4] = b"SCSN";
const SNAPSHOT_VERSION: u8 = 1;

/// The client id of the operator: changes the nemesis or a script hands to a server.
pub const OPERATOR_CLIENT: u64 = u64::MAX;

/// An operation on the controller.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CtrlOp {
    /// The configuration numbered `num`, or the latest (also for a number past it).
    Query {
        num: Option<u64>,
    },
    /// Groups join with their servers.
    Join {
        groups: Vec<(GroupId, Vec<u64>)>,
    },
    Leave {
        groups: Vec<GroupId>,
    },
    Move {
        shard: usize,
        group: GroupId,
    },
}

/// What the controller answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CtrlReply {
    /// A query's configuration.
    Config(Config),
    /// A change was applied (or refused as impossible, or was a retry); the latest number now.
    Latest(u64),
}

impl fmt::Display for CtrlOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups = |groups: &mut dyn Iterator<Item = GroupId>| {
            groups
                .map(|g| format!("g{g}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            CtrlOp::Query { num: None } => f.write_str("query latest"),
            CtrlOp::Query { num: Some(num) } => write!(f, "query {num}"),
            CtrlOp::Join { groups: joining } => {
                write!(f, "join {}", groups(&mut joining.iter().map(|(g, _)| *g)))
            }
            CtrlOp::Leave { groups: leaving } => {
                write!(f, "leave {}", groups(&mut leaving.iter().copied()))
            }
            CtrlOp::Move { shard, group } => write!(f, "move {shard} g{group}"),
        }
    }
}

impl fmt::Display for CtrlReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtrlReply::Config(config) => write!(f, "{config}"),
            CtrlReply::Latest(num) => write!(f, "latest {num}"),
        }
    }
}

/// A change an operator asks of the controller (the nemesis, a script): `join g3 seq=4`,
/// `leave g1,g2 seq=5`, `move 7 g2 seq=6`. The operator numbers its changes (`seq`), so the
/// controller's session for [`OPERATOR_CLIENT`] applies each at most once, wherever it is
/// handed in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OperatorChange {
    pub seq: u64,
    pub change: Change,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    Join(Vec<GroupId>),
    Leave(Vec<GroupId>),
    Move { shard: usize, group: GroupId },
}

impl OperatorChange {
    /// The operation it asks for; joining groups bring their servers from `layout`.
    pub fn op(&self, layout: &crate::config::Layout) -> CtrlOp {
        match &self.change {
            Change::Join(groups) => CtrlOp::Join {
                groups: groups
                    .iter()
                    .map(|&group| (group, layout.servers_of(group).to_vec()))
                    .collect(),
            },
            Change::Leave(groups) => CtrlOp::Leave {
                groups: groups.clone(),
            },
            Change::Move { shard, group } => CtrlOp::Move {
                shard: *shard,
                group: *group,
            },
        }
    }

    /// The groups and shard it names exist in a cluster of `groups` groups and `shards` shards.
    pub fn validate(&self, groups: usize, shards: usize) -> Result<(), String> {
        let named: Vec<GroupId> = match &self.change {
            Change::Join(named) | Change::Leave(named) => named.clone(),
            Change::Move { shard, group } => {
                if *shard >= shards {
                    return Err(format!("shard {shard} does not exist ({shards} shards)"));
                }
                vec![*group]
            }
        };
        match named.iter().find(|&&g| g == 0 || g as usize > groups) {
            Some(group) => Err(format!("group g{group} does not exist ({groups} groups)")),
            None => Ok(()),
        }
    }
}

fn group_list(groups: &[GroupId]) -> String {
    groups
        .iter()
        .map(|g| format!("g{g}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl fmt::Display for OperatorChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.change {
            Change::Join(groups) => write!(f, "join {}", group_list(groups))?,
            Change::Leave(groups) => write!(f, "leave {}", group_list(groups))?,
            Change::Move { shard, group } => write!(f, "move {shard} g{group}")?,
        }
        write!(f, " seq={}", self.seq)
    }
}

/// Parses the words after `shardctl`: `join g3 seq=4`, `leave g1,g2 seq=5`, `move 7 g2 seq=6`.
pub fn parse_change_words(words: &[&str]) -> Result<OperatorChange, String> {
    const USAGE: &str = "a controller change is `join GROUPS seq=N`, `leave GROUPS seq=N` or \
                         `move SHARD GROUP seq=N`";
    let (seq_word, words) = words.split_last().ok_or(USAGE)?;
    let seq = seq_word
        .strip_prefix("seq=")
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or(USAGE)?;
    let group = |token: &str| -> Result<GroupId, String> {
        token
            .strip_prefix('g')
            .and_then(|n| n.parse::<GroupId>().ok())
            .filter(|&g| g > 0 && !token.starts_with("g+"))
            .ok_or_else(|| format!("`{token}` is not a group (g1, g2, ...)"))
    };
    let groups =
        |token: &str| -> Result<Vec<GroupId>, String> { token.split(',').map(group).collect() };
    let change = match words {
        ["join", list] => Change::Join(groups(list)?),
        ["leave", list] => Change::Leave(groups(list)?),
        ["move", shard, target] => Change::Move {
            shard: shard
                .parse()
                .map_err(|_| format!("`{shard}` is not a shard number"))?,
            group: group(target)?,
        },
        _ => return Err(USAGE.into()),
    };
    Ok(OperatorChange { seq, change })
}

/// A controller command as its log entry carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtrlCommand {
    pub client_id: u64,
    pub seq: u64,
    pub op: CtrlOp,
}

impl CtrlCommand {
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.put_u8(COMMAND_VERSION);
        bytes.put_u64(self.client_id);
        bytes.put_u64(self.seq);
        match &self.op {
            CtrlOp::Query { num } => {
                bytes.put_u8(0);
                match num {
                    None => bytes.put_u8(0),
                    Some(num) => {
                        bytes.put_u8(1);
                        bytes.put_u64(*num);
                    }
                }
            }
            CtrlOp::Join { groups } => {
                bytes.put_u8(1);
                bytes.put_u64(groups.len() as u64);
                for (group, servers) in groups {
                    bytes.put(&group.to_le_bytes());
                    bytes.put_u64(servers.len() as u64);
                    servers.iter().for_each(|&server| bytes.put_u64(server));
                }
            }
            CtrlOp::Leave { groups } => {
                bytes.put_u8(2);
                bytes.put_u64(groups.len() as u64);
                groups
                    .iter()
                    .for_each(|group| bytes.put(&group.to_le_bytes()));
            }
            CtrlOp::Move { shard, group } => {
                bytes.put_u8(3);
                bytes.put_u64(*shard as u64);
                bytes.put(&group.to_le_bytes());
            }
        }
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<CtrlCommand, DecodeError> {
        let mut reader = Reader::new(bytes);
        let version = reader.u8("controller command version")?;
        if version != COMMAND_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "controller command",
                version,
            });
        }
        let client_id = reader.u64("client id")?;
        let seq = reader.u64("sequence number")?;
        let offset = reader.offset();
        let op = match reader.u8("controller operation")? {
            0 => CtrlOp::Query {
                num: match reader.u8("query kind")? {
                    0 => None,
                    _ => Some(reader.u64("configuration number")?),
                },
            },
            1 => {
                let count = reader.count("joining groups", 12)?;
                let mut groups = Vec::new();
                for _ in 0..count {
                    let group = read_u32(&mut reader, "group id")?;
                    let servers = reader.count("servers", 8)?;
                    let servers = (0..servers)
                        .map(|_| reader.u64("server"))
                        .collect::<Result<Vec<u64>, _>>()?;
                    groups.push((group, servers));
                }
                CtrlOp::Join { groups }
            }
            2 => {
                let count = reader.count("leaving groups", 4)?;
                let groups = (0..count)
                    .map(|_| read_u32(&mut reader, "group id"))
                    .collect::<Result<Vec<GroupId>, _>>()?;
                CtrlOp::Leave { groups }
            }
            3 => CtrlOp::Move {
                shard: reader.u64("shard")? as usize,
                group: read_u32(&mut reader, "group id")?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "controller operation",
                    tag,
                    offset,
                });
            }
        };
        reader.finish("controller command")?;
        Ok(CtrlCommand { client_id, seq, op })
    }
}

/// The controller's replicated state: every configuration so far and the client sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtrlStateMachine {
    configs: Vec<Config>,
    sessions: Sessions,
    applied_index: AppliedIndex,
}

impl CtrlStateMachine {
    /// Configuration 0 and `first`, configuration 1 (the groups that start joined).
    pub fn new(first: Config) -> Self {
        assert_eq!(first.num, 1, "the controller starts at configuration 1");
        CtrlStateMachine {
            configs: vec![Config::initial(first.shards.len()), first],
            sessions: Sessions::default(),
            applied_index: AppliedIndex::default(),
        }
    }

    pub fn latest(&self) -> &Config {
        self.configs
            .last()
            .expect("configurations 0 and 1 always exist")
    }

    /// Configuration `num`, or the latest for `None` or a number past it.
    pub fn query(&self, num: Option<u64>) -> &Config {
        match num {
            Some(num) if num < self.configs.len() as u64 => &self.configs[num as usize],
            _ => self.latest(),
        }
    }

    /// The next configuration `op` makes, or `None` when it is impossible now (a group that
    /// has joined joins again, a group that is not there leaves, a move to such a group).
    fn change(&self, op: &CtrlOp) -> Option<Config> {
        let latest = self.latest();
        match op {
            CtrlOp::Query { .. } => None,
            CtrlOp::Join { groups } => {
                let fresh = groups
                    .iter()
                    .all(|(group, _)| *group != 0 && !latest.groups.contains_key(group));
                (fresh && !groups.is_empty()).then(|| latest.join(groups))
            }
            CtrlOp::Leave { groups } => {
                // Leaving every group is refused: the shards would have nowhere to go.
                let present = groups.iter().all(|group| latest.groups.contains_key(group));
                let remaining = latest.groups.keys().filter(|g| !groups.contains(g)).count();
                (present && !groups.is_empty() && remaining > 0).then(|| latest.leave(groups))
            }
            CtrlOp::Move { shard, group } => {
                let valid = *shard < latest.shards.len() && latest.groups.contains_key(group);
                valid.then(|| latest.move_shard(*shard, *group))
            }
        }
    }

    fn encode_into(&self, sink: &mut impl Sink) {
        put_header(sink, SNAPSHOT_MAGIC, SNAPSHOT_VERSION);
        sink.put_u64(self.applied_index.get());
        sink.put_u64(self.configs.len() as u64);
        for config in &self.configs {
            config.encode_into(sink);
        }
        self.sessions.encode_into(sink);
    }
}

impl kv::StateMachine for CtrlStateMachine {
    type Op = CtrlOp;
    type Output = CtrlReply;
    /// Configuration 1.
    type Options = Config;

    fn create(first: Config) -> Self {
        CtrlStateMachine::new(first)
    }

    fn restore_snapshot(bytes: &[u8], _first: Config) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let names = ("controller snapshot", "controller snapshot");
        read_header(&mut reader, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, names)?;
        let applied_index = AppliedIndex::new(reader.u64("applied index")?);
        // A configuration is at least its number and two counts.
        let count = reader.count("configurations", 24)?;
        let configs = (0..count)
            .map(|_| Config::decode(&mut reader))
            .collect::<Result<Vec<Config>, _>>()?;
        let sessions = Sessions::decode(&mut reader)?;
        reader.finish("controller snapshot")?;
        Ok(CtrlStateMachine {
            configs,
            sessions,
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
        self.applied_index.advance_to(index, || "controller".into());
    }

    fn apply_command(&mut self, index: u64, data: &[u8]) -> Option<Answer<CtrlReply>> {
        self.applied_index.advance_to(index, || "controller".into());
        let command = CtrlCommand::decode(data).expect("entries carry commands we encoded");
        let answer = |reply| Answer {
            client_id: command.client_id,
            seq: command.seq,
            is_write: !matches!(command.op, CtrlOp::Query { .. }),
            outcome: ReplyOutcome::Ok(reply),
            retried: false,
        };
        if let CtrlOp::Query { num } = command.op {
            return Some(answer(CtrlReply::Config(self.query(num).clone())));
        }
        match self.sessions.seen(command.client_id, command.seq) {
            Some(ApplyOutcome::Stale { .. }) => return None,
            Some(_) => return Some(answer(CtrlReply::Latest(self.latest().num))),
            None => {}
        }
        if let Some(next) = self.change(&command.op) {
            self.configs.push(next);
        }
        self.sessions
            .record(command.client_id, command.seq, &OpResult::Written);
        Some(answer(CtrlReply::Latest(self.latest().num)))
    }

    fn encode_command(client_id: u64, seq: u64, op: &CtrlOp) -> Vec<u8> {
        let command = CtrlCommand {
            client_id,
            seq,
            op: op.clone(),
        };
        command.encode()
    }

    fn is_read_only(op: &CtrlOp) -> bool {
        matches!(op, CtrlOp::Query { .. })
    }

    fn read(&self, op: &CtrlOp) -> ReplyOutcome<CtrlReply> {
        let CtrlOp::Query { num } = op else {
            unreachable!("only queries are served outside the log")
        };
        ReplyOutcome::Ok(CtrlReply::Config(self.query(*num).clone()))
    }
}

#[cfg(test)]
mod tests {
    use kv::StateMachine as _;

    use super::*;

    fn first() -> Config {
        Config::initial(4).join(&[(1, vec![0, 1, 2])])
    }

    fn apply(machine: &mut CtrlStateMachine, seq: u64, op: CtrlOp) -> Option<Answer<CtrlReply>> {
        let index = machine.applied_index() + 1;
        let command = CtrlCommand {
            client_id: OPERATOR_CLIENT,
            seq,
            op,
        };
        machine.apply_command(index, &command.encode())
    }

    #[test]
    fn a_retried_change_is_applied_once_and_impossible_ones_not_at_all() {
        let mut machine = CtrlStateMachine::new(first());
        let join = CtrlOp::Join {
            groups: vec![(2, vec![3, 4, 5])],
        };
        let answer = apply(&mut machine, 1, join.clone()).expect("answered");
        assert_eq!(answer.outcome, ReplyOutcome::Ok(CtrlReply::Latest(2)));
        apply(&mut machine, 1, join.clone());
        assert_eq!(machine.latest().num, 2, "the retry made no configuration");
        apply(&mut machine, 2, join);
        assert_eq!(machine.latest().num, 2, "g2 has joined already");
        apply(&mut machine, 3, CtrlOp::Move { shard: 0, group: 2 });
        assert_eq!(machine.query(None).shards, vec![2, 1, 2, 2]);
        assert_eq!(machine.query(Some(1)).shards, vec![1; 4]);
        assert_eq!(machine.query(Some(99)).num, 3);
    }

    #[test]
    fn snapshots_and_commands_round_trip() {
        let mut machine = CtrlStateMachine::new(first());
        apply(&mut machine, 1, CtrlOp::Leave { groups: vec![1] });
        let bytes = machine.snapshot();
        assert_eq!(
            CtrlStateMachine::restore_snapshot(&bytes, first()),
            Ok(machine)
        );
        for op in [
            CtrlOp::Query { num: Some(3) },
            CtrlOp::Query { num: None },
            CtrlOp::Join {
                groups: vec![(3, vec![6, 7])],
            },
            CtrlOp::Move { shard: 5, group: 2 },
        ] {
            let command = CtrlCommand {
                client_id: 9,
                seq: 4,
                op,
            };
            let bytes = command.encode();
            assert_eq!(CtrlCommand::decode(&bytes), Ok(command));
            assert!(CtrlCommand::decode(&bytes[..bytes.len() - 1]).is_err());
        }
    }
}
