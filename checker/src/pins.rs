//! Pruning by pinned operations (`Model::pinned_value`), set up in O(n log n).
//!
//! A pinned operation `P` (a read of `v`, a successful swap from `v`) can only run in a state
//! that holds its pinned value `v`. The operations that may bring the state back on a path to
//! `v` are those that set a prefix of `v` (`Model::sets`), and only those called before `P`
//! returned count. Once all of them are linearized and the current state cannot reach `v`
//! (`Model::can_reach`), `P` is *stranded*: it can never be linearized from here, and the search
//! backtracks at once instead of at `P`'s return, which may be far ahead.
//!
//! Set-up: writers are grouped into classes by the value they set, each class in call order.
//! For each distinct pinned value, the classes it matches are found by looking up its prefixes
//! of the lengths that class values have; for each pinned operation and matched class, binary
//! search gives `k`, the number of the class's members called before the operation returned.
//! During the search each class keeps its first unlinearized member; when that moves past `k`,
//! the class no longer enables the operation. Stranded operations are grouped by pinned value;
//! since the values a state can reach form one range in byte order (the contract of
//! `Model::can_reach`), checking the smallest and the largest stranded value is enough.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::mem::size_of;

use crate::history::precedes;
use crate::memo::LinearizedSet;
use crate::model::{Model, SearchOperation, Sets};

const NONE: u32 = u32::MAX;

pub(crate) struct Pins<'a> {
    /// Per operation: the id of its pinned value (ids follow byte order), or `NONE`.
    value_of: Vec<u32>,
    /// The distinct pinned values, in byte order.
    values: Vec<Cow<'a, [u8]>>,
    /// Per operation: its class, or `NONE` when it enables no pinned operation.
    class_of: Vec<u32>,
    /// Per operation in a class: its place in the class's call order.
    place: Vec<u32>,
    /// Per class: its members (operation indices) in call order.
    members: Vec<Vec<u32>>,
    /// Per class: the place of its first unlinearized member.
    first_open: Vec<u32>,
    /// Per class: (k, pinned operation), sorted: the class enables the operation while one of its
    /// first k members is unlinearized.
    watchers: Vec<Vec<(u32, u32)>>,
    /// Per pinned operation: classes that still have an unlinearized member enabling it.
    open_classes: Vec<u32>,
    /// Per pinned value: its stranded operations, and each one's position there.
    stranded: Vec<Vec<u32>>,
    position: Vec<u32>,
    /// Pinned values with at least one stranded operation.
    stranded_values: BTreeSet<u32>,
    /// No operation can bring the state back to the initial one once it has left it, so the
    /// operations that change the state only from the initial one (`Model::only_from_initial`)
    /// are left out of the classes, and nothing is pruned in the initial state.
    initial_is_final: bool,
}

/// Writer classes: the distinct values set, in byte order, then one class for the operations
/// that may set anything.
struct Classes<'a> {
    values: Vec<Cow<'a, [u8]>>,
    members: Vec<Vec<u32>>,
    anything: Option<u32>,
}

fn classes<'a, M: Model>(
    model: &M,
    operations: &[SearchOperation<'a, M>],
    initial_is_final: bool,
) -> Classes<'a> {
    let mut valued: Vec<(Cow<'a, [u8]>, u64, u32)> = Vec::new();
    let mut anything: Vec<u32> = Vec::new();
    for (index, operation) in operations.iter().enumerate() {
        if initial_is_final && model.only_from_initial(operation.input) {
            // Enables nothing once the state has left the initial one: `dead_end` does not
            // prune in the initial state.
            continue;
        }
        match model.sets(operation.input) {
            Sets::Nothing => {}
            Sets::Value(value) => valued.push((value, operation.call, index as u32)),
            Sets::Anything => anything.push(index as u32),
        }
    }
    valued.sort_unstable();
    let mut classes = Classes {
        values: Vec::new(),
        members: Vec::new(),
        anything: None,
    };
    for (value, _, index) in valued {
        if classes.values.last() != Some(&value) {
            classes.values.push(value);
            classes.members.push(Vec::new());
        }
        classes.members.last_mut().expect("a class").push(index);
    }
    if !anything.is_empty() {
        anything.sort_by_key(|&index| (operations[index as usize].call, index));
        classes.anything = Some(classes.members.len() as u32);
        classes.members.push(anything);
    }
    classes
}

/// The classes whose value is a prefix of `value` (and the class of any value).
fn matching(classes: &Classes<'_>, lengths: &[usize], value: &[u8]) -> Vec<u32> {
    let mut matched: Vec<u32> = lengths
        .iter()
        .take_while(|&&length| length <= value.len())
        .filter_map(|&length| {
            let prefix = &value[..length];
            classes
                .values
                .binary_search_by(|class| class.as_ref().cmp(prefix))
                .ok()
                .map(|class| class as u32)
        })
        .collect();
    matched.extend(classes.anything);
    matched
}

impl<'a> Pins<'a> {
    pub(crate) fn new<M: Model>(model: &M, operations: &[SearchOperation<'a, M>]) -> Pins<'a> {
        let count = operations.len();
        assert!(u32::try_from(count).is_ok(), "{count} operations");
        let mut pinned: Vec<(Cow<'a, [u8]>, u32)> = operations
            .iter()
            .enumerate()
            .filter_map(|(index, operation)| {
                let output = operation.output?;
                Some((model.pinned_value(operation.input, output)?, index as u32))
            })
            .collect();
        let mut pins = Pins {
            value_of: vec![NONE; count],
            values: Vec::new(),
            class_of: Vec::new(),
            place: Vec::new(),
            members: Vec::new(),
            first_open: Vec::new(),
            watchers: Vec::new(),
            open_classes: Vec::new(),
            stranded: Vec::new(),
            position: Vec::new(),
            stranded_values: BTreeSet::new(),
            initial_is_final: !operations
                .iter()
                .any(|operation| model.restores_initial(operation.input)),
        };
        if pinned.is_empty() {
            return pins;
        }
        pinned.sort_unstable();
        for (value, index) in pinned {
            if pins.values.last() != Some(&value) {
                pins.values.push(value);
            }
            pins.value_of[index as usize] = pins.values.len() as u32 - 1;
        }
        pins.index_classes(model, operations);
        pins.stranded = vec![Vec::new(); pins.values.len()];
        pins.position = vec![NONE; count];
        for index in 0..count {
            if pins.value_of[index] != NONE && pins.open_classes[index] == 0 {
                pins.insert_stranded(index as u32);
            }
        }
        pins
    }

    fn index_classes<M: Model>(&mut self, model: &M, operations: &[SearchOperation<'a, M>]) {
        let count = operations.len();
        let classes = classes(model, operations, self.initial_is_final);
        let mut lengths: Vec<usize> = classes.values.iter().map(|value| value.len()).collect();
        lengths.sort_unstable();
        lengths.dedup();
        let matches: Vec<Vec<u32>> = self
            .values
            .iter()
            .map(|value| matching(&classes, &lengths, value))
            .collect();
        self.class_of = vec![NONE; count];
        self.place = vec![NONE; count];
        for (class, members) in classes.members.iter().enumerate() {
            for (place, &member) in members.iter().enumerate() {
                self.class_of[member as usize] = class as u32;
                self.place[member as usize] = place as u32;
            }
        }
        self.watchers = vec![Vec::new(); classes.members.len()];
        self.open_classes = vec![0; count];
        for (index, operation) in operations.iter().enumerate() {
            let value = self.value_of[index];
            if value == NONE {
                continue;
            }
            for &class in &matches[value as usize] {
                // Members called after the pinned operation returned come after it.
                let enablers = classes.members[class as usize].partition_point(|&member| {
                    !precedes(
                        operation.call,
                        operation.return_time,
                        operations[member as usize].call,
                    )
                });
                if enablers > 0 {
                    self.watchers[class as usize].push((enablers as u32, index as u32));
                    self.open_classes[index] += 1;
                }
            }
        }
        for watchers in &mut self.watchers {
            watchers.sort_unstable();
        }
        self.first_open = vec![0; classes.members.len()];
        self.members = classes.members;
    }

    /// Bytes held, for the memory budget.
    pub(crate) fn bytes(&self) -> usize {
        let nested = |lists: &[Vec<u32>]| -> usize {
            lists
                .iter()
                .map(|list| list.capacity() * size_of::<u32>() + size_of::<Vec<u32>>())
                .sum()
        };
        let watchers: usize = self
            .watchers
            .iter()
            .map(|list| list.capacity() * size_of::<(u32, u32)>() + size_of::<Vec<u32>>())
            .sum();
        let values: usize = self
            .values
            .iter()
            .map(|value| value.len() + size_of::<Cow<'_, [u8]>>())
            .sum();
        (self.value_of.len()
            + self.class_of.len()
            + self.place.len()
            + self.first_open.len()
            + self.open_classes.len()
            + self.position.len())
            * size_of::<u32>()
            + nested(&self.members)
            + nested(&self.stranded)
            + watchers
            + values
            + self.stranded_values.len() * 2 * size_of::<u32>()
    }

    fn insert_stranded(&mut self, operation: u32) {
        let value = self.value_of[operation as usize] as usize;
        let list = &mut self.stranded[value];
        if list.is_empty() {
            self.stranded_values.insert(value as u32);
        }
        self.position[operation as usize] = list.len() as u32;
        list.push(operation);
    }

    fn remove_stranded(&mut self, operation: u32) {
        let value = self.value_of[operation as usize] as usize;
        let position = self.position[operation as usize];
        assert_ne!(position, NONE, "operation {operation} is not stranded");
        self.position[operation as usize] = NONE;
        let list = &mut self.stranded[value];
        let last = list.pop().expect("a stranded operation to remove");
        if last != operation {
            list[position as usize] = last;
            self.position[last as usize] = position;
        }
        if list.is_empty() {
            self.stranded_values.remove(&(value as u32));
        }
    }

    /// `operation` was just added to `linearized`.
    pub(crate) fn take(&mut self, operation: usize, linearized: &LinearizedSet) {
        if self.value_of[operation] != NONE && self.open_classes[operation] == 0 {
            self.remove_stranded(operation as u32);
        }
        let Some(&class) = self.class_of.get(operation).filter(|&&class| class != NONE) else {
            return;
        };
        let class = class as usize;
        if self.place[operation] != self.first_open[class] {
            return;
        }
        let old = self.first_open[class];
        let members = &self.members[class];
        let mut new = old + 1;
        while (new as usize) < members.len() && linearized.contains(members[new as usize] as usize)
        {
            new += 1;
        }
        self.first_open[class] = new;
        let (start, end) = self.range(class, old, new);
        for at in start..end {
            let pinned = self.watchers[class][at].1;
            self.open_classes[pinned as usize] -= 1;
            if self.open_classes[pinned as usize] == 0 && !linearized.contains(pinned as usize) {
                self.insert_stranded(pinned);
            }
        }
    }

    /// Undoes `take`, before `operation` leaves `linearized`; `restore` follows once it has.
    pub(crate) fn give_back(&mut self, operation: usize, linearized: &LinearizedSet) {
        let Some(&class) = self.class_of.get(operation).filter(|&&class| class != NONE) else {
            return;
        };
        let class = class as usize;
        let old = self.place[operation];
        let new = self.first_open[class];
        // `take` moved the first open member past this one only if it was the first open one.
        if new <= old {
            return;
        }
        let (start, end) = self.range(class, old, new);
        for at in (start..end).rev() {
            let pinned = self.watchers[class][at].1;
            if self.open_classes[pinned as usize] == 0 && !linearized.contains(pinned as usize) {
                self.remove_stranded(pinned);
            }
            self.open_classes[pinned as usize] += 1;
        }
        self.first_open[class] = old;
    }

    /// Ends the undoing of `take`: `operation` is no longer linearized.
    pub(crate) fn restore(&mut self, operation: usize) {
        if self.value_of[operation] != NONE && self.open_classes[operation] == 0 {
            self.insert_stranded(operation as u32);
        }
    }

    /// The watchers of `class` with `old < k <= new`.
    fn range(&self, class: usize, old: u32, new: u32) -> (usize, usize) {
        let watchers = &self.watchers[class];
        (
            watchers.partition_point(|&(k, _)| k <= old),
            watchers.partition_point(|&(k, _)| k <= new),
        )
    }

    /// A stranded operation that `state` cannot lead to, if any. `initial`: `state` is the
    /// model's initial state.
    pub(crate) fn dead_end<M: Model>(
        &self,
        model: &M,
        state: &M::State,
        initial: bool,
    ) -> Option<usize> {
        if initial && self.initial_is_final {
            return None;
        }
        let smallest = *self.stranded_values.first()?;
        let largest = *self.stranded_values.last()?;
        [smallest, largest]
            .into_iter()
            .find(|&value| !model.can_reach(state, &self.values[value as usize]))
            .map(|value| self.stranded[value as usize][0] as usize)
    }
}
