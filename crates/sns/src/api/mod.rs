//! The wire edge of SNS: the query protocol (`Action=...&Version=2010-03-31`, signing name
//! `sns`), XML responses in `http://sns.amazonaws.com/doc/2010-03-31/`, errors in the
//! `<ErrorResponse>` envelope. `SubscribeURL` and `UnsubscribeURL` are plain GETs of
//! `?Action=ConfirmSubscription&TopicArn=..&Token=..` and `?Action=Unsubscribe&SubscriptionArn=..`
//! (unsigned: the gateway routes them here by their action), answered as AWS answers them.
//!
//! localbridge paths (`Service::admin`): `/_localbridge/sns/SimpleNotificationService-localbridge.pem`
//! (the signing certificate, `SigningCertURL`), `/_localbridge/sns/subscriptions` and
//! `/_localbridge/sns/messages` (what was published to email, email-json, sms and application
//! subscriptions, which localbridge records instead of sending).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::Response;
use lb_core::clock::BoxFuture;
use lb_core::deliver::MessageAttribute;
use lb_core::{AwsError, RequestContext};
use lb_protocol::query::{self, ErrorStyle, Params};
use lb_protocol::{ApiRequest, ServiceSpec, XmlWriter};

use crate::errors::{self, invalid};
use crate::publish::{BatchResult, PublishInput};
use crate::{sign, Sns};

pub const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// Every action of botocore's `sns` 2010-03-31 model.
pub const OPERATIONS: &[&str] = &[
    "AddPermission",
    "CheckIfPhoneNumberIsOptedOut",
    "ConfirmSubscription",
    "CreatePlatformApplication",
    "CreatePlatformEndpoint",
    "CreateSMSSandboxPhoneNumber",
    "CreateTopic",
    "DeleteEndpoint",
    "DeletePlatformApplication",
    "DeleteSMSSandboxPhoneNumber",
    "DeleteTopic",
    "GetDataProtectionPolicy",
    "GetEndpointAttributes",
    "GetPlatformApplicationAttributes",
    "GetSMSAttributes",
    "GetSMSSandboxAccountStatus",
    "GetSubscriptionAttributes",
    "GetTopicAttributes",
    "ListEndpointsByPlatformApplication",
    "ListOriginationNumbers",
    "ListPhoneNumbersOptedOut",
    "ListPlatformApplications",
    "ListSMSSandboxPhoneNumbers",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "ListTagsForResource",
    "ListTopics",
    "OptInPhoneNumber",
    "Publish",
    "PublishBatch",
    "PutDataProtectionPolicy",
    "RemovePermission",
    "SetEndpointAttributes",
    "SetPlatformApplicationAttributes",
    "SetSMSAttributes",
    "SetSubscriptionAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "TagResource",
    "Unsubscribe",
    "UntagResource",
    "VerifySMSSandboxPhoneNumber",
];

/// SNS (botocore `sns` 2010-03-31: protocol `query`, signing name `sns`).
pub const SPEC: ServiceSpec = ServiceSpec {
    operations: OPERATIONS,
    query: true,
    xmlns: XMLNS,
    query_errors: ErrorStyle {
        xmlns: Some(XMLNS),
        detail: false,
    },
    // A message is at most 256 KiB (1 MiB with MaximumMessageSize), a batch ten of them,
    // form-encoded (up to three bytes per byte).
    max_body: 4 * 1024 * 1024,
    ..ServiceSpec::new("sns")
};

/// The actions answered with no result element (botocore: no output shape).
const NO_OUTPUT: &[&str] = &[
    "AddPermission",
    "DeleteTopic",
    "RemovePermission",
    "SetSubscriptionAttributes",
    "SetTopicAttributes",
    "Unsubscribe",
];

/// SNS's wire edge.
pub struct SnsApi {
    sns: Arc<Sns>,
}

impl SnsApi {
    pub fn new(sns: Arc<Sns>) -> Self {
        Self { sns }
    }
}

impl lb_protocol::Service for SnsApi {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        let resp = respond(&req, |action, p, w| handle(&self.sns, &req.ctx, action, p, w));
        Box::pin(async move { resp })
    }

    fn admin(&self, path: &str, _query: Option<&str>) -> Option<Response<Bytes>> {
        let rest = path.strip_prefix("sns/")?;
        let (status, content_type, body) = match rest {
            sign::CERT_FILE => match self.sns.certificate_pem() {
                Some(pem) => (200, "application/x-x509-ca-cert", pem.into_bytes()),
                None => (503, "text/plain", b"no signing certificate".to_vec()),
            },
            "subscriptions" => (
                200,
                "application/json",
                serde_json::to_vec_pretty(&self.sns.subscriptions_report()).unwrap_or_default(),
            ),
            "messages" => (
                200,
                "application/json",
                serde_json::to_vec_pretty(&self.sns.recorded()).unwrap_or_default(),
            ),
            _ => return None,
        };
        let mut resp = Response::new(Bytes::from(body));
        *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
        resp.headers_mut()
            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
        Some(resp)
    }

    fn metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.sns.counters;
        for (name, help, v) in [
            (
                "published_total",
                "Messages accepted by topics (API and producers).",
                &c.published,
            ),
            (
                "deliveries_submitted_total",
                "Deliveries handed to the engine.",
                &c.delivered_submitted,
            ),
            (
                "filtered_total",
                "Subscription deliveries a filter policy left out.",
                &c.filtered,
            ),
            (
                "recorded_total",
                "Messages recorded for protocols localbridge does not send.",
                &c.recorded,
            ),
            (
                "duplicates_total",
                "FIFO messages dropped as duplicates.",
                &c.duplicates,
            ),
            ("dropped_total", "Deliveries the engine did not accept.", &c.dropped),
            (
                "throttled_total",
                "Publishes answered Throttled because the fan-out stage was full.",
                &c.throttled,
            ),
        ] {
            let _ = writeln!(out, "# HELP localbridge_sns_{name} {help}");
            let _ = writeln!(out, "# TYPE localbridge_sns_{name} counter");
            let _ = writeln!(out, "localbridge_sns_{name} {}", v.load(Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP localbridge_sns_fan_out_pending Published messages whose deliveries are being built and signed."
        );
        let _ = writeln!(out, "# TYPE localbridge_sns_fan_out_pending gauge");
        let _ = writeln!(out, "localbridge_sns_fan_out_pending {}", self.sns.fan_out_pending());
    }
}

/// Runs `handler` for the request's action and renders its answer or error.
fn respond(
    req: &ApiRequest,
    handler: impl FnOnce(&str, &Params, &mut XmlWriter) -> Result<(), AwsError>,
) -> Response<Bytes> {
    query::answer(&SPEC, req, NO_OUTPUT, handler)
}

fn required<'a>(p: &'a Params, key: &str) -> Result<&'a str, AwsError> {
    p.get(key).ok_or_else(|| errors::missing(key))
}

fn attributes_entry(w: &mut XmlWriter, attrs: &[(String, String)]) {
    w.open("Attributes");
    for (k, v) in attrs {
        w.open("entry").leaf("key", k).leaf("value", v).close("entry");
    }
    w.close("Attributes");
}

/// `{prefix}.entry.N.Name` / `.Value.DataType` / `.Value.StringValue` / `.Value.BinaryValue`.
fn message_attributes(p: &Params, prefix: &str) -> Result<BTreeMap<String, MessageAttribute>, AwsError> {
    let mut out = BTreeMap::new();
    let entry = format!("{prefix}.entry");
    for n in p.indices(&entry) {
        let Some(name) = p.string(&format!("{entry}.{n}.Name")) else {
            continue;
        };
        let data_type = p.string(&format!("{entry}.{n}.Value.DataType")).ok_or_else(|| {
            errors::parameter_value_invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            ))
        })?;
        let binary = match p.get(&format!("{entry}.{n}.Value.BinaryValue")) {
            Some(b) => Some(base64::engine::general_purpose::STANDARD.decode(b).map_err(|_| {
                invalid(&format!(
                    "MessageAttributes: the binary value of '{name}' is not base64"
                ))
            })?),
            None => None,
        };
        out.insert(
            name,
            MessageAttribute {
                data_type,
                string_value: p.string(&format!("{entry}.{n}.Value.StringValue")),
                binary_value: binary,
            },
        );
    }
    Ok(out)
}

fn publish_input(p: &Params, prefix: &str) -> Result<PublishInput, AwsError> {
    Ok(PublishInput {
        message: p.string(&format!("{prefix}Message")).unwrap_or_default(),
        subject: p.string(&format!("{prefix}Subject")),
        structure: p.string(&format!("{prefix}MessageStructure")),
        attributes: message_attributes(p, &format!("{prefix}MessageAttributes"))?,
        group_id: p.string(&format!("{prefix}MessageGroupId")),
        dedup_id: p.string(&format!("{prefix}MessageDeduplicationId")),
    })
}

fn tags(p: &Params) -> Vec<(String, String)> {
    p.pairs("Tags.member", "Key", "Value")
}

fn handle(sns: &Sns, ctx: &RequestContext, action: &str, p: &Params, w: &mut XmlWriter) -> Result<(), AwsError> {
    match action {
        "CreateTopic" => {
            let name = required(p, "Name")?;
            let arn = sns.create_topic(&ctx.region, &ctx.account, name, &p.entry_map("Attributes"), &tags(p))?;
            w.leaf("TopicArn", &arn);
        }
        "DeleteTopic" => sns.delete_topic(required(p, "TopicArn")?)?,
        "ListTopics" => {
            let (topics, next) = sns.list_topics(&ctx.region, &ctx.account, p.get("NextToken"))?;
            w.open("Topics");
            for t in &topics {
                w.open("member").leaf("TopicArn", t).close("member");
            }
            w.close("Topics");
            w.opt("NextToken", next.as_deref());
        }
        "GetTopicAttributes" => {
            let attrs = sns.get_topic_attributes(required(p, "TopicArn")?)?;
            attributes_entry(w, &attrs);
        }
        "SetTopicAttributes" => {
            let name = required(p, "AttributeName")?;
            sns.set_topic_attribute(required(p, "TopicArn")?, name, p.get("AttributeValue").unwrap_or(""))?;
        }
        "Subscribe" => {
            let return_arn = p
                .get("ReturnSubscriptionArn")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let s = sns.subscribe(
                &ctx.account,
                required(p, "TopicArn")?,
                required(p, "Protocol")?,
                p.get("Endpoint"),
                &p.entry_map("Attributes"),
                return_arn,
            )?;
            w.leaf("SubscriptionArn", &s.arn);
        }
        "ConfirmSubscription" => {
            let arn = sns.confirm_subscription(required(p, "TopicArn")?, required(p, "Token")?)?;
            w.leaf("SubscriptionArn", &arn);
        }
        "Unsubscribe" => sns.unsubscribe(required(p, "SubscriptionArn")?)?,
        "ListSubscriptions" | "ListSubscriptionsByTopic" => {
            let topic = if action == "ListSubscriptionsByTopic" {
                Some(required(p, "TopicArn")?)
            } else {
                None
            };
            let (subs, next) = sns.list_subscriptions(&ctx.region, &ctx.account, topic, p.get("NextToken"))?;
            w.open("Subscriptions");
            for s in &subs {
                w.open("member")
                    .leaf("TopicArn", &s.topic_arn)
                    .leaf("Protocol", &s.protocol)
                    .leaf("SubscriptionArn", s.listed_arn())
                    .leaf("Owner", &s.owner)
                    .leaf("Endpoint", &s.endpoint)
                    .close("member");
            }
            w.close("Subscriptions");
            w.opt("NextToken", next.as_deref());
        }
        "GetSubscriptionAttributes" => {
            let attrs = sns.get_subscription_attributes(required(p, "SubscriptionArn")?)?;
            attributes_entry(w, &attrs);
        }
        "SetSubscriptionAttributes" => {
            let name = required(p, "AttributeName")?;
            sns.set_subscription_attribute(
                required(p, "SubscriptionArn")?,
                name,
                p.get("AttributeValue").unwrap_or(""),
            )?;
        }
        "Publish" => {
            let input = publish_input(p, "")?;
            let published =
                match (p.get("TopicArn"), p.get("TargetArn"), p.get("PhoneNumber")) {
                    (Some(t), None, None) => sns.publish(t, input)?,
                    (None, Some(t), None) => {
                        crate::topics::parse_topic_arn(t, "TargetArn")?;
                        sns.publish(t, input)?
                    }
                    (None, None, Some(phone)) => sns.publish_sms(phone, &input)?,
                    (None, None, None) => {
                        return Err(invalid("TopicArn or TargetArn Reason: no value for required parameter"))
                    }
                    _ => return Err(invalid(
                        "TopicArn or TargetArn Reason: Only one of TopicArn, TargetArn or PhoneNumber may be specified",
                    )),
                };
            w.leaf("MessageId", &published.message_id);
            w.opt("SequenceNumber", published.sequence_number.as_deref());
        }
        "PublishBatch" => {
            let topic = required(p, "TopicArn")?;
            let prefix = "PublishBatchRequestEntries.member";
            let mut entries = Vec::new();
            for n in p.indices(prefix) {
                let entry = format!("{prefix}.{n}.");
                let id = p.string(&format!("{entry}Id")).unwrap_or_default();
                entries.push((id, publish_input(p, &entry)?));
            }
            let results = sns.publish_batch(topic, entries)?;
            w.open("Successful");
            for r in &results {
                if let BatchResult::Ok { id, published } = r {
                    w.open("member").leaf("Id", id).leaf("MessageId", &published.message_id);
                    w.opt("SequenceNumber", published.sequence_number.as_deref());
                    w.close("member");
                }
            }
            w.close("Successful");
            w.open("Failed");
            for r in &results {
                if let BatchResult::Failed { id, error } = r {
                    w.open("member")
                        .leaf("Id", id)
                        .leaf("Code", &error.code)
                        .leaf("Message", &error.message)
                        .leaf("SenderFault", if error.sender_fault { "true" } else { "false" })
                        .close("member");
                }
            }
            w.close("Failed");
        }
        "TagResource" => sns.tag_resource(required(p, "ResourceArn")?, &tags(p))?,
        "UntagResource" => sns.untag_resource(required(p, "ResourceArn")?, &p.member_list("TagKeys"))?,
        "ListTagsForResource" => {
            let tags = sns.list_tags(required(p, "ResourceArn")?)?;
            w.open("Tags");
            for (k, v) in &tags {
                w.open("member").leaf("Key", k).leaf("Value", v).close("member");
            }
            w.close("Tags");
        }
        other if OPERATIONS.contains(&other) => return Err(errors::not_implemented(other)),
        other => return Err(errors::invalid_action(other)),
    }
    Ok(())
}
