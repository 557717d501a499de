//! An opt-in record of individual messages (for reports): who sent what to whom and when, and
//! whether it was delivered, dropped or duplicated. Off by default; when off the hot path pays
//! one branch on an empty `Option` per send and per delivery.

use serde::{Deserialize, Serialize};

use crate::NodeId;

/// Why a message never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// The link was down (partition or cut) when the message was sent.
    LinkDown,
    /// Lost to the link's drop probability.
    Lost,
    /// The link went down while the message was in flight.
    LinkDownInFlight,
    /// The receiver was crashed at delivery time (or crashed while paused with it queued).
    ReceiverCrashed,
    /// A script dropped a held message.
    Script,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::LinkDown => "link down",
            DropReason::Lost => "lost",
            DropReason::LinkDownInFlight => "link went down in flight",
            DropReason::ReceiverCrashed => "receiver crashed",
            DropReason::Script => "dropped by script",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fate", rename_all = "kebab-case")]
pub enum MessageFate {
    /// Still queued (or deferred at a paused receiver) when the run ended.
    InFlight,
    Delivered {
        at_ns: u64,
    },
    Dropped {
        at_ns: u64,
        reason: DropReason,
    },
}

/// One copy of one message. A duplicated send gives two events; the extra copy has
/// `duplicate` set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEvent {
    pub from: NodeId,
    pub to: NodeId,
    pub sent_ns: u64,
    /// What the node's describe function said about the message.
    pub label: String,
    pub duplicate: bool,
    pub fate: MessageFate,
}

/// Bound on recorded messages; past it new sends are counted but not kept.
pub const MESSAGE_EVENTS_MAX: usize = 5_000_000;

/// Marks a queued delivery that has no record (recording off, or over the bound).
pub(crate) const UNRECORDED: u64 = u64::MAX;

pub(crate) struct MessageLog<M> {
    describe: fn(&M) -> String,
    pub events: Vec<MessageEvent>,
    pub not_kept: u64,
}

impl<M> MessageLog<M> {
    pub fn new(describe: fn(&M) -> String) -> Self {
        Self {
            describe,
            events: Vec::new(),
            not_kept: 0,
        }
    }

    /// Records a send; returns the id a queued delivery carries.
    pub fn sent(
        &mut self,
        now_ns: u64,
        from: NodeId,
        to: NodeId,
        message: &M,
        duplicate: bool,
        fate: MessageFate,
    ) -> u64 {
        if self.events.len() >= MESSAGE_EVENTS_MAX {
            self.not_kept += 1;
            return UNRECORDED;
        }
        self.events.push(MessageEvent {
            from,
            to,
            sent_ns: now_ns,
            label: (self.describe)(message),
            duplicate,
            fate,
        });
        (self.events.len() - 1) as u64
    }

    pub fn settle(&mut self, id: u64, fate: MessageFate) {
        if let Some(event) = self.events.get_mut(id as usize) {
            debug_assert_eq!(
                event.fate,
                MessageFate::InFlight,
                "message {id} settled twice"
            );
            event.fate = fate;
        }
    }
}
