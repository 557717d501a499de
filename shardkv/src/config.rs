//! Numbered configurations (seed 004, lab 4A): which replica group serves each shard, and
//! which servers make up each group; the controller's rebalancing; keys to shards; the layout
//! of groups on servers.
//!
//! Groups are `g1`, `g2`, ... (group id 1, 2, ...); group id 0 is "no group", the owner of every
//! shard before the first group joins.

use std::collections::BTreeMap;
use std::fmt;

use kv::codec::{DecodeError, Fnv64, Reader, Sink};

/// A replica group's id; 0 is no group.
pub type GroupId = u32;

/// Most replica groups a cluster has.
pub const GROUPS_MAX: usize = 8;

/// Most shards a cluster splits its keys into.
pub const SHARDS_MAX: usize = 64;

/// One numbered configuration: every shard's group, and every group's servers (addresses).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Config {
    pub num: u64,
    /// Shard `s`'s group at position `s` (0: none).
    pub shards: Vec<GroupId>,
    pub groups: BTreeMap<GroupId, Vec<u64>>,
}

impl Config {
    /// Configuration 0: no group, every shard unassigned.
    pub fn initial(shard_count: usize) -> Config {
        Config {
            num: 0,
            shards: vec![0; shard_count],
            groups: BTreeMap::new(),
        }
    }

    /// The group serving `shard` (0: none).
    pub fn owner(&self, shard: usize) -> GroupId {
        self.shards[shard]
    }

    /// The shards `group` owns, ascending.
    pub fn shards_of(&self, group: GroupId) -> Vec<usize> {
        (0..self.shards.len())
            .filter(|&shard| self.shards[shard] == group)
            .collect()
    }

    /// The next configuration with `joining` (group, servers) added and the shards rebalanced;
    /// groups already present are left as they are.
    pub fn join(&self, joining: &[(GroupId, Vec<u64>)]) -> Config {
        let mut next = self.successor();
        for (group, servers) in joining {
            assert_ne!(*group, 0, "group id 0 means no group");
            next.groups.entry(*group).or_insert_with(|| servers.clone());
        }
        next.rebalance();
        next
    }

    /// The next configuration without `leaving`, their shards spread over the others.
    pub fn leave(&self, leaving: &[GroupId]) -> Config {
        let mut next = self.successor();
        for group in leaving {
            next.groups.remove(group);
        }
        next.rebalance();
        next
    }

    /// The next configuration with `shard` assigned to `group` (a group of this one).
    pub fn move_shard(&self, shard: usize, group: GroupId) -> Config {
        assert!(
            self.groups.contains_key(&group),
            "configuration {}: shard {shard} moved to g{group}, which has not joined",
            self.num
        );
        let mut next = self.successor();
        next.shards[shard] = group;
        next
    }

    fn successor(&self) -> Config {
        Config {
            num: self.num + 1,
            ..self.clone()
        }
    }

    /// Spreads the shards evenly over the groups, moving as few as possible: a group keeps up to
    /// its share, and only shards above it or of groups that left move. Shares and choices are
    /// in group-id and shard order, never in a map's iteration order, so the result is a pure
    /// function of the configuration.
    fn rebalance(&mut self) {
        if self.groups.is_empty() {
            self.shards.iter_mut().for_each(|owner| *owner = 0);
            return;
        }
        let groups: Vec<GroupId> = self.groups.keys().copied().collect();
        let mut counts: Vec<(GroupId, usize)> = groups
            .iter()
            .map(|&group| (group, self.shards_of(group).len()))
            .collect();
        // Groups holding more shards keep the larger shares; ties go to the lower id.
        counts.sort_by_key(|&(group, count)| (std::cmp::Reverse(count), group));
        let base = self.shards.len() / groups.len();
        let extra = self.shards.len() % groups.len();
        let share: BTreeMap<GroupId, usize> = counts
            .iter()
            .enumerate()
            .map(|(rank, &(group, _))| (group, base + usize::from(rank < extra)))
            .collect();
        let mut free: Vec<usize> = Vec::new();
        for shard in 0..self.shards.len() {
            if !self.groups.contains_key(&self.shards[shard]) {
                free.push(shard);
            }
        }
        for &group in &groups {
            let owned = self.shards_of(group);
            // The highest-numbered shards above the share go back to the pool.
            free.extend(owned.into_iter().skip(share[&group]));
        }
        free.sort_unstable();
        let mut free = free.into_iter();
        for &group in &groups {
            let owned = self.shards_of(group).len().min(share[&group]);
            for _ in owned..share[&group] {
                let shard = free.next().expect("the shares add up to the shard count");
                self.shards[shard] = group;
            }
        }
        assert!(
            free.next().is_none(),
            "every shard has a group after a rebalance"
        );
    }

    /// `u64 num, u64 shard count, u32 group per shard, u64 group count, per group (ascending):
    /// u32 id, u64 server count, u64 per server`.
    pub fn encode_into(&self, sink: &mut impl Sink) {
        sink.put_u64(self.num);
        sink.put_u64(self.shards.len() as u64);
        for &owner in &self.shards {
            sink.put(&owner.to_le_bytes());
        }
        sink.put_u64(self.groups.len() as u64);
        for (group, servers) in &self.groups {
            sink.put(&group.to_le_bytes());
            sink.put_u64(servers.len() as u64);
            for &server in servers {
                sink.put_u64(server);
            }
        }
    }

    pub fn decode(reader: &mut Reader<'_>) -> Result<Config, DecodeError> {
        let num = reader.u64("configuration number")?;
        let shard_count = reader.count("shards", 4)?;
        let mut shards = Vec::new();
        for _ in 0..shard_count {
            shards.push(read_u32(reader, "shard owner")?);
        }
        let group_count = reader.count("groups", 12)?;
        let mut groups = BTreeMap::new();
        for _ in 0..group_count {
            let offset = reader.offset();
            let group = read_u32(reader, "group id")?;
            let server_count = reader.count("servers", 8)?;
            let servers = (0..server_count)
                .map(|_| reader.u64("server"))
                .collect::<Result<Vec<u64>, _>>()?;
            if groups
                .last_key_value()
                .is_some_and(|(last, _)| *last >= group)
            {
                return Err(DecodeError::NotCanonical {
                    what: "group",
                    offset,
                });
            }
            groups.insert(group, servers);
        }
        Ok(Config {
            num,
            shards,
            groups,
        })
    }
}

pub(crate) fn read_u32(reader: &mut Reader<'_>, what: &'static str) -> Result<u32, DecodeError> {
    let bytes = reader.take(4, what)?;
    Ok(u32::from_le_bytes(
        bytes.try_into().expect("took four bytes"),
    ))
}

/// `config 3 [g1 g1 g2 -] {g1: n1,n2,n3; g2: n4,n5,n6}`: shard owners in shard order.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let owners: Vec<String> = self
            .shards
            .iter()
            .map(|&owner| match owner {
                0 => "-".to_string(),
                group => format!("g{group}"),
            })
            .collect();
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|(group, servers)| {
                let names: Vec<String> = servers.iter().map(|a| format!("n{}", a + 1)).collect();
                format!("g{group}: {}", names.join(","))
            })
            .collect();
        write!(
            f,
            "config {} [{}] {{{}}}",
            self.num,
            owners.join(" "),
            groups.join("; ")
        )
    }
}

/// The shard of `key`: FNV-1a of the key, modulo the shard count (a fixed hash, so the same key
/// lands in the same shard on every run and machine).
pub fn shard_of(key: &str, shard_count: usize) -> usize {
    assert!(shard_count > 0, "a cluster has at least one shard");
    let mut hash = Fnv64::new();
    hash.put(key.as_bytes());
    (hash.finish() % shard_count as u64) as usize
}

/// Where the groups run: replica group `g` on its servers, and the controller's replicas.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    /// Servers (addresses) of group `g` at position `g - 1`.
    pub groups: Vec<Vec<u64>>,
    /// Servers hosting the controller's replicas.
    pub controller: Vec<u64>,
    pub shard_count: usize,
}

/// Replicas of the controller's Raft group.
pub const CONTROLLER_REPLICAS: usize = 3;

impl Layout {
    /// Groups on consecutive servers (`g1` on the first `sizes[0]`, and so on); the controller's
    /// replicas on the first server of each group in turn, then the second, so losing one group
    /// never takes the controller's quorum with it when there are three groups or more.
    pub fn new(sizes: &[usize], shard_count: usize) -> Layout {
        let mut groups = Vec::new();
        let mut next = 0u64;
        for &size in sizes {
            groups.push((next..next + size as u64).collect::<Vec<u64>>());
            next += size as u64;
        }
        let mut controller = Vec::new();
        let deepest = sizes.iter().copied().max().unwrap_or(0);
        'fill: for depth in 0..deepest {
            for group in &groups {
                if controller.len() == CONTROLLER_REPLICAS {
                    break 'fill;
                }
                if let Some(&server) = group.get(depth) {
                    controller.push(server);
                }
            }
        }
        controller.sort_unstable();
        Layout {
            groups,
            controller,
            shard_count,
        }
    }

    pub fn server_count(&self) -> usize {
        self.groups.iter().map(Vec::len).sum()
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The replica group `server` belongs to.
    pub fn group_of(&self, server: u64) -> GroupId {
        let position = self
            .groups
            .iter()
            .position(|servers| servers.contains(&server))
            .unwrap_or_else(|| panic!("server n{} is in no group", server + 1));
        position as GroupId + 1
    }

    pub fn servers_of(&self, group: GroupId) -> &[u64] {
        &self.groups[group as usize - 1]
    }

    pub fn hosts_controller(&self, server: u64) -> bool {
        self.controller.contains(&server)
    }

    /// Configuration 1: the first `initial_groups` groups joined to configuration 0.
    pub fn first_config(&self, initial_groups: usize) -> Config {
        let joining: Vec<(GroupId, Vec<u64>)> = (1..=initial_groups as GroupId)
            .map(|group| (group, self.servers_of(group).to_vec()))
            .collect();
        Config::initial(self.shard_count).join(&joining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(group: GroupId) -> Vec<u64> {
        vec![u64::from(group) * 10]
    }

    fn counts(config: &Config) -> Vec<usize> {
        config
            .groups
            .keys()
            .map(|&group| config.shards_of(group).len())
            .collect()
    }

    #[test]
    fn joins_and_leaves_balance_and_move_few_shards() {
        let first = Config::initial(10).join(&[(1, servers(1))]);
        assert_eq!(first.shards, vec![1; 10]);
        let second = first.join(&[(2, servers(2)), (3, servers(3))]);
        assert_eq!(counts(&second), vec![4, 3, 3]);
        // Only shards moving to the new groups moved: 6 of 10.
        let moved =
            |a: &Config, b: &Config| (0..10).filter(|&s| a.shards[s] != b.shards[s]).count();
        assert_eq!(moved(&first, &second), 6);
        let third = second.leave(&[2]);
        assert_eq!(counts(&third), vec![5, 5]);
        assert_eq!(moved(&second, &third), 3, "only g2's shards moved");
        let empty = third.leave(&[1, 3]);
        assert_eq!(empty.shards, vec![0; 10]);
        assert_eq!(empty.num, 4);
    }

    #[test]
    fn rebalancing_is_a_function_of_the_configuration() {
        let a = Config::initial(7).join(&[(3, servers(3)), (1, servers(1))]);
        let b = Config::initial(7).join(&[(1, servers(1)), (3, servers(3))]);
        assert_eq!(a, b);
        expect_test::expect!["config 1 [g1 g1 g1 g1 g3 g3 g3] {g1: n11; g3: n31}"]
            .assert_eq(&a.to_string());
    }

    #[test]
    fn configurations_round_trip_through_their_bytes() {
        let config = Config::initial(5)
            .join(&[(1, vec![0, 1, 2]), (2, vec![3, 4, 5])])
            .move_shard(0, 2);
        let mut bytes = Vec::new();
        config.encode_into(&mut bytes);
        let mut reader = Reader::new(&bytes);
        assert_eq!(Config::decode(&mut reader), Ok(config));
        assert!(reader.finish("config").is_ok());
    }

    #[test]
    fn the_controller_spreads_over_groups() {
        let layout = Layout::new(&[3, 5, 3], 10);
        assert_eq!(layout.groups[1], vec![3, 4, 5, 6, 7]);
        assert_eq!(layout.controller, vec![0, 3, 8]);
        assert_eq!(layout.group_of(7), 2);
        let two = Layout::new(&[3, 3], 10);
        assert_eq!(two.controller, vec![0, 1, 3]);
        assert_eq!(two.first_config(1).shards, vec![1; 10]);
    }
}
