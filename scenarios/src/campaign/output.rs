//! What a campaign writes: `results.jsonl` (streamed and flushed line by line), then
//! `summary.json` and `junit.xml`, all recording what the campaign was asked to run, so a merge
//! can tell a complete campaign from a partial one.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{CampaignError, SeedPlan, SeedResult, Verdict};
use crate::config::Property;
use crate::run::SeedShape;

/// The files a campaign writes into its output directory; a new campaign removes them first,
/// so a reused directory never mixes two campaigns' outputs.
pub const OUTPUT_FILES: [&str; 4] = ["results.jsonl", "summary.json", "junit.xml", "index.html"];
/// The directory of per-seed reports.
pub const REPORTS_DIR: &str = "reports";

/// What a campaign (or one shard of it) was asked to run, recorded in `summary.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRequest {
    /// `A..B`.
    pub seeds: String,
    /// `I/N`.
    pub shard: String,
    pub standard: bool,
    /// `sharded` for the sharded service; absent for the KV service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The Raft implementation; absent for ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    pub mutants: Vec<String>,
    pub duration_ms: Option<u64>,
    pub check_determinism: bool,
    /// How many seeds the request holds.
    pub seed_count: u64,
}

impl CampaignRequest {
    pub fn new(plan: &SeedPlan, shape: &SeedShape, check_determinism: bool) -> Self {
        CampaignRequest {
            seeds: plan.range.to_string(),
            shard: plan.shard.to_string(),
            standard: shape.shape == crate::config::swarm::Shape::Standard,
            service: (shape.service != crate::config::ServiceKind::Kv)
                .then(|| shape.service.to_string()),
            engine: (!shape.engine.is_ours()).then(|| shape.engine.to_string()),
            mutants: shape.mutants.iter().map(|m| m.name().to_string()).collect(),
            duration_ms: shape.duration_ns.map(|ns| ns / sim::NANOS_PER_MILLI),
            check_determinism,
            seed_count: plan.len(),
        }
    }

    /// The same campaign apart from the shard.
    pub fn same_campaign(&self, other: &CampaignRequest) -> bool {
        CampaignRequest {
            shard: String::new(),
            seed_count: 0,
            ..self.clone()
        } == CampaignRequest {
            shard: String::new(),
            seed_count: 0,
            ..other.clone()
        }
    }
}

/// One failing seed in the summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailingSeed {
    pub seed: u64,
    pub verdict: Verdict,
    pub property: Option<Property>,
    pub message: Option<String>,
    pub replay: String,
}

/// `summary.json`: the request and what its result lines add up to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// What was asked; `None` only in summaries written before requests were recorded.
    #[serde(default)]
    pub request: Option<CampaignRequest>,
    pub seeds: usize,
    pub first_seed: Option<u64>,
    pub last_seed: Option<u64>,
    pub passed: usize,
    pub failed: usize,
    pub unknown: usize,
    pub failures_by_kind: BTreeMap<Property, usize>,
    pub simulated_ns: u64,
    pub events: u64,
    pub messages: u64,
    /// Stopped (Ctrl-C, SIGTERM) before every seed ran.
    pub interrupted: bool,
    /// Why the results do not cover the request, if they do not (interrupted, seeds missing).
    #[serde(default)]
    pub incomplete: Vec<String>,
    pub failing: Vec<FailingSeed>,
    /// How many seeds reached each coverage mark, every mark listed (zero: none did).
    #[serde(default)]
    pub marks: BTreeMap<String, usize>,
    /// The campaign's wall time; for a merge, the sum of the seeds' wall times.
    pub wall_s: f64,
    pub wall_seeds_per_s: f64,
    /// Simulated time over wall time.
    pub wall_speedup: f64,
}

impl Summary {
    /// Summarises `results`; `wall_s` is the campaign's elapsed time when known; `incomplete`
    /// says why the results fall short of the request (empty when they cover it).
    pub fn new(
        results: &[SeedResult],
        request: Option<CampaignRequest>,
        wall_s: Option<f64>,
        interrupted: bool,
        incomplete: Vec<String>,
    ) -> Summary {
        let count = |verdict| results.iter().filter(|r| r.verdict == verdict).count();
        let mut failures_by_kind = BTreeMap::new();
        for result in results.iter().filter(|r| r.verdict != Verdict::Pass) {
            let kind = result.property.unwrap_or(Property::RunError);
            *failures_by_kind.entry(kind).or_insert(0) += 1;
        }
        let simulated_ns = results.iter().map(|r| r.simulated_ns).sum();
        let service = request
            .as_ref()
            .and_then(|r| r.service.as_deref()?.parse().ok())
            .unwrap_or_default();
        // Other engines count none of our Raft core's marks.
        let ours = request.as_ref().is_none_or(|r| r.engine.is_none());
        let mut marks: BTreeMap<String, usize> = crate::harness::marks::all_names(service, ours)
            .into_iter()
            .map(|name| (name.to_string(), 0))
            .collect();
        for name in results.iter().flat_map(|r| r.marks.keys()) {
            *marks.entry(name.clone()).or_insert(0) += 1;
        }
        let wall_s = wall_s.unwrap_or_else(|| results.iter().map(|r| r.wall_ms).sum::<f64>() / 1e3);
        let per_wall_s = |x: f64| if wall_s > 0.0 { x / wall_s } else { 0.0 };
        Summary {
            request,
            seeds: results.len(),
            first_seed: results.iter().map(|r| r.seed).min(),
            last_seed: results.iter().map(|r| r.seed).max(),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            unknown: count(Verdict::Unknown),
            failures_by_kind,
            simulated_ns,
            events: results.iter().map(|r| r.events).sum(),
            messages: results.iter().map(|r| r.messages).sum(),
            interrupted,
            incomplete,
            failing: results
                .iter()
                .filter(|r| r.verdict != Verdict::Pass)
                .map(|r| FailingSeed {
                    seed: r.seed,
                    verdict: r.verdict,
                    property: r.property,
                    message: r.message.clone(),
                    replay: r.replay.clone(),
                })
                .collect(),
            marks,
            wall_s: (wall_s * 1e3).round() / 1e3,
            wall_seeds_per_s: (per_wall_s(results.len() as f64) * 10.0).round() / 10.0,
            wall_speedup: per_wall_s(simulated_ns as f64 / 1e9).round(),
        }
    }

    /// The marks no seed reached.
    pub fn unreached_marks(&self) -> Vec<&str> {
        self.marks
            .iter()
            .filter(|&(_, &seeds)| seeds == 0)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Whether the CI gate passes: every requested seed ran, none failed, and no unknown
    /// unless allowed. Zero seeds never pass.
    pub fn gate_passes(&self, allow_unknown: bool) -> bool {
        self.seeds > 0
            && self.incomplete.is_empty()
            && self.failed == 0
            && (allow_unknown || self.unknown == 0)
    }
}

/// `junit.xml`: one test case per seed, a `<failure>` for each failing one, and an `<error>`
/// when the results do not cover what was asked.
pub fn junit_xml(results: &[SeedResult], summary: &Summary) -> String {
    let failures = results
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .count();
    let errors = usize::from(!summary.incomplete.is_empty());
    let tests = results.len() + errors;
    let wall_s: f64 = results.iter().map(|r| r.wall_ms).sum::<f64>() / 1e3;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml += &format!(
        "<testsuites name=\"raftsim\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" \
         time=\"{wall_s:.3}\">\n"
    );
    xml += &format!(
        "  <testsuite name=\"raftsim campaign\" tests=\"{tests}\" failures=\"{failures}\" \
         errors=\"{errors}\" skipped=\"0\" time=\"{wall_s:.3}\">\n"
    );
    if errors > 0 {
        let reason = summary.incomplete.join("; ");
        xml += &format!(
            "    <testcase classname=\"raftsim.campaign\" name=\"every requested seed ran\" \
             time=\"0\">\n      <error type=\"incomplete\" message=\"{}\">{}</error>\n    \
             </testcase>\n",
            xml_escape(&reason),
            xml_escape(&reason)
        );
    }
    for result in results {
        let name = format!("seed {}", result.seed);
        xml += &format!(
            "    <testcase classname=\"raftsim.campaign\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&name),
            result.wall_ms / 1e3
        );
        if result.verdict == Verdict::Pass {
            xml += "/>\n";
            continue;
        }
        let kind = result.property.map_or("failure", Property::name);
        let message = result.message.as_deref().unwrap_or("");
        xml += ">\n";
        xml += &format!(
            "      <failure type=\"{}\" message=\"{}\">{}\nreplay: {}</failure>\n",
            xml_escape(kind),
            xml_escape(message),
            xml_escape(message),
            xml_escape(&result.replay)
        );
        xml += "    </testcase>\n";
    }
    xml += "  </testsuite>\n</testsuites>\n";
    xml
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
pub fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped += "&amp;",
            '<' => escaped += "&lt;",
            '>' => escaped += "&gt;",
            '"' => escaped += "&quot;",
            '\'' => escaped += "&apos;",
            '\n' => escaped += "&#10;",
            '\t' | '\r' => escaped.push(' '),
            c if (c as u32) < 0x20 => escaped.push('?'),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Removes what an earlier campaign wrote into `dir` (only raftsim's own files), so a reused
/// directory holds one campaign's outputs.
pub fn clear_outputs(dir: &Path) -> Result<(), CampaignError> {
    let write_error = |path: PathBuf| move |error| CampaignError::Write { path, error };
    for name in OUTPUT_FILES {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(write_error(path)(error));
            }
            _ => {}
        }
    }
    let reports = dir.join(REPORTS_DIR);
    if reports.is_dir() {
        std::fs::remove_dir_all(&reports).map_err(write_error(reports))?;
    }
    Ok(())
}

/// `results.jsonl`, written and flushed line by line.
pub struct ResultsFile {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl ResultsFile {
    /// Creates `dir` if needed, clears an earlier campaign's outputs from it, and starts an
    /// empty `dir/results.jsonl`.
    pub fn create(dir: &Path) -> Result<ResultsFile, CampaignError> {
        let path = dir.join("results.jsonl");
        let write_error = |error| CampaignError::Write {
            path: path.clone(),
            error,
        };
        std::fs::create_dir_all(dir).map_err(write_error)?;
        clear_outputs(dir)?;
        let file = File::create(&path).map_err(write_error)?;
        Ok(ResultsFile {
            path,
            writer: BufWriter::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&mut self, result: &SeedResult) -> std::io::Result<()> {
        self.writer.write_all(result.to_json_line().as_bytes())?;
        self.writer.write_all(b"\n")?;
        self.writer.flush()
    }
}

/// Writes `summary.json` and `junit.xml` into `dir`.
pub fn write_reports(
    dir: &Path,
    results: &[SeedResult],
    summary: &Summary,
) -> Result<(), CampaignError> {
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|error| CampaignError::Write { path, error })
    };
    let json = serde_json::to_string_pretty(summary).expect("the summary serialises");
    write("summary.json", json + "\n")?;
    write("junit.xml", junit_xml(results, summary))
}

/// Writes a whole output directory from finished results (used by `merge`).
pub fn write_output_dir(
    dir: &Path,
    results: &[SeedResult],
    summary: &Summary,
) -> Result<(), CampaignError> {
    let mut file = ResultsFile::create(dir)?;
    for result in results {
        file.append(result).map_err(|error| CampaignError::Write {
            path: file.path().to_path_buf(),
            error,
        })?;
    }
    write_reports(dir, results, summary)
}

/// Reads a `results.jsonl`; blank lines are skipped.
pub fn read_results(path: &Path) -> Result<Vec<SeedResult>, CampaignError> {
    let text = std::fs::read_to_string(path).map_err(|error| CampaignError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse_results(&text, path)
}

/// The result lines of `text`, read from `path` (named in errors); blank lines are skipped.
pub fn parse_results(text: &str, path: &Path) -> Result<Vec<SeedResult>, CampaignError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            serde_json::from_str(line).map_err(|error| CampaignError::Parse {
                path: path.to_path_buf(),
                line: number + 1,
                error: super::short_json_error(&error),
            })
        })
        .collect()
}

/// Reads a `summary.json`.
pub fn read_summary(path: &Path) -> Result<Summary, CampaignError> {
    let text = std::fs::read_to_string(path).map_err(|error| CampaignError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    serde_json::from_str(&text).map_err(|error| CampaignError::Parse {
        path: path.to_path_buf(),
        line: error.line(),
        error: super::short_json_error(&error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escape_covers_markup_and_control_characters() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'>\n\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;&#10;?"
        );
    }

    #[test]
    fn zero_seeds_and_incomplete_campaigns_never_pass() {
        assert!(!Summary::new(&[], None, None, false, Vec::new()).gate_passes(true));
        let incomplete = Summary::new(&[], None, None, true, vec!["interrupted".into()]);
        assert!(junit_xml(&[], &incomplete).contains("<error type=\"incomplete\""));
    }
}
