//! The service logic, without HTTP.

use std::sync::Arc;

use lb_core::{ManualClock, RequestContext};

use crate::model::{CreateEventBusInput, ListInput, PutRuleInput, RuleState};
use crate::Events;

fn events() -> Events {
    Events::new(Arc::new(ManualClock::new(1_700_000_000_000)))
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn bus(name: &str) -> CreateEventBusInput {
    CreateEventBusInput {
        name: Some(name.to_owned()),
        ..Default::default()
    }
}

fn rule(name: &str, bus: Option<&str>, pattern: &str) -> PutRuleInput {
    PutRuleInput {
        name: Some(name.to_owned()),
        event_bus_name: bus.map(str::to_owned),
        event_pattern: Some(pattern.to_owned()),
        ..Default::default()
    }
}

const P: &str = r#"{"source":["my.app"]}"#;

#[test]
fn default_bus_exists_per_region_and_account() {
    let e = events();
    let b = e.describe_event_bus(&ctx(), None).unwrap();
    assert_eq!(b.arn, "arn:aws:events:us-east-1:000000000000:event-bus/default");
    let other = RequestContext::new("eu-west-1");
    let b = e.describe_event_bus(&other, Some("default")).unwrap();
    assert_eq!(b.arn, "arn:aws:events:eu-west-1:000000000000:event-bus/default");
    let err = e.delete_event_bus(&ctx(), Some("default")).unwrap_err();
    assert_eq!(err.code, "ValidationException");
}

#[test]
fn bus_lifecycle() {
    let e = events();
    let c = ctx();
    let b = e.create_event_bus(&c, bus("orders")).unwrap();
    assert_eq!(b.arn, "arn:aws:events:us-east-1:000000000000:event-bus/orders");
    let err = e.create_event_bus(&c, bus("orders")).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceAlreadyExistsException", "Event bus orders already exists.")
    );
    assert_eq!(e.describe_event_bus(&c, Some(&b.arn)).unwrap().name, "orders");
    let err = e.create_event_bus(&c, bus("bad name")).unwrap_err();
    assert_eq!(err.code, "ValidationException");
    assert!(
        err.message.contains("Member must satisfy regular expression pattern"),
        "{}",
        err.message
    );
    e.delete_event_bus(&c, Some("orders")).unwrap();
    e.delete_event_bus(&c, Some("orders")).unwrap();
    let err = e.describe_event_bus(&c, Some("orders")).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceNotFoundException", "Event bus orders does not exist.")
    );
}

#[test]
fn list_buses_pages_in_name_order() {
    let e = events();
    let c = ctx();
    for n in ["b1", "a1", "b2", "b3"] {
        e.create_event_bus(&c, bus(n)).unwrap();
    }
    let mut input = ListInput {
        name_prefix: Some("b".into()),
        limit: Some(2),
        ..Default::default()
    };
    let p = e.list_event_buses(&c, &input).unwrap();
    let names: Vec<_> = p.items.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["b1", "b2"]);
    input.next_token = p.next_token;
    let p = e.list_event_buses(&c, &input).unwrap();
    let names: Vec<_> = p.items.iter().map(|b| b.name.as_str()).collect();
    assert_eq!((names, p.next_token), (vec!["b3"], None));
    let all = e.list_event_buses(&c, &ListInput::default()).unwrap();
    assert_eq!(all.items.len(), 5);
    let err = e
        .list_event_buses(
            &c,
            &ListInput {
                limit: Some(101),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
}

#[test]
fn rules_on_default_and_custom_buses() {
    let e = events();
    let c = ctx();
    let arn = e.put_rule(&c, rule("r1", None, P)).unwrap();
    assert_eq!(arn, "arn:aws:events:us-east-1:000000000000:rule/r1");
    let err = e.put_rule(&c, rule("r1", Some("orders"), P)).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceNotFoundException", "Event bus orders does not exist.")
    );
    e.create_event_bus(&c, bus("orders")).unwrap();
    let arn = e.put_rule(&c, rule("r1", Some("orders"), P)).unwrap();
    assert_eq!(arn, "arn:aws:events:us-east-1:000000000000:rule/orders/r1");
    let r = e.describe_rule(&c, Some("r1"), Some("orders")).unwrap();
    assert_eq!((r.event_bus_name.as_str(), r.state), ("orders", RuleState::Enabled));
    e.disable_rule(&c, Some("r1"), Some("orders")).unwrap();
    assert_eq!(
        e.describe_rule(&c, Some("r1"), Some("orders")).unwrap().state,
        RuleState::Disabled
    );
    e.enable_rule(&c, Some("r1"), Some("orders")).unwrap();
    assert_eq!(
        e.describe_rule(&c, Some("r1"), Some("orders")).unwrap().state,
        RuleState::Enabled
    );
    e.delete_rule(&c, Some("r1"), Some("orders")).unwrap();
    let err = e.describe_rule(&c, Some("r1"), Some("orders")).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        (
            "ResourceNotFoundException",
            "Rule r1 does not exist on EventBus orders."
        )
    );
    assert!(e.describe_rule(&c, Some("r1"), None).is_ok());
    let err = e.enable_rule(&c, Some("nope"), None).unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
}

#[test]
fn put_rule_validation() {
    let e = events();
    let c = ctx();
    let err = e.put_rule(&c, rule("r", None, r#"{"source":"x"}"#)).unwrap_err();
    assert_eq!(err.code, "InvalidEventPatternException");
    assert_eq!(
        err.message,
        lb_rules::pattern::Pattern::parse(r#"{"source":"x"}"#)
            .unwrap_err()
            .to_string()
    );
    let err = e
        .put_rule(
            &c,
            PutRuleInput {
                name: Some("r".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        err.message,
        "Parameter(s) EventPattern or ScheduleExpression must be specified."
    );
    let err = e.put_rule(&c, rule(&"x".repeat(65), None, P)).unwrap_err();
    assert!(err.message.contains("Member must have length less than or equal to 64"));
    let err = e
        .put_rule(
            &c,
            PutRuleInput {
                state: Some("ON".into()),
                ..rule("r", None, P)
            },
        )
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    let sched = PutRuleInput {
        name: Some("tick".into()),
        schedule_expression: Some("rate(5 minutes)".into()),
        state: Some("DISABLED".into()),
        description: Some("every five".into()),
        ..Default::default()
    };
    e.put_rule(&c, sched.clone()).unwrap();
    let r = e.describe_rule(&c, Some("tick"), None).unwrap();
    assert_eq!(r.schedule_expression.as_deref(), Some("rate(5 minutes)"));
    assert_eq!(
        (r.state, r.description.as_deref()),
        (RuleState::Disabled, Some("every five"))
    );
    let err = e
        .put_rule(
            &c,
            PutRuleInput {
                schedule_expression: Some("every 5".into()),
                ..sched
            },
        )
        .unwrap_err();
    assert_eq!(err.message, "Parameter ScheduleExpression is not valid.");
    let long = format!(r#"{{"source":["{}"]}}"#, "a".repeat(4096));
    let err = e.put_rule(&c, rule("r", None, &long)).unwrap_err();
    assert_eq!(err.code, "ValidationException");
}

#[test]
fn put_rule_replaces() {
    let e = events();
    let c = ctx();
    e.put_rule(
        &c,
        PutRuleInput {
            description: Some("d".into()),
            ..rule("r", None, P)
        },
    )
    .unwrap();
    e.put_rule(&c, rule("r", None, r#"{"source":["other"]}"#)).unwrap();
    let r = e.describe_rule(&c, Some("r"), None).unwrap();
    assert_eq!(r.event_pattern.as_deref(), Some(r#"{"source":["other"]}"#));
    assert_eq!(r.description, None);
}

#[test]
fn list_rules_prefix_and_paging() {
    let e = events();
    let c = ctx();
    for n in ["a", "ab", "abc", "b"] {
        e.put_rule(&c, rule(n, None, P)).unwrap();
    }
    let mut input = ListInput {
        name_prefix: Some("a".into()),
        limit: Some(2),
        ..Default::default()
    };
    let p = e.list_rules(&c, &input).unwrap();
    assert_eq!(p.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["a", "ab"]);
    input.next_token = p.next_token;
    let p = e.list_rules(&c, &input).unwrap();
    assert_eq!(p.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["abc"]);
    assert_eq!(p.next_token, None);
    let err = e
        .list_rules(
            &c,
            &ListInput {
                event_bus_name: Some("nope".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
}

#[test]
fn test_event_pattern() {
    let e = events();
    let event = r#"{"id":"1","account":"000000000000","source":"my.app","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail-type":"x","detail":{}}"#;
    assert!(e.test_event_pattern(Some(P), Some(event)).unwrap());
    assert!(!e
        .test_event_pattern(Some(r#"{"source":["other"]}"#), Some(event))
        .unwrap());
    let err = e.test_event_pattern(Some("{"), Some(event)).unwrap_err();
    assert_eq!(err.code, "InvalidEventPatternException");
    for bad in [r#"{"source":"my.app"}"#, "[]", "nope"] {
        let err = e.test_event_pattern(Some(P), Some(bad)).unwrap_err();
        assert_eq!(
            (&*err.code, err.message.as_str()),
            ("ValidationException", "Parameter Event is not valid.")
        );
    }
}
