//! The kinds of fault a run can draw, declared once: the name `FaultMix` prints, the switch in
//! `FaultMix`, the chance a swarm seed switches it on, and the fault actions it applies (their
//! text form is `sim::FaultAction`'s). The nemesis (`run::nemesis`) gives each kind its
//! behaviour; the swarm draw, `FaultMix`'s text and the README's fault list follow this table.

use super::FaultMix;

/// A kind of fault, as the nemesis plans it before it picks a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    Partition,
    OneWayCut,
    Crash,
    /// A crash with a quick restart: lands in the middle of whatever the node was doing.
    Bounce,
    /// A majority crashes at once: every unsynced write on them is gone.
    PowerLoss,
    Pause,
    ClockDrift,
    LinkLoss,
    /// Heavy duplication without loss: duplicated votes, acks and read confirmations.
    Duplication,
    /// A membership change proposed at the leader, sometimes cut off right after.
    Membership,
    /// A single-server change handed to a leader just elected, before its first commit.
    NewLeaderChange,
    /// The motifs (`run::motifs`): multi-step sequences run off the cluster's state.
    Figure8,
    StaleLeader,
    CrashAfterCommit,
    SplitVote,
    SingleChange,
    MultiChange,
    DoubleVote,
    SnapshotTail,
    /// A change of the sharded service's configuration at the controller's leader: a group
    /// joins or leaves, or a shard moves; sometimes the group losing shards is cut off at once.
    ControllerChange,
    /// The sharded service's motif (`run::shard_motifs`): a shard moved away from a group whose
    /// replies to clients are lost until it has applied the move.
    LostReplyMove,
    /// The sharded service's motif: a replica group's leader cut off alone until its successor
    /// commits, so the successor's snapshot lands on the old leader's longer, divergent log.
    SnapshotOverTail,
}

/// When a swarm seed draws a kind's switch (the order of draws is part of every seed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SwarmDraw {
    /// With the main kinds, before the fault count (at least one of them is on).
    Main(f64),
    /// After the fault count: a variant of a main kind.
    Variant(f64),
    /// Drawn from its own stream (`swarm-membership`, `swarm-motifs`, `swarm-sharded`), see
    /// `swarm`.
    Own,
    /// Never drawn on its own: rides on another kind.
    Rides,
}

pub struct FaultKindSpec {
    pub kind: FaultKind,
    /// How `FaultMix` prints it; `None` when it rides on another kind.
    pub name: Option<&'static str>,
    /// The switch in `FaultMix` that turns it on (a variant needs its main kind as well).
    pub switch: fn(&mut FaultMix) -> &mut bool,
    /// The main kind a variant needs switched on too.
    pub needs: Option<FaultKind>,
    pub swarm: SwarmDraw,
    /// The fault actions it applies, by verb (`sim::FAULT_VERBS`).
    pub actions: &'static [&'static str],
}

impl FaultKindSpec {
    /// Whether `mix` switches this kind on.
    pub fn enabled(&self, mix: &FaultMix) -> bool {
        // The switch hands out `&mut` so the swarm can set it; reading goes through a copy.
        let on = |spec: &FaultKindSpec| *(spec.switch)(&mut mix.clone());
        on(self) && self.needs.is_none_or(|main| on(spec(main)))
    }
}

/// Every kind, in the order the nemesis lists and the swarm draws them.
pub const FAULT_KINDS: [FaultKindSpec; 22] = [
    FaultKindSpec {
        kind: FaultKind::Partition,
        name: Some("partition"),
        switch: |mix| &mut mix.partitions,
        needs: None,
        swarm: SwarmDraw::Main(0.7),
        actions: &["partition", "heal"],
    },
    FaultKindSpec {
        kind: FaultKind::OneWayCut,
        name: Some("cut"),
        switch: |mix| &mut mix.one_way_cuts,
        needs: None,
        swarm: SwarmDraw::Main(0.4),
        actions: &["cut", "restore"],
    },
    FaultKindSpec {
        kind: FaultKind::Crash,
        name: Some("crash"),
        switch: |mix| &mut mix.crashes,
        needs: None,
        swarm: SwarmDraw::Main(0.7),
        actions: &["crash", "restart"],
    },
    FaultKindSpec {
        kind: FaultKind::Bounce,
        name: Some("bounce"),
        switch: |mix| &mut mix.bounces,
        needs: Some(FaultKind::Crash),
        swarm: SwarmDraw::Variant(0.5),
        actions: &["crash", "restart"],
    },
    FaultKindSpec {
        kind: FaultKind::PowerLoss,
        name: Some("power-loss"),
        switch: |mix| &mut mix.power_loss,
        needs: Some(FaultKind::Crash),
        swarm: SwarmDraw::Variant(0.4),
        actions: &["crash", "restart"],
    },
    FaultKindSpec {
        kind: FaultKind::Pause,
        name: Some("pause"),
        switch: |mix| &mut mix.pauses,
        needs: None,
        swarm: SwarmDraw::Main(0.5),
        actions: &["pause", "resume"],
    },
    FaultKindSpec {
        kind: FaultKind::ClockDrift,
        name: Some("clock"),
        switch: |mix| &mut mix.clock_drift,
        needs: None,
        swarm: SwarmDraw::Main(0.4),
        actions: &["clock-rate"],
    },
    FaultKindSpec {
        kind: FaultKind::LinkLoss,
        name: Some("loss"),
        switch: |mix| &mut mix.link_loss,
        needs: None,
        swarm: SwarmDraw::Main(0.5),
        actions: &["link-loss"],
    },
    FaultKindSpec {
        kind: FaultKind::Duplication,
        name: Some("duplication"),
        switch: |mix| &mut mix.duplication,
        needs: Some(FaultKind::LinkLoss),
        swarm: SwarmDraw::Variant(0.5),
        actions: &["link-loss"],
    },
    FaultKindSpec {
        kind: FaultKind::Membership,
        name: Some("membership"),
        switch: |mix| &mut mix.membership,
        needs: None,
        swarm: SwarmDraw::Own,
        actions: &["admin", "partition", "heal"],
    },
    FaultKindSpec {
        kind: FaultKind::NewLeaderChange,
        name: None,
        switch: |mix| &mut mix.membership,
        needs: None,
        swarm: SwarmDraw::Rides,
        actions: &["admin"],
    },
    FaultKindSpec {
        kind: FaultKind::Figure8,
        name: Some("figure8"),
        switch: |mix| &mut mix.figure8,
        needs: None,
        swarm: SwarmDraw::Own,
        actions: &["partition", "heal"],
    },
    FaultKindSpec {
        kind: FaultKind::StaleLeader,
        name: Some("stale-leader"),
        switch: |mix| &mut mix.stale_leader,
        needs: None,
        swarm: SwarmDraw::Own,
        actions: &["clock-jump", "cut", "restore", "hold", "release"],
    },
    FaultKindSpec {
        kind: FaultKind::CrashAfterCommit,
        name: Some("crash-after-commit"),
        switch: |mix| &mut mix.crash_after_commit,
        needs: None,
        swarm: SwarmDraw::Own,
        actions: &["cut", "restore", "crash", "restart", "hold", "release"],
    },
    FaultKindSpec {
        kind: FaultKind::SplitVote,
        name: Some("split-vote"),
        switch: |mix| &mut mix.split_vote,
        needs: None,
        swarm: SwarmDraw::Own,
        actions: &["cut", "restore", "crash", "restart"],
    },
    FaultKindSpec {
        kind: FaultKind::SingleChange,
        name: Some("single-change"),
        switch: |mix| &mut mix.single_change,
        needs: Some(FaultKind::Membership),
        swarm: SwarmDraw::Own,
        actions: &["admin", "partition", "heal"],
    },
    FaultKindSpec {
        kind: FaultKind::MultiChange,
        name: Some("multi-change"),
        switch: |mix| &mut mix.multi_change,
        needs: Some(FaultKind::Membership),
        swarm: SwarmDraw::Own,
        actions: &["admin", "partition", "heal"],
    },
    FaultKindSpec {
        kind: FaultKind::DoubleVote,
        name: Some("double-vote"),
        switch: |mix| &mut mix.double_vote,
        needs: None,
        swarm: SwarmDraw::Own,
        actions: &[
            "crash",
            "restart",
            "partition",
            "heal",
            "cut",
            "restore",
            "hold",
            "release",
        ],
    },
    FaultKindSpec {
        kind: FaultKind::SnapshotTail,
        name: Some("snapshot-tail"),
        switch: |mix| &mut mix.snapshot_tail,
        needs: None,
        swarm: SwarmDraw::Own,
        actions: &["partition", "clock-jump", "heal"],
    },
    FaultKindSpec {
        kind: FaultKind::ControllerChange,
        name: Some("controller"),
        switch: |mix| &mut mix.controller,
        needs: None,
        swarm: SwarmDraw::Own,
        actions: &["admin", "partition", "heal"],
    },
    FaultKindSpec {
        kind: FaultKind::LostReplyMove,
        name: Some("lost-reply-move"),
        switch: |mix| &mut mix.lost_reply_move,
        needs: Some(FaultKind::ControllerChange),
        swarm: SwarmDraw::Own,
        actions: &["admin", "link-loss"],
    },
    FaultKindSpec {
        kind: FaultKind::SnapshotOverTail,
        name: Some("snapshot-over-tail"),
        switch: |mix| &mut mix.snapshot_over_tail,
        needs: None,
        swarm: SwarmDraw::Own,
        actions: &["partition", "heal"],
    },
];

/// The table entry of `kind`.
pub fn spec(kind: FaultKind) -> &'static FaultKindSpec {
    FAULT_KINDS
        .iter()
        .find(|spec| spec.kind == kind)
        .expect("every kind is in the table")
}

/// The kinds the nemesis plans from the `faults` stream (membership and controller changes
/// come from their own).
pub fn planned_kinds(mix: &FaultMix) -> Vec<FaultKind> {
    FAULT_KINDS
        .iter()
        .filter(|spec| matches!(spec.swarm, SwarmDraw::Main(_) | SwarmDraw::Variant(_)))
        .filter(|spec| spec.enabled(mix))
        .map(|spec| spec.kind)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_kind_once_with_known_actions() {
        for (position, spec) in FAULT_KINDS.iter().enumerate() {
            assert_eq!(
                FAULT_KINDS.iter().position(|s| s.kind == spec.kind),
                Some(position)
            );
            for verb in spec.actions {
                assert!(sim::fault::FAULT_VERBS.contains(verb), "{verb}");
            }
        }
    }

    #[test]
    fn variants_need_their_main_kind() {
        let mut mix = FaultMix::all(4);
        assert!(spec(FaultKind::Bounce).enabled(&mix));
        mix.crashes = false;
        assert!(!spec(FaultKind::Bounce).enabled(&mix));
        assert!(!planned_kinds(&mix).contains(&FaultKind::PowerLoss));
    }
}
