//! Protocol values between raft-rs (`eraftpb`) and our `raft` crate. Every conversion is
//! lossless for what raft-rs reads, so a message that crosses the simulated network as our
//! `raft::Message` arrives at the other raft-rs node as it was sent.
//!
//! Two raft-rs message fields have no field of their own in our `Message`; they travel in
//! fields raft-rs never uses: `commit_term` in `read_round` and `request_snapshot` in
//! `transferee`. (raft-rs's `priority` is always 0 here: raftsim sets no priorities.)
//! Configuration-change entries carry our encoding (`raft::ConfChange::encode`) on our side
//! and raft-rs's protobuf `ConfChangeV2` on its side, so the server decodes and applies them
//! as it does ours.

use protobuf::Message as _;
use raft::{
    ConfChange, ConfChangeKind, ConfChangeSingle, ConfChangeTransition, ConfState, Entry,
    EntryKind, HardState, Message, MessageKind, Role, Snapshot, SnapshotMetadata,
};
use raft_rs::eraftpb;

pub fn message_to_ours(message: eraftpb::Message) -> Message {
    let mut message = message;
    Message {
        kind: kind_to_ours(message.msg_type),
        from: message.from,
        to: message.to,
        term: message.term,
        log_term: message.log_term,
        index: message.index,
        entries: message.entries.iter().map(entry_to_ours).collect(),
        commit: message.commit,
        snapshot: message
            .snapshot
            .take()
            .map(|snapshot| Box::new(snapshot_to_ours(&snapshot))),
        reject: message.reject,
        reject_hint: message.reject_hint,
        context: message.context.as_ref().into(),
        read_round: message.commit_term,
        leader_transfer: false,
        transferee: message.request_snapshot,
    }
}

pub fn message_to_raftrs(message: Message) -> eraftpb::Message {
    let mut converted = eraftpb::Message {
        msg_type: kind_to_raftrs(message.kind),
        to: message.to,
        from: message.from,
        term: message.term,
        log_term: message.log_term,
        index: message.index,
        commit: message.commit,
        commit_term: message.read_round,
        request_snapshot: message.transferee,
        reject: message.reject,
        reject_hint: message.reject_hint,
        context: message.context.into(),
        ..eraftpb::Message::default()
    };
    converted.entries = message.entries.iter().map(entry_to_raftrs).collect();
    if let Some(snapshot) = &message.snapshot {
        converted.set_snapshot(snapshot_to_raftrs(snapshot));
    }
    converted
}

fn kind_to_ours(kind: eraftpb::MessageType) -> MessageKind {
    use eraftpb::MessageType as T;
    match kind {
        T::MsgAppend => MessageKind::Append,
        T::MsgAppendResponse => MessageKind::AppendResponse,
        T::MsgRequestVote => MessageKind::Vote,
        T::MsgRequestVoteResponse => MessageKind::VoteResponse,
        T::MsgRequestPreVote => MessageKind::PreVote,
        T::MsgRequestPreVoteResponse => MessageKind::PreVoteResponse,
        T::MsgHeartbeat => MessageKind::Heartbeat,
        T::MsgHeartbeatResponse => MessageKind::HeartbeatResponse,
        T::MsgSnapshot => MessageKind::Snapshot,
        T::MsgTimeoutNow => MessageKind::TimeoutNow,
        T::MsgReadIndex => MessageKind::ReadIndex,
        T::MsgReadIndexResp => MessageKind::ReadIndexResponse,
        T::MsgPropose => MessageKind::Propose,
        T::MsgTransferLeader => MessageKind::TransferLeader,
        local @ (T::MsgHup
        | T::MsgBeat
        | T::MsgUnreachable
        | T::MsgSnapStatus
        | T::MsgCheckQuorum) => {
            panic!("raft-rs sent a local message {local:?} to the network")
        }
    }
}

fn kind_to_raftrs(kind: MessageKind) -> eraftpb::MessageType {
    use eraftpb::MessageType as T;
    match kind {
        MessageKind::Append => T::MsgAppend,
        MessageKind::AppendResponse => T::MsgAppendResponse,
        MessageKind::Vote => T::MsgRequestVote,
        MessageKind::VoteResponse => T::MsgRequestVoteResponse,
        MessageKind::PreVote => T::MsgRequestPreVote,
        MessageKind::PreVoteResponse => T::MsgRequestPreVoteResponse,
        MessageKind::Heartbeat => T::MsgHeartbeat,
        MessageKind::HeartbeatResponse => T::MsgHeartbeatResponse,
        MessageKind::Snapshot => T::MsgSnapshot,
        MessageKind::TimeoutNow => T::MsgTimeoutNow,
        MessageKind::ReadIndex => T::MsgReadIndex,
        MessageKind::ReadIndexResponse => T::MsgReadIndexResp,
        MessageKind::Propose => T::MsgPropose,
        MessageKind::TransferLeader => T::MsgTransferLeader,
    }
}

pub fn entry_to_ours(entry: &eraftpb::Entry) -> Entry {
    let (kind, data) = match entry.entry_type {
        eraftpb::EntryType::EntryNormal => (EntryKind::Normal, entry.data.to_vec()),
        eraftpb::EntryType::EntryConfChange => {
            let change = eraftpb::ConfChange::parse_from_bytes(&entry.data)
                .expect("raft-rs wrote a ConfChange it can read");
            let v2 = raft_proto::ConfChangeI::into_v2(change);
            (EntryKind::ConfChange, conf_change_to_ours(&v2).encode())
        }
        eraftpb::EntryType::EntryConfChangeV2 => {
            let change = eraftpb::ConfChangeV2::parse_from_bytes(&entry.data)
                .expect("raft-rs wrote a ConfChangeV2 it can read");
            (EntryKind::ConfChange, conf_change_to_ours(&change).encode())
        }
    };
    Entry {
        term: entry.term,
        index: entry.index,
        kind,
        data: data.into(),
    }
}

pub fn entry_to_raftrs(entry: &Entry) -> eraftpb::Entry {
    let (entry_type, data) = match entry.kind {
        EntryKind::Normal => (eraftpb::EntryType::EntryNormal, entry.data.to_vec()),
        EntryKind::ConfChange => {
            let change = ConfChange::decode(&entry.data)
                .expect("configuration entries carry a change the adapter encoded");
            let bytes = conf_change_to_raftrs(&change)
                .write_to_bytes()
                .expect("a ConfChangeV2 encodes");
            (eraftpb::EntryType::EntryConfChangeV2, bytes)
        }
    };
    eraftpb::Entry {
        entry_type,
        term: entry.term,
        index: entry.index,
        data: data.into(),
        ..eraftpb::Entry::default()
    }
}

pub fn conf_change_to_ours(change: &eraftpb::ConfChangeV2) -> ConfChange {
    let transition = match change.transition {
        eraftpb::ConfChangeTransition::Auto => ConfChangeTransition::Auto,
        eraftpb::ConfChangeTransition::Implicit => ConfChangeTransition::JointImplicit,
        eraftpb::ConfChangeTransition::Explicit => ConfChangeTransition::JointExplicit,
    };
    let changes = change.changes.iter().map(|single| ConfChangeSingle {
        kind: match single.change_type {
            eraftpb::ConfChangeType::AddNode => ConfChangeKind::AddNode,
            eraftpb::ConfChangeType::RemoveNode => ConfChangeKind::RemoveNode,
            eraftpb::ConfChangeType::AddLearnerNode => ConfChangeKind::AddLearner,
        },
        node_id: single.node_id,
    });
    ConfChange {
        transition,
        changes: changes.collect(),
        context: change.context.to_vec(),
    }
}

pub fn conf_change_to_raftrs(change: &ConfChange) -> eraftpb::ConfChangeV2 {
    let transition = match change.transition {
        ConfChangeTransition::Auto => eraftpb::ConfChangeTransition::Auto,
        ConfChangeTransition::JointImplicit => eraftpb::ConfChangeTransition::Implicit,
        ConfChangeTransition::JointExplicit => eraftpb::ConfChangeTransition::Explicit,
    };
    let mut converted = eraftpb::ConfChangeV2 {
        transition,
        context: change.context.clone().into(),
        ..eraftpb::ConfChangeV2::default()
    };
    converted.changes = change
        .changes
        .iter()
        .map(|single| eraftpb::ConfChangeSingle {
            change_type: match single.kind {
                ConfChangeKind::AddNode => eraftpb::ConfChangeType::AddNode,
                ConfChangeKind::RemoveNode => eraftpb::ConfChangeType::RemoveNode,
                ConfChangeKind::AddLearner => eraftpb::ConfChangeType::AddLearnerNode,
            },
            node_id: single.node_id,
            ..eraftpb::ConfChangeSingle::default()
        })
        .collect();
    converted
}

pub fn conf_state_to_ours(conf: &eraftpb::ConfState) -> ConfState {
    ConfState {
        voters: conf.voters.iter().copied().collect(),
        learners: conf.learners.iter().copied().collect(),
        voters_outgoing: conf.voters_outgoing.iter().copied().collect(),
        learners_next: conf.learners_next.iter().copied().collect(),
        auto_leave: conf.auto_leave,
    }
}

pub fn conf_state_to_raftrs(conf: &ConfState) -> eraftpb::ConfState {
    eraftpb::ConfState {
        voters: conf.voters.iter().copied().collect(),
        learners: conf.learners.iter().copied().collect(),
        voters_outgoing: conf.voters_outgoing.iter().copied().collect(),
        learners_next: conf.learners_next.iter().copied().collect(),
        auto_leave: conf.auto_leave,
        ..eraftpb::ConfState::default()
    }
}

pub fn snapshot_to_ours(snapshot: &eraftpb::Snapshot) -> Snapshot {
    let metadata = snapshot.get_metadata();
    Snapshot {
        metadata: SnapshotMetadata {
            index: metadata.index,
            term: metadata.term,
            conf_state: conf_state_to_ours(metadata.get_conf_state()),
        },
        data: snapshot.data.to_vec(),
    }
}

pub fn snapshot_to_raftrs(snapshot: &Snapshot) -> eraftpb::Snapshot {
    let mut metadata = eraftpb::SnapshotMetadata {
        index: snapshot.metadata.index,
        term: snapshot.metadata.term,
        ..eraftpb::SnapshotMetadata::default()
    };
    metadata.set_conf_state(conf_state_to_raftrs(&snapshot.metadata.conf_state));
    let mut converted = eraftpb::Snapshot {
        data: snapshot.data.clone().into(),
        ..eraftpb::Snapshot::default()
    };
    converted.set_metadata(metadata);
    converted
}

pub fn hard_state_to_ours(hard_state: &eraftpb::HardState) -> HardState {
    HardState {
        term: hard_state.term,
        vote: (hard_state.vote != 0).then_some(hard_state.vote),
        commit: hard_state.commit,
    }
}

pub fn hard_state_to_raftrs(hard_state: &HardState) -> eraftpb::HardState {
    eraftpb::HardState {
        term: hard_state.term,
        vote: hard_state.vote.unwrap_or(0),
        commit: hard_state.commit,
        ..eraftpb::HardState::default()
    }
}

pub fn role_to_ours(role: raft_rs::StateRole) -> Role {
    match role {
        raft_rs::StateRole::Follower => Role::Follower,
        raft_rs::StateRole::PreCandidate => Role::PreCandidate,
        raft_rs::StateRole::Candidate => Role::Candidate,
        raft_rs::StateRole::Leader => Role::Leader,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_our_type() {
        let mut message = eraftpb::Message {
            msg_type: eraftpb::MessageType::MsgAppend,
            to: 2,
            from: 1,
            term: 3,
            log_term: 2,
            index: 7,
            commit: 6,
            commit_term: 2,
            request_snapshot: 4,
            reject_hint: 5,
            context: b"ctx".to_vec().into(),
            ..eraftpb::Message::default()
        };
        let change = conf_change_to_raftrs(&ConfChange::joint(
            ConfChangeTransition::JointExplicit,
            [
                (ConfChangeKind::AddLearner, 4),
                (ConfChangeKind::RemoveNode, 3),
            ],
        ));
        message.entries = vec![
            entry_to_raftrs(&Entry {
                term: 3,
                index: 8,
                kind: EntryKind::Normal,
                data: b"x".as_slice().into(),
            }),
            eraftpb::Entry {
                entry_type: eraftpb::EntryType::EntryConfChangeV2,
                term: 3,
                index: 9,
                data: change.write_to_bytes().unwrap().into(),
                ..eraftpb::Entry::default()
            },
        ]
        .into();
        let back = message_to_raftrs(message_to_ours(message.clone()));
        assert_eq!(back.msg_type, message.msg_type);
        assert_eq!(back.commit_term, 2);
        assert_eq!(back.request_snapshot, 4);
        assert_eq!(back.context, message.context);
        assert_eq!(back.entries[0], message.entries[0]);
        let decoded = eraftpb::ConfChangeV2::parse_from_bytes(&back.entries[1].data).unwrap();
        assert_eq!(decoded, change);
    }
}
