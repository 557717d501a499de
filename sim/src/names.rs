//! How a person reads a node id. Node ids are array indices (`0..node_count`); people read
//! names that start at one, as the Raft paper numbers its servers: the first `servers` nodes
//! are `n1..nS` and any further nodes are clients `c1..cC`. One `Display` and one parser, used
//! by everything the simulator prints (logs, fault actions, divergences), by fault schedules in
//! text and JSON, and by the harness, so a server has one name wherever it appears.

use std::fmt;

use crate::NodeId;

/// Where servers end and clients begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Names {
    servers: NodeId,
}

impl Default for Names {
    fn default() -> Self {
        Names::ALL_SERVERS
    }
}

impl Names {
    /// Every node is a server (`n1`, `n2`, ...): the simulator's default.
    pub const ALL_SERVERS: Names = Names {
        servers: NodeId::MAX,
    };

    /// The first `servers` nodes are servers, the rest clients.
    pub fn new(servers: NodeId) -> Self {
        Names { servers }
    }

    pub fn of(self, id: NodeId) -> NodeName {
        NodeName {
            id,
            servers: self.servers,
        }
    }

    /// `n3` is node 2; `c1` is the first node after the servers.
    pub fn parse(self, token: &str) -> Result<NodeId, NameError> {
        let bad = || NameError(crate::shorten(token));
        let number = |digits: &str| -> Result<NodeId, NameError> {
            match digits.parse::<NodeId>() {
                Ok(n) if n >= 1 && !digits.starts_with('+') => Ok(n),
                _ => Err(bad()),
            }
        };
        if let Some(digits) = token.strip_prefix('n') {
            let n = number(digits)?;
            (n <= self.servers).then_some(n - 1).ok_or_else(bad)
        } else if let Some(digits) = token.strip_prefix('c') {
            let k = number(digits)?;
            self.servers.checked_add(k - 1).ok_or_else(bad)
        } else {
            Err(bad())
        }
    }
}

/// A node's name: `n{id + 1}` for a server, `c{k}` for the k-th client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeName {
    id: NodeId,
    servers: NodeId,
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.id < self.servers {
            write!(f, "n{}", u64::from(self.id) + 1)
        } else {
            write!(f, "c{}", u64::from(self.id - self.servers) + 1)
        }
    }
}

/// The name of server `id` (faults and oracles name servers only).
pub fn server(id: NodeId) -> NodeName {
    Names::ALL_SERVERS.of(id)
}

/// The server a name such as `n3` stands for.
pub fn parse_server(token: &str) -> Result<NodeId, NameError> {
    Names::ALL_SERVERS.parse(token)
}

/// A token that names no node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a node name (n1, n2, ... for servers, c1, c2, ... for clients)")]
pub struct NameError(pub String);

/// Serde for fault actions: node ids travel as server names (`"n3"`), so a schedule file reads
/// like the text form.
pub(crate) mod serde_server {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::NodeId;

    pub fn serialize<S: Serializer>(id: &NodeId, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&super::server(*id))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NodeId, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        super::parse_server(&name).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        use crate::NodeId;

        pub fn serialize<S: Serializer>(
            id: &Option<NodeId>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match id {
                Some(id) => serializer.collect_str(&crate::names::server(*id)),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<NodeId>, D::Error> {
            let name = <Option<std::borrow::Cow<'de, str>>>::deserialize(deserializer)?;
            name.map(|name| crate::names::parse_server(&name).map_err(serde::de::Error::custom))
                .transpose()
        }
    }

    pub mod groups {
        use serde::ser::SerializeSeq;
        use serde::{Deserialize, Deserializer, Serializer};

        use crate::NodeId;

        pub fn serialize<S: Serializer>(
            groups: &[Vec<NodeId>],
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            let mut outer = serializer.serialize_seq(Some(groups.len()))?;
            for group in groups {
                let names: Vec<String> = group
                    .iter()
                    .map(|&id| crate::names::server(id).to_string())
                    .collect();
                outer.serialize_element(&names)?;
            }
            outer.end()
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<Vec<NodeId>>, D::Error> {
            let groups = <Vec<Vec<String>>>::deserialize(deserializer)?;
            groups
                .iter()
                .map(|group| {
                    group
                        .iter()
                        .map(|name| {
                            crate::names::parse_server(name).map_err(serde::de::Error::custom)
                        })
                        .collect()
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_start_at_one_and_round_trip() {
        let names = Names::new(3);
        let printed: Vec<String> = (0..5).map(|id| names.of(id).to_string()).collect();
        assert_eq!(printed, ["n1", "n2", "n3", "c1", "c2"]);
        for id in 0..5 {
            assert_eq!(names.parse(&names.of(id).to_string()), Ok(id));
        }
        assert_eq!(server(0).to_string(), "n1");
        assert_eq!(parse_server("n10"), Ok(9));
    }

    #[test]
    fn malformed_names_are_errors() {
        let names = Names::new(3);
        for token in [
            "n0",
            "n4",
            "c0",
            "x1",
            "n",
            "n+1",
            "n-1",
            "",
            "n99999999999",
        ] {
            assert!(names.parse(token).is_err(), "{token} parsed");
        }
    }
}
