//! The KV model of the service (BRIEF §6): `Get`, `Put`, `Append`, `Cas` on string values,
//! partitioned per key, so each partition's state is one string.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexSet;

use crate::history::Operation;
use crate::memo::FxBuildHasher;
use crate::model::{Model, Partition, Sets, StateMerge, quote};

/// A KV operation. Every operation touches exactly one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KvInput {
    /// Reads a key; a missing key reads as "".
    Get { key: String },
    /// Replaces the value of a key.
    Put { key: String, value: String },
    /// Appends to the value of a key; on a missing key it acts as `Put`.
    Append { key: String, value: String },
    /// Sets the key to `new` iff its current value ("" when missing) equals `expected`.
    Cas {
        key: String,
        expected: String,
        new: String,
    },
}

impl KvInput {
    pub fn key(&self) -> &str {
        match self {
            KvInput::Get { key }
            | KvInput::Put { key, .. }
            | KvInput::Append { key, .. }
            | KvInput::Cas { key, .. } => key,
        }
    }
}

/// The result of a KV operation that returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KvOutput {
    /// Result of `Get`: the value read.
    Value(String),
    /// Result of `Put` and `Append`.
    Written,
    /// Result of `Cas`: whether the swap happened. `false` is an observation (the value differed),
    /// unlike a failed operation, which tells nothing.
    Cas(bool),
}

/// The KV model. Its state is the value of the partition's single key (partitions are per key).
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

impl Model for KvModel {
    type Input = KvInput;
    type Output = KvOutput;
    /// Shared, so that the many steps that keep the value (reads) only bump a counter.
    type State = Arc<str>;

    fn init(&self) -> Arc<str> {
        Arc::from("")
    }

    fn step(
        &self,
        state: &Arc<str>,
        input: &KvInput,
        output: Option<&KvOutput>,
    ) -> Option<Arc<str>> {
        let current: &str = state;
        match (input, output) {
            (KvInput::Get { .. }, None) => Some(state.clone()),
            (KvInput::Get { .. }, Some(KvOutput::Value(value))) => {
                (value == current).then(|| state.clone())
            }
            (KvInput::Put { value, .. }, None | Some(KvOutput::Written)) => {
                Some(Arc::from(value.as_str()))
            }
            (KvInput::Append { value, .. }, None | Some(KvOutput::Written)) => {
                let mut next = String::with_capacity(current.len() + value.len());
                next.push_str(current);
                next.push_str(value);
                Some(Arc::from(next))
            }
            (KvInput::Cas { expected, new, .. }, None) => Some(if current == expected {
                Arc::from(new.as_str())
            } else {
                state.clone()
            }),
            (KvInput::Cas { expected, new, .. }, Some(KvOutput::Cas(true))) => {
                (current == expected).then(|| Arc::from(new.as_str()))
            }
            (KvInput::Cas { expected, .. }, Some(KvOutput::Cas(false))) => {
                (current != expected).then(|| state.clone())
            }
            _ => None,
        }
    }

    fn partition(&self, operations: &[Operation<KvInput, KvOutput>]) -> Vec<Partition> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, operation) in operations.iter().enumerate() {
            by_key.entry(operation.input.key()).or_default().push(index);
        }
        by_key
            .into_iter()
            .map(|(key, operations)| Partition {
                label: format!("key {}", quote(key)),
                operations,
            })
            .collect()
    }

    fn is_read_only(&self, input: &KvInput) -> bool {
        matches!(input, KvInput::Get { .. })
    }

    // A failed swap saw a value other than the one it expected and changed nothing; a swap or
    // an append that sets the value it found, or appends nothing, keeps it too.
    fn keeps_state(&self, input: &KvInput, output: &KvOutput) -> bool {
        match (input, output) {
            (KvInput::Get { .. }, _) | (KvInput::Cas { .. }, KvOutput::Cas(false)) => true,
            (KvInput::Cas { expected, new, .. }, KvOutput::Cas(true)) => expected == new,
            (KvInput::Append { value, .. }, _) => value.is_empty(),
            _ => false,
        }
    }

    // A value only grows by appends, so a state that is not a prefix of the value a read needs
    // stays so until a put or a swap sets the key to a prefix of that value.
    fn pinned_value<'a>(&self, input: &'a KvInput, output: &'a KvOutput) -> Option<Cow<'a, [u8]>> {
        pinned_value(input, output).map(|value| Cow::Borrowed(value.as_bytes()))
    }

    fn sets<'a>(&self, input: &'a KvInput) -> Sets<'a> {
        match input {
            KvInput::Get { .. } | KvInput::Append { .. } => Sets::Nothing,
            KvInput::Put { value: set, .. } | KvInput::Cas { new: set, .. } => {
                Sets::Value(Cow::Borrowed(set.as_bytes()))
            }
        }
    }

    fn can_reach(&self, state: &Arc<str>, value: &[u8]) -> bool {
        value.starts_with(state.as_bytes())
    }

    // The initial value is the empty one: a swap from it (create-if-absent) changes nothing on
    // a non-empty value, and only a put or swap to the empty value makes the value empty again.
    fn only_from_initial(&self, input: &KvInput) -> bool {
        matches!(input, KvInput::Cas { expected, .. } if expected.is_empty())
    }

    fn restores_initial(&self, input: &KvInput) -> bool {
        match input {
            KvInput::Get { .. } | KvInput::Append { .. } => false,
            KvInput::Put { value: set, .. } | KvInput::Cas { new: set, .. } => set.is_empty(),
        }
    }

    // A state made by an append or a put is a new allocation; one kept by a read shares it.
    fn state_heap_bytes(&self, state: &Arc<str>) -> usize {
        if Arc::strong_count(state) == 1 {
            state.len() + 2 * std::mem::size_of::<usize>()
        } else {
            0
        }
    }

    fn state_merge(
        &self,
        operations: &[(&KvInput, Option<&KvOutput>)],
    ) -> Option<Box<dyn StateMerge<Arc<str>>>> {
        UnreadValues::new(operations).map(|merge| Box::new(merge) as Box<dyn StateMerge<_>>)
    }

    fn validate(&self, input: &KvInput, output: &KvOutput) -> Result<(), String> {
        let fits = matches!(
            (input, output),
            (KvInput::Get { .. }, KvOutput::Value(_))
                | (
                    KvInput::Put { .. } | KvInput::Append { .. },
                    KvOutput::Written
                )
                | (KvInput::Cas { .. }, KvOutput::Cas(_))
        );
        if fits {
            Ok(())
        } else {
            Err(format!(
                "{} cannot return {}",
                self.describe_input(input),
                self.describe_output(output)
            ))
        }
    }

    fn describe_input(&self, input: &KvInput) -> String {
        match input {
            KvInput::Get { key } => format!("get({})", quote(key)),
            KvInput::Put { key, value } => format!("put({}, {})", quote(key), quote(value)),
            KvInput::Append { key, value } => format!("append({}, {})", quote(key), quote(value)),
            KvInput::Cas { key, expected, new } => {
                format!("cas({}, {}, {})", quote(key), quote(expected), quote(new))
            }
        }
    }

    fn describe_output(&self, output: &KvOutput) -> String {
        match output {
            KvOutput::Value(value) => quote(value),
            KvOutput::Written => "ok".to_owned(),
            KvOutput::Cas(swapped) => swapped.to_string(),
        }
    }

    fn describe_state(&self, state: &Arc<str>) -> String {
        quote(state)
    }
}

/// Work allowed to find the unread values of a partition: bytes of compared values times the
/// number of distinct lengths of written values. Past it no states are merged.
const UNREAD_WORK_MAX: usize = 1 << 27;

/// Merges every value that contains an *unread* value into one.
///
/// A value is unread when it is a non-empty value some operation writes (put, append, or a
/// swap's new value) and it is no substring of anything a value is compared with: the output of
/// a read, the expected value of a swap (returned or not). A state `s` that contains an unread
/// value `u` is *tainted*, and all tainted states behave alike under every operation of the
/// partition: a read returns a value without `u`, so it cannot return `s`; a swap expects a
/// value without `u`, so it never swaps on `s` and a failed swap always may; an append keeps `u`
/// in the value; a put forgets `s`. So every operation is possible on one tainted state iff it
/// is on any other, and it leads to tainted states, or to the same value, from both: "tainted or
/// equal" is a bisimulation (the contract of `StateMerge`), and any tainted state may stand for
/// the others. The pruning hooks stay correct too: a tainted state is a state of the model, no
/// prefix of any read or swap's pinned value, and never the empty initial value.
///
/// Unread values are found with a substring test, not by trusting that values are unique: a
/// value that occurs inside any read or expected value, even by coincidence, is not unread.
///
/// Why it matters: a write that timed out and was never read (indefinite) can be linearized
/// anywhere after its call, and each place leaves a different value until a put overwrites it.
/// Without merging, the search tries those values in every combination with the other unread
/// writes; with it, they are one state, and the rule that an optional operation which changes
/// nothing is not linearized skips every unread append made on a tainted state.
struct UnreadValues {
    values: IndexSet<Box<[u8]>, FxBuildHasher>,
    /// The smallest unread value: the state that stands for every tainted one.
    representative: Arc<str>,
}

impl UnreadValues {
    /// `None` (no merging) when no write of the partition is indefinite: the writes whose place
    /// the search is free to choose are what multiply the states, and finding the unread values
    /// costs a substring scan of every read (it made a sequential 1,000,000-operation history's
    /// check 1.8 times slower, for nothing).
    fn new(operations: &[(&KvInput, Option<&KvOutput>)]) -> Option<UnreadValues> {
        let indefinite_write = operations
            .iter()
            .any(|(input, output)| output.is_none() && !matches!(input, KvInput::Get { .. }));
        if !indefinite_write {
            return None;
        }
        let mut written: Vec<&str> = Vec::new();
        let mut compared: Vec<&str> = Vec::new();
        for (input, output) in operations {
            match (input, output) {
                (KvInput::Get { .. }, Some(KvOutput::Value(value))) => compared.push(value),
                (KvInput::Get { .. }, _) => {}
                (KvInput::Put { value, .. } | KvInput::Append { value, .. }, _) => {
                    written.push(value);
                }
                (KvInput::Cas { expected, new, .. }, _) => {
                    compared.push(expected);
                    written.push(new);
                }
            }
        }
        written.retain(|value| !value.is_empty());
        written.sort_unstable();
        written.dedup();
        compared.sort_unstable();
        compared.dedup();
        let mut lengths: Vec<usize> = written.iter().map(|value| value.len()).collect();
        lengths.sort_unstable();
        lengths.dedup();
        let mut first_bytes = [false; 256];
        for value in &written {
            first_bytes[usize::from(value.as_bytes()[0])] = true;
        }
        // A value that is a prefix of another (reads of a value that appends keep growing) has
        // no substring the longer one lacks; in byte order, the next value starts with it if any
        // value does.
        let widest: Vec<&str> = compared
            .iter()
            .zip(compared.iter().skip(1).map(Some).chain([None]))
            .filter(|(value, next)| !next.is_some_and(|next| next.starts_with(*value)))
            .map(|(value, _)| *value)
            .collect();
        let compared_bytes: usize = widest.iter().map(|value| value.len()).sum();
        if compared_bytes.saturating_mul(lengths.len()) > UNREAD_WORK_MAX {
            return None;
        }
        let mut values: IndexSet<Box<[u8]>, FxBuildHasher> = written
            .iter()
            .map(|value| Box::from(value.as_bytes()))
            .collect();
        for value in &widest {
            let bytes = value.as_bytes();
            for start in 0..bytes.len() {
                if !first_bytes[usize::from(bytes[start])] {
                    continue;
                }
                for &length in lengths
                    .iter()
                    .take_while(|&&length| start + length <= bytes.len())
                {
                    values.swap_remove(&bytes[start..start + length]);
                }
            }
        }
        let representative = written
            .iter()
            .find(|value| values.contains(value.as_bytes()))
            .map(|value| Arc::from(*value))?;
        Some(UnreadValues {
            values,
            representative,
        })
    }
}

impl StateMerge<Arc<str>> for UnreadValues {
    // Finds the unread values an operation brings in whole (an append's value, a put's or a
    // swap's new value) and the representative extended by appends: the tainted states a
    // search meets. A tainted state not found stays as it is, which is also allowed.
    fn canonical(&self, before: &Arc<str>, after: Arc<str>) -> Arc<str> {
        if Arc::ptr_eq(before, &after) {
            return after;
        }
        let bytes = after.as_bytes();
        let tainted = bytes.starts_with(self.representative.as_bytes())
            || match bytes.strip_prefix(before.as_bytes()) {
                Some(appended) => self.values.contains(appended),
                None => self.values.contains(bytes),
            };
        if tainted {
            self.representative.clone()
        } else {
            after
        }
    }

    fn heap_bytes(&self) -> usize {
        let values: usize = self
            .values
            .iter()
            .map(|value| value.len() + 3 * std::mem::size_of::<usize>())
            .sum();
        values + self.representative.len()
    }
}

/// The value a state must hold for `input` to return `output`, if there is exactly one.
fn pinned_value<'a>(input: &'a KvInput, output: &'a KvOutput) -> Option<&'a str> {
    match (input, output) {
        (KvInput::Get { .. }, KvOutput::Value(value)) => Some(value),
        (KvInput::Cas { expected, .. }, KvOutput::Cas(true)) => Some(expected),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(key: &str) -> KvInput {
        KvInput::Get {
            key: key.to_owned(),
        }
    }

    fn value(text: &str) -> Arc<str> {
        Arc::from(text)
    }

    #[test]
    fn semantics_of_each_operation() {
        let model = KvModel;
        let empty = model.init();
        let read = |state: &Arc<str>, text: &str| {
            model.step(state, &get("k"), Some(&KvOutput::Value(text.into())))
        };
        assert_eq!(read(&empty, ""), Some(value("")));
        assert_eq!(read(&empty, "x"), None);
        assert_eq!(
            model.step(&empty, &get("k"), Some(&KvOutput::Written)),
            None
        );
        let append = KvInput::Append {
            key: "k".into(),
            value: "ab".into(),
        };
        assert_eq!(
            model.step(&empty, &append, Some(&KvOutput::Written)),
            Some(value("ab"))
        );
        assert_eq!(model.step(&value("x"), &append, None), Some(value("xab")));
        let cas = KvInput::Cas {
            key: "k".into(),
            expected: "x".into(),
            new: "y".into(),
        };
        assert_eq!(
            model.step(&value("x"), &cas, Some(&KvOutput::Cas(true))),
            Some(value("y"))
        );
        assert_eq!(
            model.step(&value("z"), &cas, Some(&KvOutput::Cas(true))),
            None
        );
        assert_eq!(
            model.step(&value("z"), &cas, Some(&KvOutput::Cas(false))),
            Some(value("z"))
        );
        assert_eq!(
            model.step(&value("x"), &cas, Some(&KvOutput::Cas(false))),
            None
        );
        assert_eq!(model.step(&value("z"), &cas, None), Some(value("z")));
        assert_eq!(model.step(&value("x"), &cas, None), Some(value("y")));
    }

    #[test]
    fn pruning_hooks_follow_prefixes() {
        let model = KvModel;
        let read = get("k");
        let seen = KvOutput::Value("p1a2;".into());
        assert_eq!(
            model.pinned_value(&read, &seen),
            Some(Cow::Borrowed("p1a2;".as_bytes()))
        );
        assert_eq!(model.pinned_value(&read, &KvOutput::Written), None);
        // Appends only grow the value: a state that is not a prefix of it stays off the path.
        assert!(model.can_reach(&value(""), b"p1a2;"));
        assert!(model.can_reach(&value("p1"), b"p1a2;"));
        assert!(!model.can_reach(&value("p1a3;"), b"p1a2;"));
        let put = KvInput::Put {
            key: "k".into(),
            value: "p1".into(),
        };
        assert_eq!(model.sets(&put), Sets::Value(Cow::Borrowed(b"p1")));
        let append = KvInput::Append {
            key: "k".into(),
            value: "p1".into(),
        };
        assert_eq!(model.sets(&append), Sets::Nothing);
        assert_eq!(model.sets(&read), Sets::Nothing);
        let cas = KvInput::Cas {
            key: "k".into(),
            expected: "x".into(),
            new: "p1a".into(),
        };
        assert_eq!(model.sets(&cas), Sets::Value(Cow::Borrowed(b"p1a")));
        // A successful swap needs its expected value.
        assert_eq!(
            model.pinned_value(&cas, &KvOutput::Cas(true)),
            Some(Cow::Borrowed("x".as_bytes()))
        );
        assert_eq!(model.pinned_value(&cas, &KvOutput::Cas(false)), None);
    }

    #[test]
    fn only_a_new_value_counts_towards_memory() {
        let model = KvModel;
        let state = value("abc");
        assert!(model.state_heap_bytes(&state) >= 3);
        let shared = state.clone();
        assert_eq!(model.state_heap_bytes(&shared), 0);
    }

    fn unread_values(operations: &[(KvInput, Option<KvOutput>)]) -> Option<UnreadValues> {
        let pairs: Vec<(&KvInput, Option<&KvOutput>)> = operations
            .iter()
            .map(|(input, output)| (input, output.as_ref()))
            .collect();
        UnreadValues::new(&pairs)
    }

    fn put(text: &str) -> KvInput {
        KvInput::Put {
            key: "k".into(),
            value: text.into(),
        }
    }

    fn append(text: &str) -> KvInput {
        KvInput::Append {
            key: "k".into(),
            value: text.into(),
        }
    }

    fn read(text: &str) -> (KvInput, Option<KvOutput>) {
        (get("k"), Some(KvOutput::Value(text.into())))
    }

    #[test]
    fn unread_means_no_substring_of_any_read_or_expected_value() {
        let swap = KvInput::Cas {
            key: "k".into(),
            expected: "xnx".into(),
            new: "n".into(),
        };
        let operations = vec![
            (put("p1"), Some(KvOutput::Written)),
            (append("a2;"), None),
            (append("zz"), None),
            (append(""), None),
            (swap, Some(KvOutput::Cas(false))),
            // Read only inside a longer value, and only once: still read.
            read("p1a2;"),
        ];
        let unread = unread_values(&operations).expect("zz is unread");
        let values: Vec<&[u8]> = unread.values.iter().map(|value| &value[..]).collect();
        assert_eq!(values, vec![b"zz".as_slice()]);
        assert_eq!(&*unread.representative, "zz");
        // Every written value read somewhere: nothing to merge.
        let operations = vec![(put("p1"), None), (append("zz"), None), read("p1zz")];
        assert!(unread_values(&operations).is_none());
        // "zz" is unread, but every write returned: not worth the scan.
        let operations = vec![
            (put("p1"), Some(KvOutput::Written)),
            (append("zz"), Some(KvOutput::Written)),
            read("p1"),
        ];
        assert!(unread_values(&operations).is_none());
    }

    #[test]
    fn states_with_an_unread_value_merge_into_the_representative() {
        let operations = vec![
            (put("p1"), None),
            (put("q"), None),
            (append("a2;"), None),
            (append("zz"), None),
            read("p1a2;"),
            read("q"),
        ];
        let unread = unread_values(&operations).expect("zz is unread");
        let merge: &dyn StateMerge<Arc<str>> = &unread;
        let representative = value("zz");
        // An unread append, an unread put, anything appended to the representative.
        assert_eq!(merge.canonical(&value("p1"), value("p1zz")), representative);
        assert_eq!(
            merge.canonical(&value("p1a2;"), value("zz")),
            representative
        );
        assert_eq!(
            merge.canonical(&representative, value("zza2;")),
            representative
        );
        // Read values stay apart, including a put after a tainted state.
        assert_eq!(
            merge.canonical(&value("p1"), value("p1a2;")),
            value("p1a2;")
        );
        assert_eq!(merge.canonical(&representative, value("q")), value("q"));
        // A state kept as it was (a read) is returned as it is.
        let kept = value("p1");
        assert!(Arc::ptr_eq(&merge.canonical(&kept, kept.clone()), &kept));
    }

    #[test]
    fn partitions_by_key_in_key_order() {
        let operations = vec![
            Operation::returned(1, get("b"), KvOutput::Value(String::new()), 0, 1),
            Operation::returned(1, get("a"), KvOutput::Value(String::new()), 2, 3),
            Operation::indefinite(2, get("b"), 0),
        ];
        let partitions = KvModel.partition(&operations);
        assert_eq!(partitions.len(), 2);
        assert_eq!(partitions[0].label, "key \"a\"");
        assert_eq!(partitions[0].operations, vec![1]);
        assert_eq!(partitions[1].operations, vec![0, 2]);
    }
}
