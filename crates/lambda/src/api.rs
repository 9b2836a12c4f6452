//! The wire edge: rest-json under `/2015-03-31/functions` (and Lambda's other dated prefixes),
//! the operation in the method and path, inputs in the path, query string, `X-Amz-*` headers and
//! a JSON body, as botocore's `lambda` model gives them. Errors carry `x-amzn-errortype` and
//! `{"Type": "User", "message": ...}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Response};
use lb_core::clock::BoxFuture;
use lb_core::AwsError;
use lb_protocol::{ApiRequest, Protocol, ServiceSpec};
use serde::Deserialize;
use serde_json::Value;

use crate::service::{
    AddPermissionInput, AliasInput, CreateFunctionInput, EventInvokeConfigInput, InvocationType, InvokeInput,
    LayerInput, LoggingInput, MappingInput, UpdateConfigInput,
};
use crate::Lambda;

/// Lambda's rest paths (each dated API family).
pub const REST_PATHS: &[&str] = &[
    "/2015-03-31/",
    "/2016-08-19/",
    "/2017-03-31/",
    "/2017-10-31/",
    "/2018-10-31/",
    "/2019-09-25/",
    "/2019-09-30/",
    "/2020-04-22/",
    "/2020-06-30/",
    "/2021-10-31/",
    "/2024-08-31/",
];

/// The operations served.
pub const OPERATIONS: &[&str] = &[
    "AddPermission",
    "DeleteLayerVersion",
    "GetLayerVersion",
    "ListLayerVersions",
    "ListLayers",
    "PublishLayerVersion",
    "CreateEventSourceMapping",
    "DeleteEventSourceMapping",
    "GetEventSourceMapping",
    "ListEventSourceMappings",
    "UpdateEventSourceMapping",
    "DeleteFunctionConcurrency",
    "GetFunctionConcurrency",
    "ListTags",
    "PutFunctionConcurrency",
    "TagResource",
    "UntagResource",
    "CreateAlias",
    "DeleteAlias",
    "GetAlias",
    "ListAliases",
    "ListVersionsByFunction",
    "PublishVersion",
    "UpdateAlias",
    "CreateFunction",
    "DeleteFunction",
    "DeleteFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig",
    "ListFunctionEventInvokeConfigs",
    "PutFunctionEventInvokeConfig",
    "UpdateFunctionEventInvokeConfig",
    "GetFunction",
    "GetFunctionConfiguration",
    "GetPolicy",
    "Invoke",
    "ListFunctions",
    "RemovePermission",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
];

pub static SPEC: ServiceSpec = ServiceSpec {
    rest_paths: REST_PATHS,
    rest: Some(Protocol::RestJson),
    operations: OPERATIONS,
    // A synchronous Invoke payload (6 MB) or a 50 MB package, base64 in JSON.
    max_body: 70 * 1024 * 1024,
    ..ServiceSpec::new("lambda")
};

/// Lambda's wire edge.
pub struct LambdaApi {
    lambda: Arc<Lambda>,
}

impl LambdaApi {
    pub fn new(lambda: Arc<Lambda>) -> Self {
        Self { lambda }
    }
}

impl lb_protocol::Service for LambdaApi {
    fn spec(&self) -> &ServiceSpec {
        &SPEC
    }

    fn handle(&self, req: ApiRequest) -> BoxFuture<'_, Response<Bytes>> {
        Box::pin(async move {
            let request_id = req.ctx.request_id.clone();
            match route(&self.lambda, &req).await {
                Ok(r) => r,
                Err(e) => error_response(&e, &request_id),
            }
        })
    }

    fn error_response(&self, _protocol: Protocol, err: &AwsError, request_id: &str) -> Response<Bytes> {
        error_response(err, request_id)
    }

    /// The asynchronous events held, and those refused for want of room.
    fn metrics(&self, out: &mut String) {
        let (held, refused) = self.lambda.async_counts();
        out.push_str("# HELP localbridge_lambda_async_events Asynchronous invocations held (queued, running or waiting for a retry).\n");
        out.push_str("# TYPE localbridge_lambda_async_events gauge\n");
        out.push_str(&format!("localbridge_lambda_async_events {held}\n"));
        out.push_str("# HELP localbridge_lambda_async_events_refused_total Asynchronous invocations refused: the bound was reached.\n");
        out.push_str("# TYPE localbridge_lambda_async_events_refused_total counter\n");
        out.push_str(&format!("localbridge_lambda_async_events_refused_total {refused}\n"));
        let [processed, filtered, discarded, failed] = self.lambda.stream_mapping_counts();
        out.push_str(
            "# HELP localbridge_lambda_stream_records_total Kinesis event source mappings' records by outcome.\n",
        );
        out.push_str("# TYPE localbridge_lambda_stream_records_total counter\n");
        for (outcome, n) in [
            ("processed", processed),
            ("filtered", filtered),
            ("discarded", discarded),
        ] {
            out.push_str(&format!(
                "localbridge_lambda_stream_records_total{{outcome=\"{outcome}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP localbridge_lambda_stream_failed_invocations_total Kinesis event source mappings' failed invocations (each retried, bisected or discarded).\n");
        out.push_str("# TYPE localbridge_lambda_stream_failed_invocations_total counter\n");
        out.push_str(&format!(
            "localbridge_lambda_stream_failed_invocations_total {failed}\n"
        ));
    }
}

/// `x-amzn-errortype: <code>` and `{"Type": "User"|"Service", "message": ...}`.
pub fn error_response(e: &AwsError, request_id: &str) -> Response<Bytes> {
    let kind = if e.status >= 500 { "Service" } else { "User" };
    let body = serde_json::json!({ "Type": kind, "message": e.message }).to_string();
    let mut r = lb_protocol::respond(
        e.status,
        lb_protocol::restjson::CONTENT_TYPE,
        Bytes::from(body),
        request_id,
    );
    if let Ok(v) = HeaderValue::from_str(&e.code) {
        r.headers_mut().insert(lb_protocol::restjson::ERROR_TYPE_HEADER, v);
    }
    r
}

fn json_response(status: u16, v: &Value, request_id: &str) -> Response<Bytes> {
    lb_protocol::restjson::response(status, v.to_string().into_bytes(), request_id)
}

fn empty(status: u16, request_id: &str) -> Response<Bytes> {
    lb_protocol::respond(status, lb_protocol::restjson::CONTENT_TYPE, Bytes::new(), request_id)
}

fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn query(req: &ApiRequest) -> BTreeMap<String, String> {
    req.parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn body<T: for<'de> Deserialize<'de> + Default>(req: &ApiRequest) -> Result<T, AwsError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&req.body).map_err(|e| AwsError::new("SerializationException", 400, e.to_string()))
}

fn not_implemented(what: &str) -> AwsError {
    AwsError::new(
        "NotImplemented",
        501,
        format!("localbridge does not implement the Lambda operation at {what} yet"),
    )
}

async fn route(lambda: &Lambda, req: &ApiRequest) -> Result<Response<Bytes>, AwsError> {
    let path = req.parts.uri.path();
    let rid = req.ctx.request_id.as_str();
    let ctx = &req.ctx;
    let method = req.parts.method.clone();
    let segments: Vec<String> = path.trim_matches('/').split('/').map(decode_segment).collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (&method, segs.as_slice()) {
        (&Method::POST, ["2015-03-31", "functions"]) => {
            let mut input = create_input(body::<CreateFunctionJson>(req)?)?;
            if let (None, Some(bucket), Some(key)) = (&input.zip_file, &input.s3_bucket, &input.s3_key) {
                let version = input.s3_object_version.clone();
                input.zip_file = Some(lambda.fetch_package(ctx, bucket, key, version.as_deref()).await?);
            }
            Ok(json_response(201, &lambda.create_function(ctx, input)?, rid))
        }
        (&Method::GET, ["2015-03-31", "functions"]) => {
            let q = query(req);
            let max = parse_int(q.get("MaxItems"), "maxItems")?;
            Ok(json_response(
                200,
                &lambda.list_functions(ctx, q.get("Marker").map(String::as_str), max)?,
                rid,
            ))
        }
        (&Method::GET, ["2015-03-31", "functions", name]) => {
            check_qualifier(req)?;
            Ok(json_response(
                200,
                &lambda.get_function(ctx, &qualified(name, req))?,
                rid,
            ))
        }
        (&Method::DELETE, ["2015-03-31", "functions", name]) => {
            lambda.delete_function(ctx, &qualified(name, req))?;
            Ok(empty(204, rid))
        }
        (&Method::GET, ["2015-03-31", "functions", name, "configuration"]) => {
            check_qualifier(req)?;
            Ok(json_response(
                200,
                &lambda.get_function_configuration(ctx, &qualified(name, req))?,
                rid,
            ))
        }
        (&Method::PUT, ["2015-03-31", "functions", name, "configuration"]) => {
            let input = update_input(body::<UpdateConfigJson>(req)?);
            Ok(json_response(
                200,
                &lambda.update_function_configuration(ctx, name, input)?,
                rid,
            ))
        }
        (&Method::PUT, ["2015-03-31", "functions", name, "code"]) => {
            let j = body::<UpdateCodeJson>(req)?;
            let mut zip = decode_blob(j.zip_file.as_deref(), "zipFile")?;
            if j.image_uri.is_some() {
                return Err(crate::service::invalid(
                    "localbridge runs functions from .zip packages only: container images need a container runtime.",
                ));
            }
            if let (None, Some(bucket), Some(key)) = (&zip, &j.s3_bucket, &j.s3_key) {
                zip = Some(
                    lambda
                        .fetch_package(ctx, bucket, key, j.s3_object_version.as_deref())
                        .await?,
                );
            }
            Ok(json_response(
                200,
                &lambda.update_function_code(ctx, name, zip, j.revision_id.as_deref())?,
                rid,
            ))
        }
        (&Method::POST, ["2015-03-31", "functions", name, "invocations"]) => invoke(lambda, req, name).await,
        (&Method::POST, ["2015-03-31", "functions", name, "policy"]) => {
            let j = body::<AddPermissionJson>(req)?;
            let input = AddPermissionInput {
                statement_id: j.statement_id,
                action: j.action,
                principal: j.principal,
                source_arn: j.source_arn,
                source_account: j.source_account,
                event_source_token: j.event_source_token,
                principal_org_id: j.principal_org_id,
                function_url_auth_type: j.function_url_auth_type,
                revision_id: j.revision_id,
            };
            Ok(json_response(
                201,
                &lambda.add_permission(ctx, &qualified(name, req), input)?,
                rid,
            ))
        }
        (&Method::GET, ["2015-03-31", "functions", name, "policy"]) => {
            Ok(json_response(200, &lambda.get_policy(ctx, &qualified(name, req))?, rid))
        }
        (&Method::DELETE, ["2015-03-31", "functions", name, "policy", sid]) => {
            let q = query(req);
            lambda.remove_permission(ctx, &qualified(name, req), sid, q.get("RevisionId").map(String::as_str))?;
            Ok(empty(204, rid))
        }
        (m, ["2019-09-25", "functions", name, "event-invoke-config"]) => match *m {
            Method::PUT | Method::POST => {
                let input = event_config_input(body::<EventInvokeConfigJson>(req)?);
                let merge = *m == Method::POST;
                Ok(json_response(
                    200,
                    &lambda.put_event_invoke_config(ctx, &qualified(name, req), input, merge)?,
                    rid,
                ))
            }
            Method::GET => Ok(json_response(
                200,
                &lambda.get_event_invoke_config(ctx, &qualified(name, req))?,
                rid,
            )),
            Method::DELETE => {
                lambda.delete_event_invoke_config(ctx, &qualified(name, req))?;
                Ok(empty(204, rid))
            }
            _ => Err(not_implemented(&format!("{method} {path}"))),
        },
        (&Method::POST, ["2018-10-31", "layers", name, "versions"]) => {
            let j = body::<LayerJson>(req)?;
            let content = j.content.unwrap_or_default();
            let mut zip = decode_blob(content.zip_file.as_deref(), "content.zipFile")?;
            if let (None, Some(bucket), Some(key)) = (&zip, &content.s3_bucket, &content.s3_key) {
                zip = Some(
                    lambda
                        .fetch_package(ctx, bucket, key, content.s3_object_version.as_deref())
                        .await?,
                );
            }
            let input = LayerInput {
                description: j.description,
                zip_file: zip,
                compatible_runtimes: j.compatible_runtimes,
                compatible_architectures: j.compatible_architectures,
                license_info: j.license_info,
            };
            Ok(json_response(
                201,
                &lambda.publish_layer_version(ctx, name, input)?,
                rid,
            ))
        }
        (&Method::GET, ["2018-10-31", "layers", name, "versions"]) => {
            Ok(json_response(200, &lambda.list_layer_versions(ctx, name)?, rid))
        }
        (&Method::GET, ["2018-10-31", "layers", name, "versions", version]) => {
            Ok(json_response(200, &lambda.get_layer_version(ctx, name, version)?, rid))
        }
        (&Method::DELETE, ["2018-10-31", "layers", name, "versions", version]) => {
            lambda.delete_layer_version(ctx, name, version)?;
            Ok(empty(204, rid))
        }
        (&Method::GET, ["2018-10-31", "layers"]) => Ok(json_response(200, &lambda.list_layers(ctx)?, rid)),
        (&Method::POST, ["2015-03-31", "event-source-mappings"]) => {
            let input = mapping_input(body::<MappingJson>(req)?);
            Ok(json_response(
                202,
                &lambda.create_event_source_mapping(ctx, input)?,
                rid,
            ))
        }
        (&Method::GET, ["2015-03-31", "event-source-mappings"]) => {
            let q = query(req);
            Ok(json_response(
                200,
                &lambda.list_event_source_mappings(
                    ctx,
                    q.get("EventSourceArn").map(String::as_str),
                    q.get("FunctionName").map(String::as_str),
                )?,
                rid,
            ))
        }
        (&Method::GET, ["2015-03-31", "event-source-mappings", uuid]) => {
            Ok(json_response(200, &lambda.get_event_source_mapping(uuid)?, rid))
        }
        (&Method::PUT, ["2015-03-31", "event-source-mappings", uuid]) => {
            let input = mapping_input(body::<MappingJson>(req)?);
            Ok(json_response(
                202,
                &lambda.update_event_source_mapping(ctx, uuid, input)?,
                rid,
            ))
        }
        (&Method::DELETE, ["2015-03-31", "event-source-mappings", uuid]) => {
            Ok(json_response(202, &lambda.delete_event_source_mapping(uuid)?, rid))
        }
        (&Method::POST, ["2017-03-31", "tags", arn]) => {
            let j = body::<TagsJson>(req)?;
            lambda.tag_resource(ctx, arn, j.tags.unwrap_or_default())?;
            Ok(empty(204, rid))
        }
        (&Method::DELETE, ["2017-03-31", "tags", arn]) => {
            let keys: Vec<String> = req
                .parts
                .uri
                .query()
                .map(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .filter(|(k, _)| k == "tagKeys")
                        .map(|(_, v)| v.into_owned())
                        .collect()
                })
                .unwrap_or_default();
            lambda.untag_resource(ctx, arn, &keys)?;
            Ok(empty(204, rid))
        }
        (&Method::GET, ["2017-03-31", "tags", arn]) => Ok(json_response(200, &lambda.list_tags(ctx, arn)?, rid)),
        (&Method::PUT, ["2017-10-31", "functions", name, "concurrency"]) => {
            let j = body::<ConcurrencyJson>(req)?;
            Ok(json_response(
                200,
                &lambda.put_concurrency(ctx, name, j.reserved_concurrent_executions)?,
                rid,
            ))
        }
        (&Method::GET, ["2019-09-30", "functions", name, "concurrency"]) => {
            Ok(json_response(200, &lambda.get_concurrency(ctx, name)?, rid))
        }
        (&Method::DELETE, ["2017-10-31", "functions", name, "concurrency"]) => {
            lambda.delete_concurrency(ctx, name)?;
            Ok(empty(204, rid))
        }
        (&Method::POST, ["2015-03-31", "functions", name, "versions"]) => {
            let j = body::<PublishVersionJson>(req)?;
            Ok(json_response(
                201,
                &lambda.publish_version(
                    ctx,
                    name,
                    j.description,
                    j.code_sha256.as_deref(),
                    j.revision_id.as_deref(),
                )?,
                rid,
            ))
        }
        (&Method::GET, ["2015-03-31", "functions", name, "versions"]) => {
            Ok(json_response(200, &lambda.list_versions(ctx, name)?, rid))
        }
        (&Method::POST, ["2015-03-31", "functions", name, "aliases"]) => {
            let input = alias_input(body::<AliasJson>(req)?);
            Ok(json_response(201, &lambda.create_alias(ctx, name, input)?, rid))
        }
        (&Method::GET, ["2015-03-31", "functions", name, "aliases"]) => {
            let q = query(req);
            Ok(json_response(
                200,
                &lambda.list_aliases(ctx, name, q.get("FunctionVersion").map(String::as_str))?,
                rid,
            ))
        }
        (&Method::GET, ["2015-03-31", "functions", name, "aliases", alias]) => {
            Ok(json_response(200, &lambda.get_alias(ctx, name, alias)?, rid))
        }
        (&Method::PUT, ["2015-03-31", "functions", name, "aliases", alias]) => {
            let input = alias_input(body::<AliasJson>(req)?);
            Ok(json_response(200, &lambda.update_alias(ctx, name, alias, input)?, rid))
        }
        (&Method::DELETE, ["2015-03-31", "functions", name, "aliases", alias]) => {
            lambda.delete_alias(ctx, name, alias)?;
            Ok(empty(204, rid))
        }
        (&Method::GET, ["2019-09-25", "functions", name, "event-invoke-config", "list"]) => {
            Ok(json_response(200, &lambda.list_event_invoke_configs(ctx, name)?, rid))
        }
        _ => Err(not_implemented(&format!("{method} {path}"))),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct LayerJson {
    description: Option<String>,
    content: Option<CodeJson>,
    compatible_runtimes: Option<Vec<String>>,
    compatible_architectures: Option<Vec<String>>,
    license_info: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct FilterJson {
    pattern: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct FilterCriteriaJson {
    filters: Option<Vec<FilterJson>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ScalingJson {
    maximum_concurrency: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct MappingJson {
    event_source_arn: Option<String>,
    function_name: Option<String>,
    enabled: Option<bool>,
    batch_size: Option<i64>,
    maximum_batching_window_in_seconds: Option<i64>,
    filter_criteria: Option<FilterCriteriaJson>,
    function_response_types: Option<Vec<String>>,
    scaling_config: Option<ScalingJson>,
    starting_position: Option<String>,
    starting_position_timestamp: Option<f64>,
    parallelization_factor: Option<i64>,
    maximum_record_age_in_seconds: Option<i64>,
    maximum_retry_attempts: Option<i64>,
    bisect_batch_on_function_error: Option<bool>,
    destination_config: Option<MappingDestinationsJson>,
    tumbling_window_in_seconds: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct MappingDestinationJson {
    destination: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct MappingDestinationsJson {
    on_success: Option<MappingDestinationJson>,
    on_failure: Option<MappingDestinationJson>,
}

fn mapping_input(j: MappingJson) -> MappingInput {
    MappingInput {
        event_source_arn: j.event_source_arn,
        function_name: j.function_name,
        enabled: j.enabled,
        batch_size: j.batch_size,
        maximum_batching_window_seconds: j.maximum_batching_window_in_seconds,
        filters: j.filter_criteria.map(|c| {
            c.filters
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.pattern)
                .collect()
        }),
        function_response_types: j.function_response_types,
        maximum_concurrency: j.scaling_config.and_then(|s| s.maximum_concurrency),
        starting_position: j.starting_position,
        starting_position_timestamp: j.starting_position_timestamp,
        parallelization_factor: j.parallelization_factor,
        maximum_record_age_seconds: j.maximum_record_age_in_seconds,
        maximum_retry_attempts: j.maximum_retry_attempts,
        bisect_batch_on_function_error: j.bisect_batch_on_function_error,
        on_success: j
            .destination_config
            .as_ref()
            .and_then(|d| d.on_success.as_ref())
            .is_some_and(|s| s.destination.as_deref().is_some_and(|d| !d.is_empty())),
        on_failure: j
            .destination_config
            .and_then(|d| d.on_failure)
            .map(|f| f.destination.filter(|d| !d.is_empty())),
        tumbling_window_seconds: j.tumbling_window_in_seconds,
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TagsJson {
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ConcurrencyJson {
    reserved_concurrent_executions: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct PublishVersionJson {
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct RoutingJson {
    additional_version_weights: Option<BTreeMap<String, f64>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct AliasJson {
    name: Option<String>,
    function_version: Option<String>,
    description: Option<String>,
    routing_config: Option<RoutingJson>,
    revision_id: Option<String>,
}

fn alias_input(j: AliasJson) -> AliasInput {
    AliasInput {
        name: j.name,
        function_version: j.function_version,
        description: j.description,
        routing: j
            .routing_config
            .map(|r| r.additional_version_weights.unwrap_or_default()),
        revision_id: j.revision_id,
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct DestinationJson {
    destination: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct DestinationConfigJson {
    on_success: Option<DestinationJson>,
    on_failure: Option<DestinationJson>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct EventInvokeConfigJson {
    maximum_retry_attempts: Option<i64>,
    maximum_event_age_in_seconds: Option<i64>,
    destination_config: Option<DestinationConfigJson>,
}

fn event_config_input(j: EventInvokeConfigJson) -> EventInvokeConfigInput {
    let (on_success, on_failure) = match j.destination_config {
        Some(d) => (
            d.on_success.map(|x| x.destination.filter(|a| !a.is_empty())),
            d.on_failure.map(|x| x.destination.filter(|a| !a.is_empty())),
        ),
        None => (None, None),
    };
    EventInvokeConfigInput {
        maximum_retry_attempts: j.maximum_retry_attempts,
        maximum_event_age_seconds: j.maximum_event_age_in_seconds,
        on_success,
        on_failure,
    }
}

/// The function name with `?Qualifier=` appended as `name:qualifier`.
fn qualified(name: &str, req: &ApiRequest) -> String {
    match query(req).get("Qualifier") {
        Some(q) if !q.is_empty() && !name.contains(":function:") && name.matches(':').count() == 0 => {
            format!("{name}:{q}")
        }
        _ => name.to_owned(),
    }
}

fn check_qualifier(req: &ApiRequest) -> Result<(), AwsError> {
    if let Some(q) = query(req).get("Qualifier") {
        let ok = !q.is_empty() && q.len() <= 128 && q.bytes().all(|b| b.is_ascii_alphanumeric() || b"$_-".contains(&b));
        if !ok {
            return Err(crate::service::validation(
                q,
                "qualifier",
                "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)",
            ));
        }
    }
    Ok(())
}

fn parse_int(v: Option<&String>, member: &str) -> Result<Option<i64>, AwsError> {
    v.map(|s| {
        s.parse::<i64>()
            .map_err(|_| AwsError::new("SerializationException", 400, format!("{member}: not a number: {s}")))
    })
    .transpose()
}

fn decode_blob(b: Option<&str>, member: &str) -> Result<Option<Vec<u8>>, AwsError> {
    b.map(|s| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| AwsError::new("SerializationException", 400, format!("{member}: not base64")))
    })
    .transpose()
}

async fn invoke(lambda: &Lambda, req: &ApiRequest, name: &str) -> Result<Response<Bytes>, AwsError> {
    let rid = req.ctx.request_id.as_str();
    let invocation_type = match req.header("x-amz-invocation-type") {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(crate::service::validation(
                other,
                "invocationType",
                "Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
            ))
        }
    };
    let log_tail = match req.header("x-amz-log-type") {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(crate::service::validation(
                other,
                "logType",
                "Member must satisfy enum value set: [None, Tail]",
            ))
        }
    };
    let q = query(req);
    let input = InvokeInput {
        function_name: name.to_owned(),
        qualifier: q.get("Qualifier").cloned(),
        invocation_type,
        log_tail,
        client_context: req.header("x-amz-client-context").map(str::to_owned),
        payload: req.body.clone(),
    };
    let out = lambda.invoke(&req.ctx, input).await?;
    let content_type = if out.status == 200 {
        "application/json"
    } else {
        lb_protocol::restjson::CONTENT_TYPE
    };
    let mut r = lb_protocol::respond(out.status, content_type, out.payload, rid);
    let h = r.headers_mut();
    if let Some(v) = out.function_error.and_then(|v| HeaderValue::from_str(v).ok()) {
        h.insert("x-amz-function-error", v);
    }
    if let Some(v) = out.log_result.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        h.insert("x-amz-log-result", v);
    }
    if let Some(v) = out
        .executed_version
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        h.insert("x-amz-executed-version", v);
    }
    Ok(r)
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct CodeJson {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    s3_object_version: Option<String>,
    image_uri: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct EnvironmentJson {
    variables: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct DeadLetterJson {
    target_arn: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct LoggingJson {
    log_format: Option<String>,
    application_log_level: Option<String>,
    system_log_level: Option<String>,
    log_group: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TracingJson {
    mode: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct StorageJson {
    size: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct CreateFunctionJson {
    function_name: Option<String>,
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    code: Option<CodeJson>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    publish: Option<bool>,
    package_type: Option<String>,
    dead_letter_config: Option<DeadLetterJson>,
    environment: Option<EnvironmentJson>,
    tracing_config: Option<TracingJson>,
    tags: Option<BTreeMap<String, String>>,
    layers: Option<Vec<String>>,
    architectures: Option<Vec<String>>,
    ephemeral_storage: Option<StorageJson>,
    logging_config: Option<LoggingJson>,
}

fn logging(l: Option<LoggingJson>) -> Option<LoggingInput> {
    l.map(|l| LoggingInput {
        log_format: l.log_format,
        application_log_level: l.application_log_level,
        system_log_level: l.system_log_level,
        log_group: l.log_group,
    })
}

fn create_input(j: CreateFunctionJson) -> Result<CreateFunctionInput, AwsError> {
    let code = j
        .code
        .ok_or_else(|| crate::service::validation("null", "code", "Member must not be null"))?;
    Ok(CreateFunctionInput {
        function_name: j.function_name,
        runtime: j.runtime,
        role: j.role,
        handler: j.handler,
        description: j.description,
        timeout: j.timeout,
        memory_size: j.memory_size,
        environment: j.environment.and_then(|e| e.variables),
        dead_letter_target: j.dead_letter_config.and_then(|d| d.target_arn),
        logging: logging(j.logging_config),
        layers: j.layers,
        zip_file: decode_blob(code.zip_file.as_deref(), "code.zipFile")?,
        s3_bucket: code.s3_bucket,
        s3_key: code.s3_key,
        s3_object_version: code.s3_object_version,
        image_uri: code.image_uri,
        package_type: j.package_type,
        tags: j.tags,
        tracing_mode: j.tracing_config.and_then(|t| t.mode),
        ephemeral_storage: j.ephemeral_storage.and_then(|s| s.size),
        architectures: j.architectures,
        publish: j.publish.unwrap_or(false),
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct UpdateConfigJson {
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    dead_letter_config: Option<DeadLetterJson>,
    environment: Option<EnvironmentJson>,
    tracing_config: Option<TracingJson>,
    layers: Option<Vec<String>>,
    ephemeral_storage: Option<StorageJson>,
    logging_config: Option<LoggingJson>,
    revision_id: Option<String>,
}

fn update_input(j: UpdateConfigJson) -> UpdateConfigInput {
    UpdateConfigInput {
        runtime: j.runtime,
        role: j.role,
        handler: j.handler,
        description: j.description,
        timeout: j.timeout,
        memory_size: j.memory_size,
        environment: j.environment.map(|e| e.variables.unwrap_or_default()),
        dead_letter_target: j.dead_letter_config.map(|d| d.target_arn.unwrap_or_default()),
        logging: logging(j.logging_config),
        layers: j.layers,
        tracing_mode: j.tracing_config.and_then(|t| t.mode),
        ephemeral_storage: j.ephemeral_storage.and_then(|s| s.size),
        revision_id: j.revision_id,
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct UpdateCodeJson {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    s3_object_version: Option<String>,
    image_uri: Option<String>,
    revision_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct AddPermissionJson {
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
    revision_id: Option<String>,
}
