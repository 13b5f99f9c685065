//! The alarm-action sample is the shape aws_lambda_events describes, and the
//! handler's tolerant parser reads the same fields from it.

use aws_lambda_events::event::cloudwatch_alarms::CloudWatchMetricAlarm;
use efs_dr_shared::workflows::lag_alarm::alarm_event::{parse, Trigger};

#[test]
fn the_direct_alarm_action_sample_matches_the_typed_event() {
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
            .join("../../events/lag-alarm-handler/alarm-action.json"),
    )
    .expect("sample");
    let typed: CloudWatchMetricAlarm =
        serde_json::from_str(&text).expect("aws_lambda_events parses the sample");
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let triggers = parse(&value).expect("our parser too");
    let Some(Trigger::Alarm(ours)) = triggers.first() else {
        panic!("an alarm")
    };
    assert_eq!(ours.name, typed.alarm_data.alarm_name);
    let state = typed.alarm_data.state.as_ref().expect("state");
    assert_eq!(
        ours.new_state,
        serde_json::to_value(&state.value)
            .expect("state value")
            .as_str()
            .unwrap_or_default()
    );
    assert_eq!(ours.changed_at, state.timestamp.timestamp() as f64);
}

#[test]
fn the_sns_notification_form_needs_our_own_parser() {
    // The typed event describes alarm actions only; SNS notifications (PascalCase,
    // "AlarmDescription": null) have another shape, which the handler reads itself.
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
            .join("../../events/lag-alarm-handler/sns-alarm-null-description.json"),
    )
    .expect("sample");
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let message = value["Records"][0]["Sns"]["Message"]
        .as_str()
        .expect("message");
    let typed = serde_json::from_str::<aws_lambda_events::event::cloudwatch_alarms::CloudWatchAlarm>(
        message,
    );
    assert!(
        typed.is_err(),
        "the typed struct does not take the SNS form"
    );
    assert!(parse(&value).is_ok());
}
