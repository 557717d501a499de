//! The explorer's prior: an earlier campaign of the correct code, each run's configuration and
//! the marks it reached. It holds no failure, only where the correct code went, so it serves
//! every change whose danger marks it names, as a fuzzer's corpus serves every later fuzzing run.
//!
//! A prior is read from a campaign's `results.jsonl`, or from its compact text form: the swarm
//! seeds and, for each, the marks it reached (a run's configuration is drawn again from its
//! seed). The binary carries one of each service in that form (`priors/*.prior`), so the
//! explorer starts from one unless told otherwise; `raftsim explore --prior RESULTS
//! --write-prior FILE` writes a campaign's results in it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::campaign::SeedResult;
use crate::config::swarm::{self, Shape};
use crate::config::{RunConfig, ServiceKind};

/// What an earlier campaign of the correct code saw: each run's configuration and the marks it
/// reached.
#[derive(Clone, Debug, Default)]
pub struct Prior {
    runs: Vec<(RunConfig, Vec<String>)>,
}

/// Why a campaign's results, or a prior's text, cannot serve as a prior.
#[derive(Debug, thiserror::Error)]
pub enum PriorError {
    #[error(
        "the prior's seed {seed} ran mutants ({mutants}): a prior must be a campaign of the correct code"
    )]
    Mutants { seed: u64, mutants: String },
    #[error("the prior's seed {seed} ran the {found} service, not {expected}")]
    Service {
        seed: u64,
        found: ServiceKind,
        expected: ServiceKind,
    },
    #[error("the prior holds no runs")]
    Empty,
    #[error("the prior runs seed {0} twice")]
    Duplicate(u64),
    #[error(
        "the prior's seed {seed} did not run its swarm configuration (another shape, engine or knob): its text form names seeds only"
    )]
    NotSwarm { seed: u64 },
    #[error("the prior's runs reached {0} different marks; its text form holds at most 64")]
    TooManyMarks(usize),
    #[error("the prior's mark `{0}` is not a mark name (lowercase letters, digits and dashes)")]
    MarkName(String),
    #[error("prior line {line}: {message}")]
    Parse { line: usize, message: String },
}

/// The first line of a prior's text form.
const HEADER: &str = "# raftsim explore prior";

/// A digest of the configurations the runs' seeds draw: the text form records it, so a prior
/// written before the swarm draw changed is refused instead of pairing its marks with other
/// configurations.
fn draw_digest(runs: &[(RunConfig, Vec<String>)]) -> u64 {
    let configs: Vec<String> = runs
        .iter()
        .map(|(config, _)| serde_json::to_string(config).expect("a configuration serializes"))
        .collect();
    sim::trace::digest(&configs)
}

/// Whether `name` can stand in the text form's `marks` line.
fn is_mark_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Prior {
    /// The prior of a campaign's result lines, every one a run of the correct code of `service`.
    pub fn from_results(results: &[SeedResult], service: ServiceKind) -> Result<Self, PriorError> {
        let mut runs = Vec::with_capacity(results.len());
        let mut seeds = BTreeSet::new();
        for result in results {
            let seed = result.seed;
            if !seeds.insert(seed) {
                return Err(PriorError::Duplicate(seed));
            }
            if !result.config.mutants.is_empty() {
                let mutants: Vec<String> = result
                    .config
                    .mutants
                    .iter()
                    .map(|m| m.to_string())
                    .collect();
                return Err(PriorError::Mutants {
                    seed,
                    mutants: mutants.join(", "),
                });
            }
            let found = result.config.service.kind();
            if found != service {
                return Err(PriorError::Service {
                    seed,
                    found,
                    expected: service,
                });
            }
            runs.push((
                result.config.clone(),
                result.marks.keys().cloned().collect(),
            ));
        }
        if runs.is_empty() {
            return Err(PriorError::Empty);
        }
        Ok(Self { runs })
    }

    /// The prior built into the binary for `service`: a swarm campaign of the correct code
    /// (`priors/kv.prior`: seeds 20000..25000; `priors/sharded.prior`: seeds 10000..13000).
    pub fn builtin(service: ServiceKind) -> Self {
        let text = match service {
            ServiceKind::Kv => include_str!("../../priors/kv.prior"),
            ServiceKind::Sharded => include_str!("../../priors/sharded.prior"),
        };
        // The text is part of the binary; a test parses both.
        Self::parse(text, service).expect("the built-in prior parses")
    }

    /// Whether `text` is a prior's text form rather than a campaign's result lines.
    pub fn is_text_form(text: &str) -> bool {
        text.trim_start_matches('\u{feff}').starts_with(HEADER)
    }

    /// Reads the text form `to_text` writes, for `service`.
    pub fn parse(text: &str, service: ServiceKind) -> Result<Self, PriorError> {
        let error = |line: usize, message: String| PriorError::Parse { line, message };
        let mut marks: Option<Vec<&str>> = None;
        let mut service_named = false;
        let mut draw: Option<(usize, u64)> = None;
        let mut runs = Vec::new();
        let mut seeds = BTreeSet::new();
        // Lines end in LF, CRLF or a bare CR (an old Mac editor's): each counts once.
        let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n");
        for (number, line) in text.split(['\n', '\r']).enumerate() {
            let number = number + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let again = |what: &str| error(number, format!("a second `{what}` line"));
            if let Some(name) = line.strip_prefix("service ") {
                if service_named {
                    return Err(again("service"));
                }
                let found: ServiceKind = name.parse().map_err(|e| error(number, format!("{e}")))?;
                if found != service {
                    return Err(error(
                        number,
                        format!("a prior of the {found} service, not {service}"),
                    ));
                }
                service_named = true;
                continue;
            }
            if let Some(digest) = line.strip_prefix("draw ") {
                if draw.is_some() {
                    return Err(again("draw"));
                }
                let digest = u64::from_str_radix(digest.trim(), 16).map_err(|_| {
                    let digest = sim::shorten(digest);
                    error(number, format!("`{digest}` is not a hexadecimal digest"))
                })?;
                draw = Some((number, digest));
                continue;
            }
            if let Some(names) = line
                .strip_prefix("marks")
                .filter(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
            {
                if marks.is_some() {
                    return Err(again("marks"));
                }
                let names: Vec<&str> = names.split_whitespace().collect();
                if names.len() > 64 {
                    return Err(error(number, format!("{} marks; at most 64", names.len())));
                }
                if let Some(name) = names.iter().find(|name| !is_mark_name(name)) {
                    let name = sim::shorten(name);
                    return Err(error(number, format!("`{name}` is not a mark name")));
                }
                marks = Some(names);
                continue;
            }
            let Some(names) = &marks else {
                return Err(error(number, "a run before the `marks` line".to_string()));
            };
            if !service_named {
                return Err(error(number, "a run before the `service` line".to_string()));
            }
            let (seed, mask) = line.split_once(' ').ok_or_else(|| {
                let line = sim::shorten(line);
                error(number, format!("expected `SEED MASK`, found `{line}`"))
            })?;
            let not_a_seed = || error(number, format!("`{}` is not a seed", sim::shorten(seed)));
            // Digits only: Rust's integer parsing would take `+2` as well.
            if !seed.bytes().all(|b| b.is_ascii_digit()) {
                return Err(not_a_seed());
            }
            let seed: u64 = seed.parse().map_err(|_| not_a_seed())?;
            if !seeds.insert(seed) {
                return Err(error(number, format!("seed {seed} a second time")));
            }
            let mask = u64::from_str_radix(mask.trim(), 16).map_err(|_| {
                let mask = sim::shorten(mask);
                error(number, format!("`{mask}` is not a hexadecimal mask"))
            })?;
            if names.len() < 64 && mask >> names.len() != 0 {
                return Err(error(
                    number,
                    format!("mask {mask:x} names more marks than the {}", names.len()),
                ));
            }
            let reached = names
                .iter()
                .enumerate()
                .filter(|&(i, _)| (mask >> i) & 1 == 1)
                .map(|(_, name)| name.to_string())
                .collect();
            runs.push((swarm::config_for(seed, Shape::Swarm, service, &[]), reached));
        }
        if runs.is_empty() {
            return Err(PriorError::Empty);
        }
        let Some((line, digest)) = draw else {
            return Err(error(1, "no `draw` line".to_string()));
        };
        if digest != draw_digest(&runs) {
            return Err(error(
                line,
                "its seeds draw other configurations now (the swarm draw changed): write the prior again"
                    .to_string(),
            ));
        }
        Ok(Self { runs })
    }

    /// The text form: a header, the service, a digest of the configurations the seeds draw, the
    /// marks reached by any run, then one line per run, its seed and a hexadecimal mask of its
    /// marks. Every run must have been its seed's swarm draw of the correct code, as the text
    /// names only the seed.
    pub fn to_text(&self, service: ServiceKind) -> Result<String, PriorError> {
        for (config, _) in &self.runs {
            if *config != swarm::config_for(config.seed, Shape::Swarm, service, &[]) {
                return Err(PriorError::NotSwarm { seed: config.seed });
            }
        }
        let names: Vec<&str> = self
            .runs
            .iter()
            .flat_map(|(_, marks)| marks.iter().map(String::as_str))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if names.len() > 64 {
            return Err(PriorError::TooManyMarks(names.len()));
        }
        if let Some(name) = names.iter().find(|name| !is_mark_name(name)) {
            return Err(PriorError::MarkName(sim::shorten(name)));
        }
        let mut text = format!(
            "{HEADER}: the marks each swarm seed of a correct-code campaign reached\n\
             # written by `raftsim explore --service {service} --prior RESULTS --write-prior FILE`\n\
             service {service}\ndraw {:016x}\nmarks {}\n",
            draw_digest(&self.runs),
            names.join(" ")
        );
        for (config, marks) in &self.runs {
            let mask = marks
                .iter()
                .filter_map(|mark| names.iter().position(|name| name == mark))
                .fold(0u64, |mask, i| mask | 1 << i);
            writeln!(text, "{} {mask:x}", config.seed).expect("writing to a string");
        }
        Ok(text)
    }

    pub(super) fn runs(&self) -> &[(RunConfig, Vec<String>)] {
        &self.runs
    }

    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::harness::marks::all_names;

    /// Seed `seed`'s swarm configuration of the KV service.
    pub(in crate::explore) fn draw(seed: u64) -> RunConfig {
        swarm::config_for(seed, Shape::Swarm, ServiceKind::Kv, &[])
    }

    /// A campaign's result line for `config` that reached `marks`.
    pub(in crate::explore) fn result(config: RunConfig, marks: &[&str]) -> SeedResult {
        SeedResult {
            marks: marks.iter().map(|mark| (mark.to_string(), 1)).collect(),
            ..SeedResult::before_run(config, String::new(), Vec::new())
        }
    }

    #[test]
    fn a_prior_is_a_campaign_of_the_correct_code_of_the_service() {
        let mut mutated = draw(3);
        mutated.mutants = vec![crate::config::Mutant::Raft(raft::Mutant::NoDedup)];
        let error = Prior::from_results(
            &[result(draw(2), &[]), result(mutated, &[])],
            ServiceKind::Kv,
        )
        .expect_err("a mutant's campaign");
        assert!(
            error.to_string().contains("seed 3 ran mutants (no-dedup)"),
            "{error}"
        );
        let sharded = swarm::config_for(4, Shape::Swarm, ServiceKind::Sharded, &[]);
        let error = Prior::from_results(&[result(sharded, &[])], ServiceKind::Kv)
            .expect_err("another service");
        assert!(
            error
                .to_string()
                .contains("ran the sharded service, not kv"),
            "{error}"
        );
        assert!(Prior::from_results(&[], ServiceKind::Kv).is_err());
        let error = Prior::from_results(
            &[result(draw(2), &[]), result(draw(2), &[])],
            ServiceKind::Kv,
        )
        .expect_err("a seed twice");
        assert!(error.to_string().contains("runs seed 2 twice"), "{error}");
    }

    #[test]
    fn the_text_form_keeps_every_run_and_its_marks() {
        let runs = [
            result(draw(7), &["figure8-danger", "truncate-conflict"]),
            result(draw(8), &[]),
            result(draw(9), &["truncate-conflict", "late-delivery"]),
        ];
        let prior = Prior::from_results(&runs, ServiceKind::Kv).expect("a prior");
        let text = prior.to_text(ServiceKind::Kv).expect("swarm draws");
        assert!(Prior::is_text_form(&text), "{text}");
        let read = Prior::parse(&text, ServiceKind::Kv).expect("its own text");
        assert_eq!(read.runs, prior.runs);
        // Another service's prior, or a run that was not its seed's swarm draw, is refused.
        let error = Prior::parse(&text, ServiceKind::Sharded).expect_err("a kv prior");
        assert!(error.to_string().contains("line 3"), "{error}");
        // A mark name the `marks` line could not hold.
        let odd = Prior::from_results(&[result(draw(6), &["two leaders"])], ServiceKind::Kv)
            .expect("a prior");
        let error = odd.to_text(ServiceKind::Kv).expect_err("a space in a name");
        assert!(error.to_string().contains("`two leaders`"), "{error}");
        let mut knob = draw(5);
        knob.raft.max_inflight_msgs += 1;
        let prior = Prior::from_results(&[result(knob, &[])], ServiceKind::Kv).expect("a prior");
        let error = prior
            .to_text(ServiceKind::Kv)
            .expect_err("not a swarm draw");
        assert!(error.to_string().contains("seed 5"), "{error}");
    }

    #[test]
    fn bad_prior_text_is_refused_with_its_line() {
        let cases = [
            ("service kv\n1 0\n", "line 2: a run before the `marks` line"),
            ("service kv\nmarks a b\nx 1\n", "line 3: `x` is not a seed"),
            (
                "service kv\nmarks a b\n1 zz\n",
                "`zz` is not a hexadecimal mask",
            ),
            (
                "service kv\nmarks a b\n1 4\n",
                "mask 4 names more marks than the 2",
            ),
            ("service kv\nmarks a\n1\n", "expected `SEED MASK`"),
            ("service disk\n", "unknown service"),
            ("service kv\nmarks a\n", "no runs"),
            ("service kv\nmarks a\n1 1\n", "line 1: no `draw` line"),
            (
                "service kv\ndraw 0\nmarks a\n1 1\n",
                "line 2: its seeds draw other configurations now",
            ),
            (
                "service kv\nmarks a\nmarks b\n",
                "line 3: a second `marks` line",
            ),
            (
                "service kv\nservice kv\n",
                "line 2: a second `service` line",
            ),
            ("service kv\nmarks a B\n", "line 2: `B` is not a mark name"),
            ("marks a\n1 1\n", "line 2: a run before the `service` line"),
            (
                "service kv\nmarksa\n",
                "line 2: a run before the `marks` line",
            ),
            ("service kv\nmarks a\n+2 1\n", "line 3: `+2` is not a seed"),
            (
                "service kv\nmarks a\n2 1\n2 0\n",
                "line 4: seed 2 a second time",
            ),
            // Bare carriage returns end lines too, and CRLF counts once.
            ("service kv\rmarks a\rx 1\r", "line 3: `x` is not a seed"),
            (
                "service kv\r\nmarks a\r\nx 1\r\n",
                "line 3: `x` is not a seed",
            ),
        ];
        let many = format!("service kv\nmarks{}\n1 1\n", " m".repeat(65));
        let long = "9".repeat(5_000);
        let long_line = format!("service kv\nmarks a\n{long}\n");
        let long_seed = format!("service kv\nmarks a\n{long} 1\n");
        let extra = [
            (many.as_str(), "at most 64"),
            (long_line.as_str(), "expected `SEED MASK`"),
            (long_seed.as_str(), "is not a seed"),
        ];
        for (text, expected) in cases.into_iter().chain(extra) {
            let error = Prior::parse(text, ServiceKind::Kv)
                .expect_err(text)
                .to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
            // One short line, whatever the file held.
            assert!(error.chars().count() < 160, "{error}");
        }
    }

    /// The built-in priors parse, hold the runs they say, and name only marks their service
    /// still has (a renamed mark would silently teach the explorer nothing: write the prior
    /// again, ARCHITECTURE.md says how).
    #[test]
    fn the_builtin_priors_parse_and_name_current_marks() {
        for (service, runs) in [(ServiceKind::Kv, 5000), (ServiceKind::Sharded, 3000)] {
            let prior = Prior::builtin(service);
            assert_eq!(prior.len(), runs, "{service}");
            let names = all_names(service, true);
            let mut reached = BTreeSet::new();
            for (_, marks) in prior.runs() {
                for mark in marks {
                    assert!(names.contains(&mark.as_str()), "{service}: {mark}");
                    reached.insert(mark.as_str());
                }
            }
            // A campaign this long reaches every mark (the marks table's test asks it of a
            // few hundred seeds).
            assert_eq!(reached.len(), names.len(), "{service}: {reached:?}");
        }
    }
}
