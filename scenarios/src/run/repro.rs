//! How a run is made again from the command line. Every replay line raftsim prints (after a
//! failing `run`, for each failing campaign seed, in reports and timelines, in summaries) comes
//! from [`Repro::command`], and the configuration it stands for from [`Repro::config`], so the
//! line and the run cannot drift apart.

use std::path::PathBuf;

use crate::config::Mutant;
use kv::ReadMode;
use sim::NANOS_PER_MILLI;

use crate::config::swarm::{Shape, config_for, fit_engine};
use crate::config::{FaultMix, RunConfig, Service, ServiceKind, ShardedConfig};
use crate::engines::EngineChoice;

/// How each campaign seed's configuration is made; enough to rebuild it from the seed alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeedShape {
    pub shape: Shape,
    pub service: ServiceKind,
    pub mutants: Vec<Mutant>,
    /// Overrides the safety phase's length (short smoke campaigns and tests).
    pub duration_ns: Option<u64>,
    /// The Raft implementation; draws it cannot express are fitted (`swarm::fit_engine`).
    pub engine: EngineChoice,
}

impl SeedShape {
    pub fn config(&self, seed: u64) -> RunConfig {
        let mut config = config_for(seed, self.shape, self.service, &self.mutants);
        if let Some(duration_ns) = self.duration_ns {
            config.duration_ns = duration_ns;
        }
        fit_engine(&mut config, &self.engine);
        config
    }
}

/// The settings of `raftsim run`; the defaults are BRIEF §12's standard run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFlags {
    pub nodes: usize,
    pub clients: usize,
    pub duration_ms: u64,
    pub mutants: Vec<Mutant>,
    pub read_mode: ReadMode,
    pub fault_count: u32,
    pub initial_voters: Option<usize>,
    pub conf_change_on_append: bool,
    /// A fault schedule file replayed instead of the drawn faults.
    pub faults: Option<PathBuf>,
    pub service: ServiceKind,
    /// The sharded service: replica groups, servers per group, shards.
    pub groups: usize,
    pub group_size: usize,
    pub shards: usize,
    pub engine: EngineChoice,
}

impl Default for RunFlags {
    fn default() -> Self {
        let standard = RunConfig::standard(0);
        let sharded = ShardedConfig::standard();
        Self {
            nodes: standard.servers,
            clients: standard.clients,
            duration_ms: standard.duration_ns / NANOS_PER_MILLI,
            mutants: Vec::new(),
            read_mode: standard.read_mode,
            fault_count: standard.faults.count,
            initial_voters: None,
            conf_change_on_append: false,
            faults: None,
            service: ServiceKind::Kv,
            groups: sharded.group_sizes.len(),
            group_size: sharded.group_sizes[0],
            shards: sharded.shards,
            engine: EngineChoice::Ours,
        }
    }
}

impl RunFlags {
    pub fn config(&self, seed: u64) -> RunConfig {
        let mut config = RunConfig::standard_of(self.service, seed);
        config.servers = self.nodes;
        config.clients = self.clients;
        config.duration_ns = self.duration_ms.saturating_mul(NANOS_PER_MILLI);
        config.mutants = self.mutants.clone();
        config.read_mode = self.read_mode;
        // No faults means none at all: no reactive faults and no membership changes either.
        config.faults = match self.fault_count {
            0 => FaultMix::none(),
            count => FaultMix::all(count),
        };
        config.initial_voters = self.initial_voters;
        config.conf_change_on_append = self.conf_change_on_append;
        config.engine = self.engine.clone();
        if self.service == ServiceKind::Sharded {
            let sharded = ShardedConfig {
                group_sizes: vec![self.group_size; self.groups],
                shards: self.shards,
                initial_groups: self.groups,
                ..ShardedConfig::standard()
            };
            config.servers = sharded.server_count();
            config.service = Service::Sharded(sharded);
            config.faults.membership = false;
            config.faults.controller = self.fault_count > 0;
        }
        config
    }
}

/// Where a run came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// `raftsim replay --seed S`: a campaign seed of this shape.
    Campaign(SeedShape),
    /// `raftsim run --seed S` with these flags.
    Run(RunFlags),
    /// `raftsim replay --seed S --results FILE`: the configuration a results file recorded.
    Results(PathBuf),
    /// `raftsim scenario run FILE`: a seeded-run script.
    Script { path: PathBuf, mutants: Vec<Mutant> },
}

/// One run, as the command line makes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Repro {
    pub seed: u64,
    pub origin: Origin,
}

impl Repro {
    pub fn campaign(seed: u64, shape: &SeedShape) -> Repro {
        Repro {
            seed,
            origin: Origin::Campaign(shape.clone()),
        }
    }

    /// The configuration the command runs; `None` when it lives in a file.
    pub fn config(&self) -> Option<RunConfig> {
        match &self.origin {
            Origin::Campaign(shape) => Some(shape.config(self.seed)),
            Origin::Run(flags) => Some(flags.config(self.seed)),
            Origin::Results(_) | Origin::Script { .. } => None,
        }
    }

    /// The one-line command.
    pub fn command(&self) -> String {
        let seed = self.seed;
        match &self.origin {
            Origin::Campaign(shape) => {
                let mut command = format!("raftsim replay --seed {seed}");
                if shape.service != ServiceKind::Kv {
                    command += &format!(" --service {}", shape.service);
                }
                if shape.shape == Shape::Standard {
                    command += " --standard";
                }
                if let Some(duration_ns) = shape.duration_ns {
                    command += &format!(" --duration-ms {}", duration_ns / NANOS_PER_MILLI);
                }
                command + &engine_flag(&shape.engine) + &mutant_flags(&shape.mutants)
            }
            Origin::Run(flags) => run_command(seed, flags),
            Origin::Results(path) => {
                format!("raftsim replay --seed {seed} --results {}", path.display())
            }
            Origin::Script { path, mutants } => {
                format!(
                    "raftsim scenario run {}{}",
                    path.display(),
                    mutant_flags(mutants)
                )
            }
        }
    }
}

/// ` --engine NAME`, nothing for ours.
fn engine_flag(engine: &EngineChoice) -> String {
    if engine.is_ours() {
        return String::new();
    }
    format!(" --engine {engine}")
}

fn mutant_flags(mutants: &[Mutant]) -> String {
    mutants
        .iter()
        .map(|m| format!(" --mutant {}", m.name()))
        .collect()
}

fn run_command(seed: u64, flags: &RunFlags) -> String {
    let standard = RunFlags::default();
    let mut command = format!("raftsim run --seed {seed}");
    if flags.service == ServiceKind::Sharded {
        command += &format!(" --service {}", flags.service);
        for (flag, value, default) in [
            ("groups", flags.groups, standard.groups),
            ("group-size", flags.group_size, standard.group_size),
            ("shards", flags.shards, standard.shards),
        ] {
            if value != default {
                command += &format!(" --{flag} {value}");
            }
        }
    } else if flags.nodes != standard.nodes {
        command += &format!(" --nodes {}", flags.nodes);
    }
    if flags.clients != standard.clients {
        command += &format!(" --clients {}", flags.clients);
    }
    if flags.duration_ms != standard.duration_ms {
        command += &format!(" --duration-ms {}", flags.duration_ms);
    }
    command += &engine_flag(&flags.engine);
    command += &mutant_flags(&flags.mutants);
    if flags.read_mode != standard.read_mode {
        command += &format!(" --read-mode {}", flags.read_mode);
    }
    if flags.fault_count != standard.fault_count {
        command += &format!(" --fault-count {}", flags.fault_count);
    }
    if let Some(voters) = flags.initial_voters {
        command += &format!(" --initial-voters {voters}");
    }
    if flags.conf_change_on_append {
        command += " --conf-change-on-append";
    }
    if let Some(path) = &flags.faults {
        command += &format!(" --faults {}", path.display());
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_every_setting_that_differs() {
        let shape = SeedShape {
            shape: Shape::Standard,
            service: ServiceKind::Kv,
            mutants: vec![Mutant::Raft(raft::Mutant::NoDedup)],
            duration_ns: Some(2_000 * NANOS_PER_MILLI),
            engine: EngineChoice::Ours,
        };
        assert_eq!(
            Repro::campaign(4, &shape).command(),
            "raftsim replay --seed 4 --standard --duration-ms 2000 --mutant no-dedup"
        );
        let raft_rs = SeedShape {
            engine: EngineChoice::RaftRs,
            ..SeedShape::default()
        };
        assert_eq!(
            Repro::campaign(5, &raft_rs).command(),
            "raftsim replay --seed 5 --engine raft-rs"
        );
        assert_eq!(
            Repro::campaign(9, &SeedShape::default()).command(),
            "raftsim replay --seed 9"
        );
        let flags = RunFlags {
            initial_voters: Some(4),
            conf_change_on_append: true,
            read_mode: ReadMode::Log,
            faults: Some(PathBuf::from("f.json")),
            ..RunFlags::default()
        };
        let repro = Repro {
            seed: 3,
            origin: Origin::Run(flags),
        };
        assert_eq!(
            repro.command(),
            "raftsim run --seed 3 --read-mode log --initial-voters 4 --conf-change-on-append \
             --faults f.json"
        );
        assert_eq!(
            Repro {
                seed: 3,
                origin: Origin::Run(RunFlags::default())
            }
            .config(),
            Some(RunConfig::standard(3))
        );
        let sharded = RunFlags {
            service: ServiceKind::Sharded,
            groups: 2,
            ..RunFlags::default()
        };
        let repro = Repro {
            seed: 5,
            origin: Origin::Run(sharded),
        };
        assert_eq!(
            repro.command(),
            "raftsim run --seed 5 --service sharded --groups 2"
        );
        let config = repro.config().expect("flags make a configuration");
        assert_eq!(config.servers, 6);
        config.validate().expect("valid");
        let shape = SeedShape {
            service: ServiceKind::Sharded,
            ..SeedShape::default()
        };
        assert_eq!(
            Repro::campaign(8, &shape).command(),
            "raftsim replay --seed 8 --service sharded"
        );
    }
}
