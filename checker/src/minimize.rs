//! Delta debugging (ddmin) of an illegal partition down to a small witness.
//!
//! Deleting an arbitrary operation is unsound for a witness: drop the write a read observed and
//! the read alone becomes "illegal" for the wrong reason. So an operation left out of a candidate
//! is weakened instead: a read is deleted (it changes nothing), a write becomes optional (it may
//! or may not have happened, but if it did then inside its interval). Both only make the history easier to
//! linearize, so a candidate that stays illegal proves the original illegal, and the kept
//! operations on their own are illegal too.

use crate::check::Options;
use crate::model::Model;
use crate::model::SearchOperation;
use crate::search::{SearchBudget, SearchVerdict, search};

struct Minimizer<'m, 'a, M: Model> {
    model: &'m M,
    operations: &'m [SearchOperation<'a, M>],
    budget: SearchBudget,
    steps_left: u64,
    /// Set when a candidate ran out of steps: its answer is unknown, so ddmin's result may not
    /// be minimal (it is still illegal: only candidates shown illegal are ever kept).
    exhausted: bool,
}

impl<M: Model> Minimizer<'_, '_, M> {
    /// Whether the history with only `kept` definite operations left as they are is illegal.
    /// Running out of steps counts as "not shown illegal".
    fn is_illegal(&mut self, kept: &[usize]) -> bool {
        if self.steps_left == 0 {
            self.exhausted = true;
            return false;
        }
        let mut is_kept = vec![false; self.operations.len()];
        for &index in kept {
            is_kept[index] = true;
        }
        let candidate: Vec<SearchOperation<'_, M>> = self
            .operations
            .iter()
            .enumerate()
            .filter(|(index, operation)| {
                is_kept[*index] || !self.model.is_read_only(operation.input)
            })
            .map(|(index, operation)| {
                let weakened = !is_kept[index];
                SearchOperation {
                    input: operation.input,
                    output: if weakened { None } else { operation.output },
                    call: operation.call,
                    return_time: operation.return_time,
                    optional: operation.optional || weakened,
                }
            })
            .collect();
        let budget = SearchBudget {
            steps_max: self.budget.steps_max.min(self.steps_left),
            ..self.budget
        };
        let outcome = search(self.model, &candidate, budget);
        self.steps_left -= outcome.steps.min(self.steps_left);
        match outcome.verdict {
            SearchVerdict::Illegal => true,
            SearchVerdict::Linearizable { .. } => false,
            SearchVerdict::OverBudget { .. } => {
                self.exhausted = true;
                false
            }
        }
    }
}

/// Returns the local indices of a small illegal set of definite operations, in history order,
/// and whether ddmin finished (1-minimal) within the budget.
pub(crate) fn minimize<M: Model>(
    model: &M,
    operations: &[SearchOperation<'_, M>],
    options: &Options,
    memory_bytes_max: usize,
) -> (Vec<usize>, bool) {
    let mut minimizer = Minimizer {
        model,
        operations,
        budget: SearchBudget {
            steps_max: options.minimize_candidate_steps_max,
            memory_bytes_max,
        },
        steps_left: options.minimize_steps_max,
        exhausted: false,
    };
    let mut kept: Vec<usize> = (0..operations.len())
        .filter(|&index| !operations[index].optional)
        .collect();
    let mut granularity = 2usize;
    while kept.len() >= 2 {
        let chunks = split(&kept, granularity);
        let mut reduced = false;
        // Try each chunk alone, then each complement (Zeller's ddmin).
        for chunk in &chunks {
            if minimizer.is_illegal(chunk) {
                kept = chunk.clone();
                granularity = 2;
                reduced = true;
                break;
            }
        }
        if !reduced && chunks.len() > 2 {
            for skipped in 0..chunks.len() {
                let complement: Vec<usize> = chunks
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| *index != skipped)
                    .flat_map(|(_, chunk)| chunk.iter().copied())
                    .collect();
                if minimizer.is_illegal(&complement) {
                    kept = complement;
                    granularity = (granularity - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if minimizer.steps_left == 0 {
            return (kept, false);
        }
        if !reduced {
            if granularity >= kept.len() {
                break;
            }
            granularity = (granularity * 2).min(kept.len());
        }
    }
    (kept, !minimizer.exhausted)
}

/// Splits `items` into `count` contiguous chunks of nearly equal length.
fn split(items: &[usize], count: usize) -> Vec<Vec<usize>> {
    assert!(
        count >= 1 && count <= items.len(),
        "cannot split {} items into {count}",
        items.len()
    );
    let mut chunks = Vec::with_capacity(count);
    let mut start = 0;
    for chunk in 0..count {
        let end = (items.len() * (chunk + 1)) / count;
        chunks.push(items[start..end].to_vec());
        start = end;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_everything_once() {
        let items: Vec<usize> = (0..7).collect();
        let chunks = split(&items, 3);
        assert_eq!(chunks, vec![vec![0, 1], vec![2, 3], vec![4, 5, 6]]);
    }
}
