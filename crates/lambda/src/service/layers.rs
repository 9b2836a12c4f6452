//! Layers: PublishLayerVersion, GetLayerVersion, ListLayers, ListLayerVersions,
//! DeleteLayerVersion. A function's layers are unpacked once each and put where its runtime
//! looks for them — the local equivalents of `/opt/python` (and its `lib/pythonX.Y/site-packages`)
//! on `PYTHONPATH`, `/opt/nodejs/node_modules` on `NODE_PATH`, `/opt/bin` on `PATH`, `/opt/lib`
//! on `LD_LIBRARY_PATH`. A function keeps the layer versions it was configured with even when
//! they are deleted, as on AWS.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};

use lb_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::{invalid, timestamp, validation, Lambda};
use crate::code::Code;

/// Layers a function may use at once.
pub const MAX_LAYERS: usize = 5;

pub(crate) struct LayerVersion {
    pub arn: String,
    pub layer_arn: String,
    pub version: u32,
    pub code: Arc<Code>,
    pub description: String,
    pub runtimes: Vec<String>,
    pub architectures: Vec<String>,
    pub license: Option<String>,
    pub created: u64,
}

/// One layer's versions (numbers keep counting after deletions).
#[derive(Default)]
pub(crate) struct Layer {
    pub versions: BTreeMap<u32, Arc<LayerVersion>>,
    pub next: u32,
}

/// A layer version a function uses: its ARN and its unpacked content.
#[derive(Clone)]
pub struct LayerRef {
    pub arn: String,
    pub(crate) code: Arc<Code>,
}

impl PartialEq for LayerRef {
    fn eq(&self, other: &Self) -> bool {
        self.arn == other.arn
    }
}

impl std::fmt::Debug for LayerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.arn)
    }
}

impl LayerRef {
    pub fn code_size(&self) -> u64 {
        self.code.size
    }

    pub fn dir(&self) -> &PathBuf {
        &self.code.dir
    }
}

/// PublishLayerVersion's input.
#[derive(Debug, Clone, Default)]
pub struct LayerInput {
    pub description: Option<String>,
    pub zip_file: Option<Vec<u8>>,
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    pub license_info: Option<String>,
}

fn version_json(v: &LayerVersion, endpoint: &str) -> Value {
    let mut out = json!({
        "Content": {
            "Location": format!("{endpoint}/_localbridge/lambda/layers/{}", v.arn),
            "CodeSha256": v.code.sha256,
            "CodeSize": v.code.size,
        },
        "LayerArn": v.layer_arn,
        "LayerVersionArn": v.arn,
        "Description": v.description,
        "CreatedDate": timestamp(v.created),
        "Version": v.version,
    });
    if !v.runtimes.is_empty() {
        out["CompatibleRuntimes"] = json!(v.runtimes);
    }
    if !v.architectures.is_empty() {
        out["CompatibleArchitectures"] = json!(v.architectures);
    }
    if let Some(l) = &v.license {
        out["LicenseInfo"] = json!(l);
    }
    out
}

fn check_name(name: &str) -> Result<(), AwsError> {
    let ok = !name.is_empty()
        && name.len() <= 140
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(validation(
            name,
            "layerName",
            "Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+",
        ))
    }
}

impl Lambda {
    pub fn publish_layer_version(
        &self,
        ctx: &RequestContext,
        name: &str,
        input: LayerInput,
    ) -> Result<Value, AwsError> {
        check_name(name)?;
        let zip = input
            .zip_file
            .ok_or_else(|| invalid("Please provide a source for the layer content."))?;
        if let Some(d) = input.description.as_deref().filter(|d| d.len() > 256) {
            return Err(validation(
                d,
                "description",
                "Member must have length less than or equal to 256",
            ));
        }
        let dir_name = format!("{}-{}", name, lb_core::ids::uuid());
        let code = self.unpack_into(&ctx.account, &ctx.region, "layers", &dir_name, &zip)?;
        let mut layers = self.layers.lock().unwrap_or_else(PoisonError::into_inner);
        let layer = layers
            .entry((ctx.region.clone(), ctx.account.clone(), name.to_owned()))
            .or_default();
        layer.next += 1;
        let version = layer.next;
        let layer_arn = format!("arn:aws:lambda:{}:{}:layer:{name}", ctx.region, ctx.account);
        let v = Arc::new(LayerVersion {
            arn: format!("{layer_arn}:{version}"),
            layer_arn,
            version,
            code: Arc::new(code),
            description: input.description.unwrap_or_default(),
            runtimes: input.compatible_runtimes.unwrap_or_default(),
            architectures: input.compatible_architectures.unwrap_or_default(),
            license: input.license_info,
            created: self.clock.now_millis(),
        });
        layer.versions.insert(version, Arc::clone(&v));
        Ok(version_json(&v, &self.config.endpoint_url))
    }

    fn layer_version(&self, ctx: &RequestContext, name: &str, version: u32) -> Option<Arc<LayerVersion>> {
        self.layers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(ctx.region.clone(), ctx.account.clone(), name.to_owned()))
            .and_then(|l| l.versions.get(&version).cloned())
    }

    pub fn get_layer_version(&self, ctx: &RequestContext, name: &str, version: &str) -> Result<Value, AwsError> {
        let v = version
            .parse::<u32>()
            .ok()
            .and_then(|n| self.layer_version(ctx, name, n))
            .ok_or_else(|| {
                AwsError::new(
                    "ResourceNotFoundException",
                    404,
                    "The resource you requested does not exist.",
                )
            })?;
        Ok(version_json(&v, &self.config.endpoint_url))
    }

    pub fn list_layer_versions(&self, ctx: &RequestContext, name: &str) -> Result<Value, AwsError> {
        let layers = self.layers.lock().unwrap_or_else(PoisonError::into_inner);
        let list: Vec<Value> = layers
            .get(&(ctx.region.clone(), ctx.account.clone(), name.to_owned()))
            .map(|l| {
                l.versions
                    .values()
                    .rev()
                    .map(|v| version_json(v, &self.config.endpoint_url))
                    .collect()
            })
            .unwrap_or_default();
        Ok(json!({ "LayerVersions": list }))
    }

    pub fn list_layers(&self, ctx: &RequestContext) -> Result<Value, AwsError> {
        let layers = self.layers.lock().unwrap_or_else(PoisonError::into_inner);
        let list: Vec<Value> = layers
            .iter()
            .filter(|((r, a, _), l)| *r == ctx.region && *a == ctx.account && !l.versions.is_empty())
            .filter_map(|((_, _, name), l)| {
                let latest = l.versions.values().next_back()?;
                Some(json!({
                    "LayerName": name,
                    "LayerArn": latest.layer_arn,
                    "LatestMatchingVersion": version_json(latest, &self.config.endpoint_url),
                }))
            })
            .collect();
        Ok(json!({ "Layers": list }))
    }

    pub fn delete_layer_version(&self, ctx: &RequestContext, name: &str, version: &str) -> Result<(), AwsError> {
        let Ok(n) = version.parse::<u32>() else {
            return Ok(());
        };
        let mut layers = self.layers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = layers.get_mut(&(ctx.region.clone(), ctx.account.clone(), name.to_owned())) {
            // Functions using it keep their copy (their `LayerRef`).
            l.versions.remove(&n);
        }
        Ok(())
    }

    /// The layer versions `arns` name, for a function's configuration.
    pub(crate) fn resolve_layers(&self, ctx: &RequestContext, arns: &[String]) -> Result<Vec<LayerRef>, AwsError> {
        if arns.len() > MAX_LAYERS {
            return Err(invalid(format!("Cannot reference more than {MAX_LAYERS} layers.")));
        }
        arns.iter()
            .map(|arn| {
                let parts: Vec<&str> = arn.split(':').collect();
                let found = match parts.as_slice() {
                    ["arn", _, "lambda", region, account, "layer", name, version] => {
                        let c = RequestContext {
                            region: (*region).to_owned(),
                            account: (*account).to_owned(),
                            ..ctx.clone()
                        };
                        version
                            .parse::<u32>()
                            .ok()
                            .and_then(|n| self.layer_version(&c, name, n))
                    }
                    _ => None,
                };
                found
                    .map(|v| LayerRef {
                        arn: arn.clone(),
                        code: Arc::clone(&v.code),
                    })
                    .ok_or_else(|| invalid(format!("Layer version {arn} does not exist.")))
            })
            .collect()
    }
}
