//! The control plane and Invoke without HTTP, with real Python processes.

use std::sync::Mutex as StdMutex;

use bytes::Bytes;
use lb_core::SystemClock;

use super::*;
use crate::code::tests::zip_of;

#[derive(Default)]
struct Sink(StdMutex<Vec<(String, String, String)>>);

impl LogSink for Sink {
    fn append(&self, _region: &str, _account: &str, group: &str, stream: &str, events: Vec<lb_core::logs::LogEvent>) {
        let mut v = self.0.lock().unwrap();
        for e in events {
            v.push((group.to_owned(), stream.to_owned(), e.message));
        }
    }
}

fn lambda() -> (Arc<Lambda>, Arc<Sink>) {
    let sink = Arc::new(Sink::default());
    let config = LambdaConfig {
        root: std::env::temp_dir().join(format!(
            "lb-lambda-svc-{}-{}",
            std::process::id(),
            lb_core::ids::random_u64()
        )),
        ..LambdaConfig::default()
    };
    let l = Lambda::new(
        config,
        Arc::new(SystemClock),
        None,
        Some(Arc::clone(&sink) as Arc<dyn LogSink>),
        None,
        None,
    );
    (l, sink)
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: lb_core::ids::uuid(),
        ..RequestContext::default()
    }
}

fn create(l: &Lambda, name: &str, code: &str) -> Result<Value, AwsError> {
    l.create_function(
        &ctx(),
        CreateFunctionInput {
            function_name: Some(name.into()),
            runtime: Some("python3.12".into()),
            role: Some("arn:aws:iam::000000000000:role/any".into()),
            handler: Some("app.lambda_handler".into()),
            zip_file: Some(zip_of(&[("app.py", code, 0o644)])),
            environment: Some([("GREETING".to_owned(), "hi".to_owned())].into()),
            ..CreateFunctionInput::default()
        },
    )
}

fn invoke_input(name: &str, payload: &str) -> InvokeInput {
    InvokeInput {
        function_name: name.into(),
        qualifier: None,
        invocation_type: InvocationType::RequestResponse,
        log_tail: true,
        client_context: None,
        payload: Bytes::from(payload.to_owned()),
    }
}

const ECHO: &str = "import json, os\ndef lambda_handler(event, context):\n    print(json.dumps(event))\n    return {'statusCode': 200, 'greeting': os.environ['GREETING'], 'endpoint': os.environ['AWS_ENDPOINT_URL']}\n";

#[tokio::test]
async fn create_get_invoke_update_delete() {
    let (l, sink) = lambda();
    let created = create(&l, "thumbs", ECHO).unwrap();
    assert_eq!(created["State"], "Pending");
    assert_eq!(created["StateReasonCode"], "Creating");
    assert_eq!(
        created["FunctionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:thumbs"
    );
    assert_eq!(created["Timeout"], 3);
    assert_eq!(created["MemorySize"], 128);
    assert_eq!(created["PackageType"], "Zip");
    assert_eq!(created["Environment"]["Variables"]["GREETING"], "hi");
    assert_eq!(
        created["LoggingConfig"],
        json!({"LogFormat": "Text", "LogGroup": "/aws/lambda/thumbs"})
    );
    let got = l.get_function(&ctx(), "thumbs").unwrap();
    assert_eq!(got["Configuration"]["State"], "Active");
    assert_eq!(got["Configuration"]["LastUpdateStatus"], "Successful");
    let again = create(&l, "thumbs", ECHO).unwrap_err();
    assert_eq!((again.code.as_ref(), again.status), ("ResourceConflictException", 409));
    assert_eq!(again.message, "Function already exist: thumbs");

    let out = l.invoke(&ctx(), invoke_input("thumbs", r#"{"k": "v"}"#)).await.unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.function_error, None, "{:?}", out.payload);
    assert_eq!(
        out.payload,
        Bytes::from_static(br#"{"statusCode": 200, "greeting": "hi", "endpoint": "http://127.0.0.1:4566"}"#)
    );
    let tail = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, out.log_result.unwrap()).unwrap();
    let tail = String::from_utf8(tail).unwrap();
    assert!(
        tail.starts_with("START RequestId: ") && tail.contains("\n{\"k\": \"v\"}\nEND RequestId: "),
        "{tail}"
    );
    let lines = sink.0.lock().unwrap().clone();
    assert!(lines.iter().all(|(g, _, _)| g == "/aws/lambda/thumbs"));
    let stream = &lines[0].1;
    assert!(
        stream.contains("/[$LATEST]") && stream.len() == "2026/12/06/[$LATEST]".len() + 32,
        "{stream}"
    );
    assert!(
        lines[0].2.starts_with("INIT_START Runtime Version: python:3.12"),
        "{}",
        lines[0].2
    );

    // New code: the next invocation runs it.
    l.update_function_code(
        &ctx(),
        "thumbs",
        Some(zip_of(&[(
            "app.py",
            "def lambda_handler(e, c):\n    return 'v2'\n",
            0o644,
        )])),
        None,
    )
    .unwrap();
    let out = l.invoke(&ctx(), invoke_input("thumbs", "{}")).await.unwrap();
    assert_eq!(out.payload, Bytes::from_static(b"\"v2\""));

    l.delete_function(&ctx(), "thumbs").unwrap();
    let gone = l.invoke(&ctx(), invoke_input("thumbs", "{}")).await.unwrap_err();
    assert_eq!(gone.code.as_ref(), "ResourceNotFoundException");
    assert_eq!(
        gone.message,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:thumbs"
    );
}

#[tokio::test]
async fn errors_are_unhandled_function_errors() {
    let (l, _) = lambda();
    create(&l, "boom", "def lambda_handler(e, c):\n    raise KeyError('missing')\n").unwrap();
    let out = l.invoke(&ctx(), invoke_input("boom", "{}")).await.unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.function_error, Some("Unhandled"));
    let v: Value = serde_json::from_slice(&out.payload).unwrap();
    assert_eq!(v["errorType"], "KeyError");
    assert_eq!(v["errorMessage"], "'missing'");
    let bad = l.invoke(&ctx(), invoke_input("boom", "{not json")).await.unwrap_err();
    assert_eq!(bad.code.as_ref(), "InvalidRequestContentException");
}

#[test]
fn validation_follows_aws() {
    let (l, _) = lambda();
    let err = |input: CreateFunctionInput| l.create_function(&ctx(), input).unwrap_err();
    let base = || CreateFunctionInput {
        function_name: Some("f".into()),
        runtime: Some("python3.12".into()),
        role: Some("arn:aws:iam::000000000000:role/r".into()),
        handler: Some("app.h".into()),
        zip_file: Some(zip_of(&[("app.py", "", 0o644)])),
        ..CreateFunctionInput::default()
    };
    let e = err(CreateFunctionInput {
        runtime: Some("python2.7".into()),
        ..base()
    });
    assert_eq!(e.code.as_ref(), "InvalidParameterValueException");
    assert!(
        e.message
            .starts_with("The runtime parameter of python2.7 is no longer supported"),
        "{}",
        e.message
    );
    let e = err(CreateFunctionInput {
        environment: Some([("AWS_REGION".to_owned(), "x".to_owned())].into()),
        ..base()
    });
    assert!(
        e.message.ends_with("Reserved keys used in this request: AWS_REGION"),
        "{}",
        e.message
    );
    let e = err(CreateFunctionInput {
        role: Some("not-a-role".into()),
        ..base()
    });
    assert_eq!(e.code.as_ref(), "ValidationException");
    let e = err(CreateFunctionInput {
        zip_file: Some(b"nope".to_vec()),
        ..base()
    });
    assert_eq!(
        e.message,
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    );
    let e = err(CreateFunctionInput {
        timeout: Some(0),
        ..base()
    });
    assert_eq!(e.code.as_ref(), "ValidationException");
}

#[test]
fn permissions_as_aws_writes_them() {
    let (l, _) = lambda();
    create(&l, "thumbs", ECHO).unwrap();
    let missing = l.get_policy(&ctx(), "thumbs").unwrap_err();
    assert_eq!(missing.message, "The resource you requested does not exist.");
    let out = l
        .add_permission(
            &ctx(),
            "thumbs",
            AddPermissionInput {
                statement_id: Some("s3".into()),
                action: Some("lambda:InvokeFunction".into()),
                principal: Some("s3.amazonaws.com".into()),
                source_arn: Some("arn:aws:s3:::photos".into()),
                source_account: Some("000000000000".into()),
                ..AddPermissionInput::default()
            },
        )
        .unwrap();
    let statement: Value = serde_json::from_str(out["Statement"].as_str().unwrap()).unwrap();
    assert_eq!(
        statement,
        json!({
            "Sid": "s3",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:000000000000:function:thumbs",
            "Condition": {"StringEquals": {"AWS:SourceAccount": "000000000000"}, "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::photos"}}
        })
    );
    let dup = l
        .add_permission(
            &ctx(),
            "thumbs",
            AddPermissionInput {
                statement_id: Some("s3".into()),
                action: Some("lambda:InvokeFunction".into()),
                principal: Some("s3.amazonaws.com".into()),
                ..AddPermissionInput::default()
            },
        )
        .unwrap_err();
    assert_eq!(dup.code.as_ref(), "ResourceConflictException");
    let policy: Value =
        serde_json::from_str(l.get_policy(&ctx(), "thumbs").unwrap()["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0]["Sid"], "s3");
    l.remove_permission(&ctx(), "thumbs", "s3", None).unwrap();
    let e = l.remove_permission(&ctx(), "thumbs", "s3", None).unwrap_err();
    assert_eq!(e.message, "Statement s3 is not found in resource policy.");
}

#[tokio::test]
async fn asynchronous_events_are_bounded() {
    let sink = Arc::new(Sink::default());
    let config = LambdaConfig {
        root: std::env::temp_dir().join(format!(
            "lb-lambda-bound-{}-{}",
            std::process::id(),
            lb_core::ids::random_u64()
        )),
        max_async_events: 1,
        ..LambdaConfig::default()
    };
    let l = Lambda::new(
        config,
        Arc::new(SystemClock),
        None,
        Some(sink as Arc<dyn LogSink>),
        None,
        None,
    );
    create(
        &l,
        "slow",
        "import time\ndef lambda_handler(e, c):\n    time.sleep(2)\n",
    )
    .unwrap();
    let event = || InvokeInput {
        invocation_type: InvocationType::Event,
        ..invoke_input("slow", "{}")
    };
    assert_eq!(l.invoke(&ctx(), event()).await.unwrap().status, 202);
    let refused = l.invoke(&ctx(), event()).await.unwrap_err();
    assert_eq!(
        (refused.code.as_ref(), refused.status),
        ("TooManyRequestsException", 429)
    );
    assert_eq!(l.async_counts(), (1, 1));
}
