//! CloudWatch Logs as a delivery target and as the log sink of other services.
//!
//! - **EventBridge → CloudWatch Logs** (`arn:aws:logs:<region>:<account>:log-group:<name>`,
//!   with or without `:*`): the event lands as one log event. EventBridge needs a resource policy
//!   on CloudWatch Logs that lets `events.amazonaws.com` perform `logs:PutLogEvents` (and
//!   `logs:CreateLogStream`) on the group — the console adds one, the API and the CLI do not
//!   (AWS Knowledge Center, "cloudwatch-log-group-eventbridge"). It is checked at every delivery:
//!   without it the delivery fails `AccessDenied` (the rule's DLQ gets `NO_PERMISSIONS`). The
//!   group must exist. The log stream is named after the event's `id` and the log event's
//!   timestamp is the event's `time`; an input that is not an event (`Input`, a transformer)
//!   goes to a stream named after the delivery's id, at delivery time, unless it has the
//!   `{"timestamp": ..., "message": ...}` form EventBridge documents for Logs targets.
//! - [`LogSink`]: what Lambda writes through; groups and streams are created as needed.

use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Message, Target};
use lb_core::logs::{LogEvent, LogSink};
use lb_core::policy::{self, Decision, PolicyRequest};
use serde_json::Value;

use crate::Logs;

const PUT_ACTION: &str = "logs:PutLogEvents";

/// The group an ARN's resource names (`log-group:<name>` or `log-group:<name>:*`).
fn group_of(arn: &Arn) -> Option<&str> {
    let rest = arn.resource.strip_prefix("log-group:")?;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty() && !name.contains(':')).then_some(name)
}

/// The log stream, timestamp and message of an event EventBridge delivers.
fn event_record(body: &str, now: u64) -> (String, u64, String) {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(body) else {
        return (lb_core::ids::uuid(), now, body.to_owned());
    };
    if doc.len() == 2 {
        if let (Some(ts), Some(msg)) = (doc.get("timestamp"), doc.get("message")) {
            let ts = ts.as_u64().or_else(|| ts.as_str().and_then(parse_time)).unwrap_or(now);
            let msg = msg.as_str().map_or_else(|| msg.to_string(), str::to_owned);
            return (lb_core::ids::uuid(), ts, msg);
        }
    }
    let stream = doc
        .get("id")
        .and_then(Value::as_str)
        .map_or_else(lb_core::ids::uuid, str::to_owned);
    let ts = doc
        .get("time")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .unwrap_or(now);
    (stream, ts, body.to_owned())
}

fn parse_time(s: &str) -> Option<u64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

impl Logs {
    fn allowed(&self, arn: &Arn, group: &str, stream: &str, msg: &Message) -> Result<(), DeliveryError> {
        let Some(principal) = msg.principal.as_deref() else {
            return Ok(());
        };
        let resource = format!(
            "arn:{}:logs:{}:{}:log-group:{group}:log-stream:{stream}",
            arn.partition, arn.region, arn.account
        );
        let req = PolicyRequest {
            principal_service: principal,
            action: PUT_ACTION,
            resource: &resource,
            source_arn: msg.source_arn.as_deref(),
            source_account: msg.source_account.as_deref(),
        };
        let mut allowed = false;
        for doc in self.resource_policies(&arn.region, &arn.account) {
            match policy::evaluate(&doc, &req) {
                Decision::ExplicitDeny => {
                    return Err(DeliveryError::access_denied(format!(
                        "A CloudWatch Logs resource policy explicitly denies {PUT_ACTION} to {principal} on {resource}."
                    )))
                }
                Decision::Allow => allowed = true,
                Decision::ImplicitDeny => {}
            }
        }
        if allowed {
            Ok(())
        } else {
            Err(DeliveryError::access_denied(format!(
                "No CloudWatch Logs resource policy allows {principal} to perform {PUT_ACTION} on {resource}."
            )))
        }
    }

    /// Delivers one EventBridge event to the log group `arn` names.
    pub fn deliver_to(&self, arn: &Arn, msg: &Message) -> Result<(), DeliveryError> {
        let Some(group) = group_of(arn) else {
            return Err(DeliveryError::not_found(format!("{arn} is not a log group ARN.")));
        };
        let (stream, ts, message) = event_record(&msg.body, self.now());
        self.allowed(arn, group, &stream, msg)?;
        if self.append(&arn.region, &arn.account, group, &stream, vec![(ts, message)], false) {
            Ok(())
        } else {
            Err(DeliveryError::not_found(format!(
                "The specified log group does not exist: {group}"
            )))
        }
    }
}

impl Target for Logs {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        let result = self.deliver_to(arn, msg);
        Box::pin(async move { result })
    }

    fn authorize(&self, arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        let exists = group_of(arn).is_some_and(|g| {
            self.store()
                .scope_ref(&arn.region, &arn.account)
                .is_some_and(|s| s.groups.contains_key(g))
        });
        if exists {
            Ok(())
        } else {
            Err(DestinationError::NotFound)
        }
    }
}

impl LogSink for Logs {
    fn append(&self, region: &str, account: &str, group: &str, stream: &str, events: Vec<LogEvent>) {
        let events = events
            .into_iter()
            .filter(|e| !e.message.is_empty())
            .map(|e| (e.timestamp_millis, e.message))
            .collect();
        Logs::append(self, region, account, group, stream, events, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_events() {
        let body =
            r#"{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","time":"2017-12-22T18:43:48Z","detail":{}}"#;
        let (stream, ts, msg) = event_record(body, 5);
        assert_eq!(stream, "6a7e8feb-b491-4cf7-a9f1-bf3703467718");
        assert_eq!(ts, 1_513_968_228_000);
        assert_eq!(msg, body);
        let (_, ts, msg) = event_record(r#"{"timestamp":1000,"message":"hi"}"#, 5);
        assert_eq!((ts, msg.as_str()), (1000, "hi"));
        let (_, ts, msg) = event_record("\"constant\"", 5);
        assert_eq!((ts, msg.as_str()), (5, "\"constant\""));
        assert_eq!(
            group_of(&"arn:aws:logs:us-east-1:1:log-group:/aws/events/x:*".parse().unwrap()),
            Some("/aws/events/x")
        );
        assert_eq!(
            group_of(&"arn:aws:logs:us-east-1:1:log-group:g".parse().unwrap()),
            Some("g")
        );
        assert_eq!(
            group_of(&"arn:aws:logs:us-east-1:1:destination:d".parse().unwrap()),
            None
        );
    }
}
