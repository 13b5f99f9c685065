//! Garbled events for every function never panic, and are either accepted as
//! a request or rejected with an InvalidInput message that names the field
//! the garbling broke.

use efs_dr_shared::run::intake::unwrap_sns;
use efs_dr_shared::testing::{
    dotted, mutate_json_recorded, xorshift, Mutation, MutationKind, PathStep,
};
use efs_dr_shared::workflows::failback::FailbackRequest;
use efs_dr_shared::workflows::failover::FailoverRequest;
use efs_dr_shared::workflows::mount_target_ensure::{is_scheduled_event, ReadinessRequest};
use efs_dr_shared::workflows::region_switch;
use efs_dr_shared::Error;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn samples(function: &str) -> Vec<Value> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("../events")
        .join(function);
    std::fs::read_dir(dir)
        .expect("samples")
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.expect("entry").path()).expect("read"))
                .expect("json")
        })
        .collect()
}

/// Parses an event as the function does. A rejection comes with the path, in
/// the event, of the JSON that was being parsed: the event itself, or the SNS
/// message it carries (which the error's own paths are relative to).
fn parse(function: &str, event: &Value) -> Result<(), (Error, Vec<PathStep>)> {
    if function == "mount-target-ensure" && is_scheduled_event(event) {
        return Ok(());
    }
    let from_sns = event.get("Records").is_some();
    let messages = unwrap_sns(event.clone()).map_err(|e| (e, Vec::new()))?;
    for (i, message) in messages.into_iter().enumerate() {
        let at = if from_sns {
            vec![
                PathStep::Key("Records".into()),
                PathStep::Index(i),
                PathStep::Key("Sns".into()),
                PathStep::Key("Message".into()),
            ]
        } else {
            Vec::new()
        };
        // A Region switch event: its metadata, then its payload over the
        // defaults, as the request the function would run.
        let role = match function {
            "failover" => Some(region_switch::Role::Failover),
            "failback" => Some(region_switch::Role::Failback),
            _ => None,
        };
        let message = match (role, region_switch::invocation(&message)) {
            (_, Err(e)) => return Err((e, at)),
            (Some(role), Ok(Some(invocation))) => {
                let execution = region_switch::PlanExecution {
                    action: "activate".into(),
                    region: "us-west-2".into(),
                    mode: "graceful".into(),
                    state: "inProgress".into(),
                    start_time: Some(1_795_276_800.0),
                    step_starts: Vec::new(),
                };
                region_switch::request(
                    role,
                    &invocation,
                    &execution,
                    &efs_dr_shared::domain::ids::RegionName::parse("us-west-2").expect("region"),
                )
            }
            _ => message,
        };
        let parsed = match function {
            "failover" => FailoverRequest::from_json(message).map(|_| ()),
            "failback" => FailbackRequest::from_json(message).map(|_| ()),
            _ => ReadinessRequest::from_json(message).map(|_| ()),
        };
        parsed.map_err(|e| (e, at))?;
    }
    Ok(())
}

/// The path an error names as `field PATH`, at its start or after a `: `
/// (not the `missing field` or `unknown field` inside serde's words); `.`,
/// the root, when it names none.
fn named_path(said: &str) -> &str {
    said.match_indices("field ")
        .find(|(i, _)| *i == 0 || said[..*i].ends_with(": "))
        .map(|(i, f)| {
            let rest = &said[i + f.len()..];
            rest.split([':', ' ']).next().unwrap_or(rest)
        })
        .unwrap_or(".")
}

/// How a rejection names what a mutation broke: the exact path of a changed
/// value (so its key), or the path of the object a required field was removed
/// from together with that field's name. None when it names none of them.
fn explained_by(said: &str, mutations: &[Mutation]) -> Option<&'static str> {
    let path = named_path(said);
    mutations.iter().find_map(|m| {
        let key = m.key()?;
        let parent = &m.path[..m.path.len() - 1];
        if dotted(&m.path) == path {
            // The value at that field is wrong: a type, an ID, an enum variant.
            Some("the changed field")
        } else if m.kind == MutationKind::Removed
            && dotted(parent) == path
            && said.contains(&format!("missing field `{key}`"))
        {
            Some("the removed field")
        } else {
            None
        }
    })
}

#[test]
fn garbled_events_are_rejected_naming_the_broken_field_and_never_panic() {
    for function in ["failover", "failback", "mount-target-ensure"] {
        let base = samples(function);
        let mut next = xorshift(0xfeed ^ function.len() as u64);
        let mut accepted = 0;
        let mut how: BTreeMap<&str, usize> = BTreeMap::new();
        for i in 0..3000 {
            let sample = &base[i % base.len()];
            let mut event = sample.clone();
            let mutations = mutate_json_recorded(&mut event, &mut next);
            match parse(function, &event) {
                Ok(()) => accepted += 1,
                Err((Error::InvalidInput(message), at)) => {
                    // The list of accepted fields names every field: only what comes before it counts.
                    let said = message.split(". Fields: ").next().unwrap_or(&message);
                    let relative: Vec<Mutation> =
                        mutations.iter().filter_map(|m| m.under(&at)).collect();
                    let kind = if is_scheduled_event(sample) && !is_scheduled_event(&event) {
                        // A schedule whose detail-type and source are both broken no longer reads
                        // as one: it is taken as a request, and the first of its fields is unknown.
                        let field = named_path(said);
                        assert!(
                            event.get(field).is_some()
                                && said.contains(&format!("unknown field `{field}`")),
                            "{function}: {message}"
                        );
                        Some("an unknown field of what is no longer a schedule")
                    } else {
                        explained_by(said, &relative)
                    };
                    let Some(kind) = kind else {
                        panic!(
                            "{function}: the rejection names none of the fields the mutations broke\n\
                             message: {message}\nparsed at: {}\nmutations: {mutations:#?}\nevent: {event}",
                            dotted(&at)
                        )
                    };
                    *how.entry(kind).or_default() += 1;
                }
                Err((other, _)) => {
                    panic!("{function}: bad input must be InvalidInput, got {other}")
                }
            }
        }
        eprintln!("{function}: {accepted} accepted, rejections naming {how:?}");
        assert!(
            accepted > 0 && how.get("the changed field").is_some_and(|n| *n > 0),
            "{function}: {accepted} accepted, rejected: {how:?}"
        );
    }
}
