//! The explorer's prior through the binary: a campaign written in the prior's text form and
//! read back, the built-in prior by default, none on request.

use crate::common::{raftsim, scratch};

fn stdout(args: &[&str]) -> String {
    let output = raftsim(args);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{args:?}: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

#[test]
fn a_campaign_written_as_a_prior_is_what_explore_learns_from() {
    let dir = scratch("explore", "prior");
    let results = dir.join("campaign/results.jsonl");
    let prior = dir.join("swarm.prior");
    let (results, prior) = (results.to_str().unwrap(), prior.to_str().unwrap());
    let campaign_out = dir.join("campaign");
    stdout(&[
        "campaign",
        "--seeds",
        "0..3",
        "--quiet",
        "--out",
        campaign_out.to_str().unwrap(),
    ]);
    let wrote = stdout(&["explore", "--prior", results, "--write-prior", prior]);
    assert!(wrote.contains("(3 runs)"), "{wrote}");
    let text = std::fs::read_to_string(prior).unwrap();
    assert!(text.starts_with("# raftsim explore prior"), "{text}");
    let seeds: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with(|c: char| c.is_ascii_digit()))
        .map(|line| line.split(' ').next().unwrap())
        .collect();
    assert_eq!(seeds, ["0", "1", "2"], "{text}");

    let explore = |extra: &[&str]| {
        let mut args = vec!["explore", "--seeds", "10..11", "--runs-max", "1"];
        args.extend_from_slice(extra);
        stdout(&args)
    };
    assert!(
        explore(&["--prior", prior]).starts_with(&format!("prior: 3 runs of {prior}")),
        "the text form"
    );
    assert!(
        explore(&["--prior", results]).starts_with(&format!("prior: 3 runs of {results}")),
        "the result lines"
    );
    let builtin = explore(&[]);
    assert!(
        builtin.starts_with("prior: built in, 5000 runs of the correct kv service"),
        "{builtin}"
    );
    assert!(explore(&["--no-prior"]).starts_with("prior: none"));
}
