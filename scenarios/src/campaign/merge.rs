//! Merging the outputs of a sharded campaign: the shards' result lines joined in seed order,
//! and a check that they add up to the campaign each shard was asked to be part of. A merge
//! that is short of a seed, holds an interrupted or unfinished shard, mixes two campaigns, or
//! holds no seed at all says so, and its gate fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::output::{CampaignRequest, Summary, read_results, read_summary};
use super::{CampaignError, SeedPlan, SeedRange, SeedResult, Shard};

/// Missing seeds named one by one in a merge's complaint; the rest are counted.
const MISSING_SEEDS_NAMED_MAX: usize = 10;

/// One shard's output directory as found on disk.
pub struct ShardOutput {
    pub dir: PathBuf,
    /// `None` when the shard never wrote one: it did not finish.
    pub summary: Option<Summary>,
    pub results: Vec<SeedResult>,
}

/// Reads a shard's directory (or its `results.jsonl`, with `summary.json` beside it).
pub fn read_shard(path: &Path) -> Result<ShardOutput, CampaignError> {
    let (dir, results_path) = if path.is_dir() {
        (path.to_path_buf(), path.join("results.jsonl"))
    } else {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        (dir, path.to_path_buf())
    };
    // A shard directory without results never started: that is a gap in the campaign, not
    // bad input.
    let results = if path.is_dir() && !results_path.exists() {
        Vec::new()
    } else {
        read_results(&results_path)?
    };
    let summary_path = dir.join("summary.json");
    let summary = if summary_path.exists() {
        Some(read_summary(&summary_path)?)
    } else {
        None
    };
    Ok(ShardOutput {
        dir,
        summary,
        results,
    })
}

/// The merged campaign.
pub struct Merged {
    pub results: Vec<SeedResult>,
    /// The campaign the shards were part of, as one whole.
    pub request: Option<CampaignRequest>,
    /// Why the merge falls short of that campaign; empty when it covers it exactly.
    pub incomplete: Vec<String>,
}

/// Joins shards' results in seed order and checks them against their requests. A seed present
/// twice must have the same outcome (apart from wall time); it is kept once.
pub fn merge(shards: Vec<ShardOutput>) -> Result<Merged, CampaignError> {
    let mut incomplete = Vec::new();
    let mut requests: Vec<(PathBuf, CampaignRequest)> = Vec::new();
    for shard in &shards {
        let dir = shard.dir.display();
        match &shard.summary {
            None => incomplete.push(format!("{dir}: no summary.json (the shard did not finish)")),
            Some(summary) => {
                if summary.interrupted {
                    incomplete.push(format!("{dir}: interrupted after {} seeds", summary.seeds));
                }
                match &summary.request {
                    Some(request) => requests.push((shard.dir.clone(), request.clone())),
                    None => incomplete.push(format!("{dir}: its summary records no request")),
                }
            }
        }
    }
    let mut by_seed: BTreeMap<u64, SeedResult> = BTreeMap::new();
    for result in shards.into_iter().flat_map(|shard| shard.results) {
        match by_seed.get(&result.seed) {
            Some(kept) if kept.without_wall() != result.without_wall() => {
                return Err(CampaignError::Conflict(result.seed));
            }
            Some(_) => {}
            None => {
                by_seed.insert(result.seed, result);
            }
        }
    }
    let request = check_requests(&requests, &by_seed, &mut incomplete);
    if by_seed.is_empty() {
        incomplete.push("no seed ran".to_string());
    }
    Ok(Merged {
        results: by_seed.into_values().collect(),
        request,
        incomplete,
    })
}

/// The whole campaign the shards' requests belong to, noting in `incomplete` requests that do
/// not agree, shards that are missing, and seeds that did not run.
fn check_requests(
    requests: &[(PathBuf, CampaignRequest)],
    results: &BTreeMap<u64, SeedResult>,
    incomplete: &mut Vec<String>,
) -> Option<CampaignRequest> {
    let (first_dir, first) = requests.first()?;
    if let Some((dir, _)) = requests.iter().find(|(_, r)| !r.same_campaign(first)) {
        incomplete.push(format!(
            "{} and {} are shards of different campaigns",
            first_dir.display(),
            dir.display()
        ));
        return None;
    }
    let range: SeedRange = first.seeds.parse().ok()?;
    let mut counts = BTreeSet::new();
    let mut indices = BTreeSet::new();
    for (dir, request) in requests {
        let Ok(shard) = request.shard.parse::<Shard>() else {
            incomplete.push(format!(
                "{}: unreadable shard `{}`",
                dir.display(),
                request.shard
            ));
            continue;
        };
        counts.insert(shard.count);
        indices.insert(shard.index);
    }
    if counts.len() > 1 {
        incomplete.push(format!("shards split the seeds {} ways", counts.len()));
    }
    let count = counts.into_iter().next().unwrap_or(1);
    let missing_shards: Vec<String> = (0..count)
        .filter(|index| !indices.contains(index))
        .map(|index| format!("{index}/{count}"))
        .collect();
    if !missing_shards.is_empty() {
        incomplete.push(format!("shard {} missing", missing_shards.join(", ")));
    }
    let whole = SeedPlan {
        range,
        shard: Shard::WHOLE,
    };
    let missing: Vec<u64> = (0..whole.len())
        .map(|k| whole.nth(k))
        .filter(|seed| !results.contains_key(seed))
        .collect();
    if !missing.is_empty() {
        let named: Vec<String> = missing
            .iter()
            .take(MISSING_SEEDS_NAMED_MAX)
            .map(u64::to_string)
            .collect();
        let more = missing.len().saturating_sub(MISSING_SEEDS_NAMED_MAX);
        incomplete.push(format!(
            "{} of {} seeds missing: {}{}",
            missing.len(),
            whole.len(),
            named.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    let outside = results
        .keys()
        .filter(|&&seed| seed < range.start || seed >= range.end)
        .count();
    if outside > 0 {
        incomplete.push(format!("{outside} seeds lie outside --seeds {range}"));
    }
    Some(CampaignRequest {
        shard: Shard::WHOLE.to_string(),
        seed_count: whole.len(),
        ..first.clone()
    })
}
