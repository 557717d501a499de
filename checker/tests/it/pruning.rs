//! The pruning of `Model::pins` never changes a verdict: the KV model against the same model
//! with the pruning hooks left at their defaults (off), on generated histories with indefinite
//! operations and stale reads (a read given the value of another read of its key), which are
//! harder to refute than a value never written. The merging of states that contain an unread
//! value (`Model::state_merge`) is checked the same way, against the KV model without it.

use checker::generate::{KvGenOptions, SplitMix64, kv_history};
use std::borrow::Cow;

use checker::{
    KvInput, KvModel, KvOperation, KvOutput, Model, Operation, Options, Outcome, Partition, Sets,
    Verdict, check_kv, check_model,
};

/// The part of `Model` every stand-in for `KvModel` here takes from it unchanged.
macro_rules! kv_model_basics {
    () => {
        type Input = KvInput;
        type Output = KvOutput;
        type State = <KvModel as Model>::State;

        fn init(&self) -> Self::State {
            KvModel.init()
        }

        fn step(
            &self,
            state: &Self::State,
            input: &KvInput,
            output: Option<&KvOutput>,
        ) -> Option<Self::State> {
            KvModel.step(state, input, output)
        }

        fn partition(&self, operations: &[Operation<KvInput, KvOutput>]) -> Vec<Partition> {
            KvModel.partition(operations)
        }

        fn is_read_only(&self, input: &KvInput) -> bool {
            KvModel.is_read_only(input)
        }
    };
}

/// `KvModel` without the pruning hooks.
struct Unpruned;

impl Model for Unpruned {
    kv_model_basics!();
}

/// `KvModel` with its pruning hooks but without merging states.
struct Unmerged;

impl Model for Unmerged {
    kv_model_basics!();

    fn pinned_value<'a>(&self, input: &'a KvInput, output: &'a KvOutput) -> Option<Cow<'a, [u8]>> {
        KvModel.pinned_value(input, output)
    }

    fn sets<'a>(&self, input: &'a KvInput) -> Sets<'a> {
        KvModel.sets(input)
    }

    fn can_reach(&self, state: &Self::State, value: &[u8]) -> bool {
        KvModel.can_reach(state, value)
    }

    fn only_from_initial(&self, input: &KvInput) -> bool {
        KvModel.only_from_initial(input)
    }

    fn restores_initial(&self, input: &KvInput) -> bool {
        KvModel.restores_initial(input)
    }
}

/// Gives one completed read the value another completed read of the same key returned.
fn make_one_read_stale(operations: &mut [KvOperation], random: &mut SplitMix64) {
    let reads: Vec<usize> = (0..operations.len())
        .filter(|&index| {
            matches!(
                operations[index].outcome,
                Outcome::Returned(KvOutput::Value(_))
            )
        })
        .collect();
    if reads.len() < 2 {
        return;
    }
    let chosen = reads[random.below(reads.len() as u64) as usize];
    let key = operations[chosen].input.key().to_owned();
    let donors: Vec<usize> = reads
        .iter()
        .copied()
        .filter(|&index| index != chosen && operations[index].input.key() == key)
        .collect();
    if donors.is_empty() {
        return;
    }
    let donor = donors[random.below(donors.len() as u64) as usize];
    operations[chosen].outcome = operations[donor].outcome.clone();
}

#[test]
fn pruning_never_changes_a_verdict() {
    let options = Options {
        minimize: false,
        ..Options::default()
    };
    let (mut ok, mut illegal, mut saved) = (0, 0, 0);
    let (mut merged_steps, mut unmerged_steps) = (0, 0);
    for seed in 0..400u64 {
        let generator = KvGenOptions {
            seed,
            clients: 2 + seed % 7,
            operations: 30 + (seed % 5) as usize * 10,
            keys: 1 + seed % 3,
            indefinite_permille: [0, 50, 200][(seed % 3) as usize],
            duration_max: 5 + seed % 20,
        };
        let mut operations = kv_history(&generator);
        let mut random = SplitMix64::new(seed ^ 0x57a1e);
        for _ in 0..seed % 3 {
            make_one_read_stale(&mut operations, &mut random);
        }
        let merged = check_kv(&operations, &options);
        let pruned = check_model(&Unmerged, &operations, &options);
        let plain = check_model(&Unpruned, &operations, &options);
        assert_eq!(merged.verdict, pruned.verdict, "seed {seed}");
        assert_eq!(pruned.verdict, plain.verdict, "seed {seed}");
        for (with, without) in merged.partitions.iter().zip(&pruned.partitions) {
            assert_eq!(with.verdict, without.verdict, "seed {seed} {}", with.label);
            // Merging changes which subtrees the memo cuts, so it may take more steps or fewer.
            merged_steps += with.steps;
            unmerged_steps += without.steps;
        }
        for (with, without) in pruned.partitions.iter().zip(&plain.partitions) {
            assert_eq!(with.verdict, without.verdict, "seed {seed} {}", with.label);
            // Pruning only cuts subtrees the plain search walks through in vain.
            assert!(with.steps <= without.steps, "seed {seed} {}", with.label);
            saved += without.steps - with.steps;
        }
        match pruned.verdict {
            Verdict::Ok => ok += 1,
            Verdict::Illegal => illegal += 1,
            Verdict::Unknown { reason } => panic!("seed {seed}: {reason}"),
        }
    }
    eprintln!(
        "ok {ok}, illegal {illegal}, steps saved {saved}; \
         steps with merging {merged_steps}, without {unmerged_steps}"
    );
    assert!(ok > 100 && illegal > 100, "ok {ok}, illegal {illegal}");
}
