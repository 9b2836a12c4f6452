//! The JSON documents SNS delivers, field for field as AWS writes them (SNS Developer Guide,
//! "Parsing message formats": HTTP/HTTPS notification and subscription confirmation JSON; the
//! same notification document is the body of an SQS message that is not raw).
//!
//! AWS writes them pretty-printed (`"Key" : value` pairs, two-space indentation), the message
//! attributes one per line as compact objects; the Lambda event is compact JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use lb_core::deliver::MessageAttribute;
use serde_json::Value;

use crate::sign::{Canonical, Signer};

/// What a notification carries, before signing.
#[derive(Debug, Clone, Copy)]
pub struct Notification<'a> {
    pub message_id: &'a str,
    pub topic_arn: &'a str,
    pub subject: Option<&'a str>,
    pub message: &'a str,
    pub timestamp: &'a str,
    pub signature_version: &'a str,
    pub attributes: &'a BTreeMap<String, MessageAttribute>,
    /// FIFO topics: the sequence number.
    pub sequence_number: Option<&'a str>,
}

impl Notification<'_> {
    pub fn canonical(&self) -> Canonical<'_> {
        Canonical {
            message: self.message,
            message_id: self.message_id,
            subject: self.subject,
            timestamp: self.timestamp,
            topic_arn: self.topic_arn,
            kind: "Notification",
            ..Canonical::default()
        }
    }
}

fn q(v: &str) -> String {
    Value::String(v.to_owned()).to_string()
}

/// A message attribute as a notification shows it: `{"Type":"String","Value":"..."}`
/// (Binary values base64).
pub fn attribute_json(a: &MessageAttribute) -> String {
    let value = match (&a.string_value, &a.binary_value) {
        (Some(s), _) => s.clone(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        (None, None) => String::new(),
    };
    format!("{{\"Type\":{},\"Value\":{}}}", q(&a.data_type), q(&value))
}

/// The notification document (the body of an HTTP/S POST and of a non-raw SQS message).
pub fn notification(n: &Notification<'_>, signature: &str, cert_url: &str, unsubscribe_url: &str) -> String {
    let mut out = String::with_capacity(n.message.len() + 1024);
    let mut field = |k: &str, v: &str, first: bool| {
        if !first {
            out.push_str(",\n");
        }
        let _ = write!(out, "  \"{k}\" : {}", q(v));
    };
    field("Type", "Notification", true);
    field("MessageId", n.message_id, false);
    if let Some(seq) = n.sequence_number {
        field("SequenceNumber", seq, false);
    }
    field("TopicArn", n.topic_arn, false);
    if let Some(s) = n.subject {
        field("Subject", s, false);
    }
    field("Message", n.message, false);
    field("Timestamp", n.timestamp, false);
    field("SignatureVersion", n.signature_version, false);
    field("Signature", signature, false);
    field("SigningCertURL", cert_url, false);
    field("UnsubscribeURL", unsubscribe_url, false);
    let attrs: Vec<(&String, &MessageAttribute)> = n.attributes.iter().filter(|(k, _)| !k.starts_with("lb.")).collect();
    if !attrs.is_empty() {
        out.push_str(",\n  \"MessageAttributes\" : {");
        for (i, (k, a)) in attrs.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            let _ = write!(out, "    {} : {}", q(k), attribute_json(a));
        }
        out.push_str("\n  }");
    }
    format!("{{\n{out}\n}}")
}

/// What a subscription confirmation carries.
#[derive(Debug, Clone, Copy)]
pub struct Confirmation<'a> {
    pub kind: &'a str,
    pub message_id: &'a str,
    pub token: &'a str,
    pub topic_arn: &'a str,
    pub message: &'a str,
    pub subscribe_url: &'a str,
    pub timestamp: &'a str,
    pub signature_version: &'a str,
}

impl Confirmation<'_> {
    pub fn canonical(&self) -> Canonical<'_> {
        Canonical {
            message: self.message,
            message_id: self.message_id,
            subscribe_url: Some(self.subscribe_url),
            timestamp: self.timestamp,
            token: Some(self.token),
            topic_arn: self.topic_arn,
            kind: self.kind,
            ..Canonical::default()
        }
    }
}

/// The SubscriptionConfirmation (or UnsubscribeConfirmation) document.
pub fn confirmation(c: &Confirmation<'_>, signer: &Signer, cert_url: &str) -> String {
    let signature = signer.sign(c.signature_version, &c.canonical().string());
    let fields = [
        ("Type", c.kind),
        ("MessageId", c.message_id),
        ("Token", c.token),
        ("TopicArn", c.topic_arn),
        ("Message", c.message),
        ("SubscribeURL", c.subscribe_url),
        ("Timestamp", c.timestamp),
        ("SignatureVersion", c.signature_version),
        ("Signature", &signature),
        ("SigningCertURL", cert_url),
    ];
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("  \"{k}\" : {}", q(v))).collect();
    format!("{{\n{}\n}}", body.join(",\n"))
}

/// The event a Lambda subscription's function receives (Lambda Developer Guide, "Using AWS
/// Lambda with Amazon SNS": `Records[].Sns`, with `SigningCertUrl` / `UnsubscribeUrl` spelled
/// so and `Subject` null when absent).
pub fn lambda_event(
    n: &Notification<'_>,
    subscription_arn: &str,
    signature: &str,
    cert_url: &str,
    unsubscribe_url: &str,
) -> String {
    let attrs: serde_json::Map<String, Value> = n
        .attributes
        .iter()
        .filter(|(k, _)| !k.starts_with("lb."))
        .map(|(k, a)| {
            (
                k.clone(),
                serde_json::from_str(&attribute_json(a)).unwrap_or(Value::Null),
            )
        })
        .collect();
    serde_json::json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription_arn,
            "Sns": {
                "Type": "Notification",
                "MessageId": n.message_id,
                "TopicArn": n.topic_arn,
                "Subject": n.subject,
                "Message": n.message,
                "Timestamp": n.timestamp,
                "SignatureVersion": n.signature_version,
                "Signature": signature,
                "SigningCertUrl": cert_url,
                "UnsubscribeUrl": unsubscribe_url,
                "MessageAttributes": attrs,
            }
        }]
    })
    .to_string()
}
