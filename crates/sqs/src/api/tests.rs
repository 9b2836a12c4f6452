//! Wire tests: hand-built HTTP requests in both protocols, exact JSON and XML out.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request};
use lb_core::{ManualClock, RequestContext};

use super::handle;
use crate::Sqs;

const T0: u64 = 1_700_000_000_000;
const NS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn setup() -> (Sqs, RequestContext) {
    (Sqs::new(Arc::new(ManualClock::new(T0))), RequestContext::default())
}

async fn call(sqs: &Sqs, ctx: &RequestContext, req: Request<Bytes>) -> Reply {
    let resp = handle(sqs, ctx, req).await;
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: String::from_utf8(resp.body().to_vec()).unwrap(),
    }
}

async fn json(sqs: &Sqs, ctx: &RequestContext, op: &str, body: &str) -> Reply {
    let req = Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "localhost:4566")
        .header("x-amz-target", format!("AmazonSQS.{op}"))
        .header("content-type", "application/x-amz-json-1.0")
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    call(sqs, ctx, req).await
}

async fn query(sqs: &Sqs, ctx: &RequestContext, path: &str, form: &[(&str, &str)]) -> Reply {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().copied())
        .append_pair("Version", "2012-11-05")
        .finish();
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "127.0.0.1:4566")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body))
        .unwrap();
    call(sqs, ctx, req).await
}

/// The value of the first `<tag>` in `xml`.
fn xml_value<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .map(|i| i + open.len())
        .unwrap_or_else(|| panic!("no {tag} in {xml}"));
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    &xml[start..end]
}

#[tokio::test]
async fn json_round_trip_renders_exactly() {
    let (sqs, ctx) = setup();
    let r = json(
        &sqs,
        &ctx,
        "CreateQueue",
        r#"{"QueueName":"q","Attributes":{"VisibilityTimeout":"5"},"tags":{"team":"a"}}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, r#"{"QueueUrl":"http://localhost:4566/000000000000/q"}"#);
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.0"));
    assert_eq!(r.header("x-amzn-requestid"), Some(ctx.request_id.as_str()));

    let r = json(
        &sqs,
        &ctx,
        "SendMessage",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/q","MessageBody":"msg",
            "MessageAttributes":{"Foo":{"DataType":"String","StringValue":"Bar"},
                                 "Bin":{"DataType":"Binary","BinaryValue":"AAEC"}}}"#,
    )
    .await;
    let id = r.json()["MessageId"].as_str().unwrap().to_owned();
    let md5_attrs = r.json()["MD5OfMessageAttributes"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body,
        format!(
            r#"{{"MD5OfMessageBody":"6e2baaf3b97dbeef01c0043275f9a0e7","MD5OfMessageAttributes":"{md5_attrs}","MessageId":"{id}"}}"#
        )
    );

    let r = json(
        &sqs,
        &ctx,
        "ReceiveMessage",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/q","AttributeNames":["All"],"MessageAttributeNames":["Foo"],"MaxNumberOfMessages":10}"#,
    )
    .await;
    let rh = r.json()["Messages"][0]["ReceiptHandle"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body,
        format!(
            concat!(
                r#"{{"Messages":[{{"MessageId":"{id}","ReceiptHandle":"{rh}","MD5OfBody":"6e2baaf3b97dbeef01c0043275f9a0e7","Body":"msg","#,
                r#""Attributes":{{"ApproximateFirstReceiveTimestamp":"{t}","ApproximateReceiveCount":"1","SenderId":"000000000000","SentTimestamp":"{t}"}},"#,
                r#""MD5OfMessageAttributes":"ae7155c6026991b6d54b11589678bf9c","#,
                r#""MessageAttributes":{{"Foo":{{"StringValue":"Bar","DataType":"String"}}}}}}]}}"#
            ),
            id = id,
            rh = rh,
            t = T0
        )
    );

    let r = json(
        &sqs,
        &ctx,
        "DeleteMessage",
        &format!(r#"{{"QueueUrl":"http://localhost:4566/000000000000/q","ReceiptHandle":"{rh}"}}"#),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    let r = json(
        &sqs,
        &ctx,
        "ReceiveMessage",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/q"}"#,
    )
    .await;
    assert_eq!(r.body, "{}", "no Messages key when empty, as AWS");
    let r = json(
        &sqs,
        &ctx,
        "ListQueueTags",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/q"}"#,
    )
    .await;
    assert_eq!(r.body, r#"{"Tags":{"team":"a"}}"#);
    let r = json(&sqs, &ctx, "ListQueues", r#"{"QueueNamePrefix":"zzz"}"#).await;
    assert_eq!(r.body, "{}");
    let r = json(
        &sqs,
        &ctx,
        "GetQueueAttributes",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/q","AttributeNames":["VisibilityTimeout","QueueArn"]}"#,
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"Attributes":{"QueueArn":"arn:aws:sqs:us-east-1:000000000000:q","VisibilityTimeout":"5"}}"#
    );
}

#[tokio::test]
async fn json_errors_carry_the_shape_and_the_query_code() {
    let (sqs, ctx) = setup();
    let r = json(&sqs, &ctx, "GetQueueUrl", r#"{"QueueName":"nope"}"#).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#
    );
    assert_eq!(
        r.header("x-amzn-query-error"),
        Some("AWS.SimpleQueueService.NonExistentQueue;Sender")
    );
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.0"));
    assert_eq!(r.header("x-amzn-requestid"), Some(ctx.request_id.as_str()));

    let r = json(&sqs, &ctx, "SendMessage", r#"{"MessageBody":"x"}"#).await;
    assert_eq!(
        r.body,
        r#"{"__type":"com.amazonaws.sqs#MissingRequiredParameterException","message":"The request must contain the parameter QueueUrl."}"#
    );
    assert_eq!(r.header("x-amzn-query-error"), Some("MissingParameter;Sender"));

    let r = json(&sqs, &ctx, "Nope", "{}").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        r#"{"__type":"com.amazon.coral.service#UnknownOperationException","message":"Operation Nope is not supported."}"#
    );
    assert_eq!(r.header("x-amzn-query-error"), None);

    for bad in ["{", "[1]", r#"{"QueueName": 5}"#, "\u{0}"] {
        let r = json(&sqs, &ctx, "CreateQueue", bad).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(
            r.json()["__type"],
            "com.amazon.coral.service#SerializationException",
            "{bad}"
        );
    }
    json(&sqs, &ctx, "CreateQueue", r#"{"QueueName":"q"}"#).await;
    let r = json(
        &sqs,
        &ctx,
        "ReceiveMessage",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/q","MaxNumberOfMessages":11}"#,
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"__type":"com.amazonaws.sqs#InvalidParameterValueException","message":"Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."}"#
    );
    assert_eq!(r.header("x-amzn-query-error"), Some("InvalidParameterValue;Sender"));
    let r = json(
        &sqs,
        &ctx,
        "DeleteMessage",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/q","ReceiptHandle":"bogus"}"#,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["__type"], "com.amazonaws.sqs#ReceiptHandleIsInvalid");
    let r = json(&sqs, &ctx, "PurgeQueue", r#"{"QueueUrl":"not a url"}"#).await;
    assert_eq!(
        (r.status, r.json()["__type"].as_str()),
        (404, Some("com.amazonaws.sqs#InvalidAddress"))
    );
}

#[tokio::test]
async fn json_batches_and_other_shapes() {
    let (sqs, ctx) = setup();
    json(
        &sqs,
        &ctx,
        "CreateQueue",
        r#"{"QueueName":"q","Attributes":{"MaximumMessageSize":"1024"}}"#,
    )
    .await;
    let big = "x".repeat(1025);
    let r = json(
        &sqs,
        &ctx,
        "SendMessageBatch",
        &format!(
            r#"{{"QueueUrl":"http://localhost:4566/000000000000/q","Entries":[{{"Id":"a","MessageBody":"hi"}},{{"Id":"b","MessageBody":"{big}"}}]}}"#
        ),
    )
    .await;
    let id = r.json()["Successful"][0]["MessageId"].as_str().unwrap().to_owned();
    assert_eq!(
        r.body,
        format!(
            concat!(
                r#"{{"Successful":[{{"Id":"a","MD5OfMessageBody":"49f68a5c8493ec2c0bf489821c21fc3b","MessageId":"{}"}}],"#,
                r#""Failed":[{{"Id":"b","SenderFault":true,"Code":"InvalidParameterValue","Message":"One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes."}}]}}"#
            ),
            id
        )
    );
    let r = json(
        &sqs,
        &ctx,
        "SendMessageBatch",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/q","Entries":[]}"#,
    )
    .await;
    assert_eq!(r.json()["__type"], "com.amazonaws.sqs#EmptyBatchRequest");
    assert_eq!(
        r.header("x-amzn-query-error"),
        Some("AWS.SimpleQueueService.EmptyBatchRequest;Sender")
    );
    let r = json(
        &sqs,
        &ctx,
        "DeleteMessageBatch",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/q","Entries":[{"Id":"x","ReceiptHandle":"bad"}]}"#,
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"Failed":[{"Id":"x","SenderFault":true,"Code":"ReceiptHandleIsInvalid","Message":"The input receipt handle \"bad\" is not a valid receipt handle."}]}"#
    );

    json(&sqs, &ctx, "CreateQueue", r#"{"QueueName":"dlq"}"#).await;
    json(
        &sqs,
        &ctx,
        "SetQueueAttributes",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/q","Attributes":{"RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:dlq\",\"maxReceiveCount\":1}"}}"#,
    )
    .await;
    let r = json(
        &sqs,
        &ctx,
        "ListDeadLetterSourceQueues",
        r#"{"QueueUrl":"http://localhost:4566/000000000000/dlq"}"#,
    )
    .await;
    assert_eq!(r.body, r#"{"queueUrls":["http://localhost:4566/000000000000/q"]}"#);
    let r = json(
        &sqs,
        &ctx,
        "StartMessageMoveTask",
        r#"{"SourceArn":"arn:aws:sqs:us-east-1:000000000000:dlq","MaxNumberOfMessagesPerSecond":1}"#,
    )
    .await;
    assert!(r.json()["TaskHandle"].is_string(), "{}", r.body);
    let r = json(
        &sqs,
        &ctx,
        "ListMessageMoveTasks",
        r#"{"SourceArn":"arn:aws:sqs:us-east-1:000000000000:dlq"}"#,
    )
    .await;
    let task = &r.json()["Results"][0];
    assert_eq!(task["SourceArn"], "arn:aws:sqs:us-east-1:000000000000:dlq");
    assert!(task["ApproximateNumberOfMessagesMoved"].is_i64());
    assert_eq!(task["StartedTimestamp"], T0);
}

#[tokio::test]
async fn query_round_trip_renders_exactly() {
    let (sqs, ctx) = setup();
    let rid = &ctx.request_id;
    let r = query(
        &sqs,
        &ctx,
        "/",
        &[
            ("Action", "CreateQueue"),
            ("QueueName", "q"),
            ("Attribute.1.Name", "DelaySeconds"),
            ("Attribute.1.Value", "0"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/xml"));
    assert_eq!(
        r.body,
        format!(
            r#"<?xml version="1.0"?><CreateQueueResponse xmlns="{NS}"><CreateQueueResult><QueueUrl>http://127.0.0.1:4566/000000000000/q</QueueUrl></CreateQueueResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></CreateQueueResponse>"#
        )
    );

    // Sent to the queue URL itself, without QueueUrl.
    let r = query(
        &sqs,
        &ctx,
        "/000000000000/q",
        &[
            ("Action", "SendMessage"),
            ("MessageBody", "a<b>&\r\n"),
            ("MessageAttribute.1.Name", "Foo"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "Bar"),
        ],
    )
    .await;
    let id = xml_value(&r.body, "MessageId").to_owned();
    let md5 = xml_value(&r.body, "MD5OfMessageBody").to_owned();
    assert_eq!(md5, crate::digest::md5_hex(b"a<b>&\r\n"));
    assert_eq!(
        r.body,
        format!(
            r#"<?xml version="1.0"?><SendMessageResponse xmlns="{NS}"><SendMessageResult><MessageId>{id}</MessageId><MD5OfMessageBody>{md5}</MD5OfMessageBody><MD5OfMessageAttributes>ae7155c6026991b6d54b11589678bf9c</MD5OfMessageAttributes></SendMessageResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></SendMessageResponse>"#
        )
    );

    let r = query(
        &sqs,
        &ctx,
        "/",
        &[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", "http://whatever:1/000000000000/q"),
            ("AttributeName.1", "SentTimestamp"),
            ("AttributeName.2", "ApproximateReceiveCount"),
            ("MessageAttributeName.1", "All"),
        ],
    )
    .await;
    let rh = xml_value(&r.body, "ReceiptHandle").to_owned();
    assert_eq!(
        r.body,
        format!(
            concat!(
                r#"<?xml version="1.0"?><ReceiveMessageResponse xmlns="{ns}"><ReceiveMessageResult><Message>"#,
                "<MessageId>{id}</MessageId><ReceiptHandle>{rh}</ReceiptHandle><MD5OfBody>{md5}</MD5OfBody>",
                "<Body>a&lt;b&gt;&amp;&#xD;\n</Body>",
                "<Attribute><Name>SentTimestamp</Name><Value>{t}</Value></Attribute>",
                "<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>",
                "<MD5OfMessageAttributes>ae7155c6026991b6d54b11589678bf9c</MD5OfMessageAttributes>",
                "<MessageAttribute><Name>Foo</Name><Value><StringValue>Bar</StringValue><DataType>String</DataType></Value></MessageAttribute>",
                "</Message></ReceiveMessageResult><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></ReceiveMessageResponse>"
            ),
            ns = NS,
            id = id,
            rh = rh,
            md5 = md5,
            t = T0,
            rid = rid
        )
    );
    let r = query(&sqs, &ctx, "/000000000000/q", &[("Action", "ReceiveMessage")]).await;
    assert!(r.body.contains("<ReceiveMessageResult/>"), "{}", r.body);

    let r = query(
        &sqs,
        &ctx,
        "/000000000000/q",
        &[("Action", "DeleteMessage"), ("ReceiptHandle", &rh)],
    )
    .await;
    assert_eq!(
        r.body,
        format!(
            r#"<?xml version="1.0"?><DeleteMessageResponse xmlns="{NS}"><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></DeleteMessageResponse>"#
        )
    );
    let r = query(
        &sqs,
        &ctx,
        "/",
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", "/000000000000/q"),
            ("AttributeName.1", "DelaySeconds"),
        ],
    )
    .await;
    assert!(
        r.body.contains("<GetQueueAttributesResult><Attribute><Name>DelaySeconds</Name><Value>0</Value></Attribute></GetQueueAttributesResult>"),
        "{}",
        r.body
    );
    let r = query(&sqs, &ctx, "/", &[("Action", "ListQueues")]).await;
    assert!(r
        .body
        .contains("<ListQueuesResult><QueueUrl>http://127.0.0.1:4566/000000000000/q</QueueUrl></ListQueuesResult>"));
}

#[tokio::test]
async fn query_errors_are_error_responses() {
    let (sqs, ctx) = setup();
    let rid = &ctx.request_id;
    let r = query(&sqs, &ctx, "/", &[("Action", "GetQueueUrl"), ("QueueName", "nope")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        format!(
            r#"<?xml version="1.0"?><ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist for this wsdl version.</Message><Detail/></Error><RequestId>{rid}</RequestId></ErrorResponse>"#
        )
    );
    let r = query(&sqs, &ctx, "/", &[("Action", "Frobnicate")]).await;
    assert_eq!((r.status, xml_value(&r.body, "Code")), (400, "InvalidAction"));
    let r = query(&sqs, &ctx, "/", &[]).await;
    assert_eq!(xml_value(&r.body, "Code"), "MissingAction");
    let r = query(&sqs, &ctx, "/", &[("Action", "SendMessage"), ("MessageBody", "x")]).await;
    assert_eq!(xml_value(&r.body, "Code"), "MissingParameter");
    assert_eq!(
        xml_value(&r.body, "Message"),
        "The request must contain the parameter QueueUrl."
    );
    query(&sqs, &ctx, "/", &[("Action", "CreateQueue"), ("QueueName", "q")]).await;
    let entries: Vec<(String, String)> = (1..=11)
        .flat_map(|i| {
            [
                (format!("SendMessageBatchRequestEntry.{i}.Id"), format!("e{i}")),
                (format!("SendMessageBatchRequestEntry.{i}.MessageBody"), "x".to_owned()),
            ]
        })
        .collect();
    let mut form: Vec<(&str, &str)> = vec![("Action", "SendMessageBatch")];
    form.extend(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let r = query(&sqs, &ctx, "/000000000000/q", &form).await;
    assert_eq!(
        xml_value(&r.body, "Code"),
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    );
    assert_eq!(
        xml_value(&r.body, "Message"),
        "Maximum number of entries per request are 10. You have sent 11."
    );
    let r = query(
        &sqs,
        &ctx,
        "/000000000000/q",
        &[("Action", "ReceiveMessage"), ("WaitTimeSeconds", "abc")],
    )
    .await;
    assert_eq!(xml_value(&r.body, "Code"), "InvalidParameterValue");
    let r = query(
        &sqs,
        &ctx,
        "/000000000000/q",
        &[("Action", "DeleteMessage"), ("ReceiptHandle", "x")],
    )
    .await;
    assert_eq!((r.status, xml_value(&r.body, "Code")), (404, "ReceiptHandleIsInvalid"));
}

#[tokio::test]
async fn query_batches_tags_and_get_requests() {
    let (sqs, ctx) = setup();
    query(
        &sqs,
        &ctx,
        "/",
        &[
            ("Action", "CreateQueue"),
            ("QueueName", "q"),
            ("Tag.1.Key", "team"),
            ("Tag.1.Value", "a"),
        ],
    )
    .await;
    let r = query(
        &sqs,
        &ctx,
        "/000000000000/q",
        &[
            ("Action", "SendMessageBatch"),
            ("SendMessageBatchRequestEntry.1.Id", "one"),
            ("SendMessageBatchRequestEntry.1.MessageBody", "1"),
            ("SendMessageBatchRequestEntry.1.MessageAttribute.1.Name", "Foo"),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType",
                "String",
            ),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue",
                "Bar",
            ),
            ("SendMessageBatchRequestEntry.2.Id", "two"),
            ("SendMessageBatchRequestEntry.2.MessageBody", ""),
        ],
    )
    .await;
    let result = xml_value(&r.body, "SendMessageBatchResult");
    let id = xml_value(result, "MessageId");
    assert_eq!(
        result,
        format!(
            "<SendMessageBatchResultEntry><Id>one</Id><MessageId>{id}</MessageId><MD5OfMessageBody>c4ca4238a0b923820dcc509a6f75849b</MD5OfMessageBody><MD5OfMessageAttributes>ae7155c6026991b6d54b11589678bf9c</MD5OfMessageAttributes></SendMessageBatchResultEntry><BatchResultErrorEntry><Id>two</Id><SenderFault>true</SenderFault><Code>MissingParameter</Code><Message>The request must contain the parameter MessageBody.</Message></BatchResultErrorEntry>"
        )
    );
    let r = query(
        &sqs,
        &ctx,
        "/000000000000/q",
        &[("Action", "TagQueue"), ("Tag.1.Key", "env"), ("Tag.1.Value", "dev")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    query(
        &sqs,
        &ctx,
        "/000000000000/q",
        &[("Action", "UntagQueue"), ("TagKey.1", "team")],
    )
    .await;
    let r = query(&sqs, &ctx, "/000000000000/q", &[("Action", "ListQueueTags")]).await;
    assert!(
        r.body
            .contains("<ListQueueTagsResult><Tag><Key>env</Key><Value>dev</Value></Tag></ListQueueTagsResult>"),
        "{}",
        r.body
    );

    // GET with everything in the query string.
    let req = Request::builder()
        .method("GET")
        .uri("/?Action=GetQueueUrl&QueueName=q&Version=2012-11-05")
        .header("host", "sqs.local:9")
        .body(Bytes::new())
        .unwrap();
    let r = call(&sqs, &ctx, req).await;
    assert_eq!(xml_value(&r.body, "QueueUrl"), "http://sqs.local:9/000000000000/q");
    // No Host header: the default endpoint.
    let req = Request::builder()
        .method("GET")
        .uri("/?Action=GetQueueUrl&QueueName=q")
        .body(Bytes::new())
        .unwrap();
    let r = call(&sqs, &ctx, req).await;
    assert_eq!(xml_value(&r.body, "QueueUrl"), "http://localhost:4566/000000000000/q");
}

#[tokio::test]
async fn hostile_input_never_panics() {
    let (sqs, ctx) = setup();
    json(&sqs, &ctx, "CreateQueue", r#"{"QueueName":"q"}"#).await;
    let bodies = [
        r#"{"QueueUrl":"/000000000000/q","MessageBody":"\ud800"}"#,
        r#"{"QueueUrl":"/000000000000/q","MessageBody":"x","DelaySeconds":99999999999999999999}"#,
        r#"{"QueueUrl":"/000000000000/q","MessageBody":"x","MessageAttributes":{"a":{}}}"#,
        r#"{"QueueUrl":"/000000000000/q","MessageBody":"x","MessageAttributes":{"a":{"DataType":"Binary","BinaryValue":"%%%"}}}"#,
        r#"{"QueueUrl":"/","MessageBody":"x"}"#,
        r#"{"QueueUrl":"/000000000000/q","MessageBody":"x","MessageGroupId":""}"#,
        "null",
        "",
    ];
    for b in bodies {
        let r = json(&sqs, &ctx, "SendMessage", b).await;
        assert!(r.status == 400 || r.status == 404, "{b}: {} {}", r.status, r.body);
    }
    for op in super::OPERATIONS {
        let r = json(&sqs, &ctx, op, "{}").await;
        assert!(r.status >= 400 || op == "ListQueues", "{op}: {}", r.body);
        let r = query(&sqs, &ctx, "/", &[("Action", op), ("QueueUrl", "x")]).await;
        assert!(r.status >= 400 || op == "ListQueues", "{op}: {}", r.body);
        let r = query(
            &sqs,
            &ctx,
            "/000000000000/q",
            &[("Action", op), ("MaxResults", "-1"), ("ReceiptHandle", "%")],
        )
        .await;
        assert!(r.status < 600, "{op}");
    }
}

/// Rough cost of the SQS layer alone (no HTTP server): `cargo test -p localbridge-sqs --release
/// -- --ignored --nocapture send_message_cost`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn send_message_cost() {
    let sqs = Sqs::new(Arc::new(lb_core::SystemClock));
    let ctx = RequestContext::default();
    json(&sqs, &ctx, "CreateQueue", r#"{"QueueName":"bench"}"#).await;
    let body =
        Bytes::from_static(br#"{"QueueUrl":"http://127.0.0.1/000000000000/bench","MessageBody":"hello from wrk"}"#);
    let n = 300_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        let req = Request::builder()
            .method("POST")
            .uri("/")
            .header("host", "127.0.0.1:4566")
            .header("x-amz-target", "AmazonSQS.SendMessage")
            .header("content-type", "application/x-amz-json-1.0")
            .body(body.clone())
            .unwrap();
        let resp = handle(&sqs, &ctx, req).await;
        assert_eq!(resp.status(), 200);
    }
    let per = start.elapsed() / n;
    println!("SendMessage through api::handle: {per:?} per request");
}
