//! Versions and aliases: PublishVersion freezes `$LATEST`'s code and configuration as the next
//! number (or answers the newest version when nothing changed, as AWS does);
//! ListVersionsByFunction; Create/Get/List/Update/DeleteAlias with weighted routing to a second
//! version. A qualifier (`name:3`, `name:live`, `?Qualifier=`) picks what GetFunction, Invoke and
//! DeleteFunction act on. Each version has its own execution environments.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError};

use lb_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::{configuration_of, invalid, not_found, validation, Function, FunctionConfig, Lambda};
use crate::code::Code;
use crate::pool::Pool;

/// A published version: frozen code and configuration.
pub(crate) struct Published {
    pub version: u32,
    pub config: FunctionConfig,
    pub code: Arc<Code>,
    pub description: String,
    pub revision_id: String,
    pub last_modified: u64,
    pub pool: Arc<Pool>,
}

/// An alias: a name for a version, optionally sharing traffic with a second one.
#[derive(Debug, Clone)]
pub(crate) struct Alias {
    pub name: String,
    pub function_version: String,
    pub description: String,
    pub routing: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// What a qualifier selects: `$LATEST` or a published version.
pub(crate) enum Selected<'a> {
    Latest,
    Version(&'a Published),
}

impl Selected<'_> {
    pub fn label(&self) -> String {
        match self {
            Selected::Latest => "$LATEST".to_owned(),
            Selected::Version(v) => v.version.to_string(),
        }
    }
}

fn qualified_not_found(f: &Function, q: &str) -> AwsError {
    not_found(&format!("{}:{q}", f.arn))
}

/// The version `qualifier` names (an alias is followed, choosing by its routing weights).
pub(crate) fn select<'a>(f: &'a Function, qualifier: Option<&str>) -> Result<Selected<'a>, AwsError> {
    let Some(q) = qualifier.filter(|q| *q != "$LATEST") else {
        return Ok(Selected::Latest);
    };
    let version_of = |label: &str| -> Result<Selected<'a>, AwsError> {
        if label == "$LATEST" {
            return Ok(Selected::Latest);
        }
        label
            .parse::<u32>()
            .ok()
            .and_then(|n| f.versions.get(&n))
            .map(Selected::Version)
            .ok_or_else(|| qualified_not_found(f, q))
    };
    if q.bytes().all(|b| b.is_ascii_digit()) {
        return version_of(q);
    }
    let alias = f.aliases.get(q).ok_or_else(|| qualified_not_found(f, q))?;
    // Weighted routing: the additional versions take their share, the alias's version the rest.
    let draw = (lb_core::ids::random_u64() % 1_000_000) as f64 / 1_000_000.0;
    let mut acc = 0.0;
    for (version, weight) in &alias.routing {
        acc += weight;
        if draw < acc {
            return version_of(version);
        }
    }
    version_of(&alias.function_version)
}

fn alias_json(f: &Function, a: &Alias) -> Value {
    let mut out = json!({
        "AliasArn": format!("{}:{}", f.arn, a.name),
        "Name": a.name,
        "FunctionVersion": a.function_version,
        "Description": a.description,
        "RevisionId": a.revision_id,
    });
    if !a.routing.is_empty() {
        out["RoutingConfig"] = json!({ "AdditionalVersionWeights": a.routing });
    }
    out
}

fn check_alias_name(name: &str) -> Result<(), AwsError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(validation(
            name,
            "name",
            "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        ))
    }
}

/// AliasInput as CreateAlias / UpdateAlias take it.
#[derive(Debug, Clone, Default)]
pub struct AliasInput {
    pub name: Option<String>,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing: Option<BTreeMap<String, f64>>,
    pub revision_id: Option<String>,
}

impl Lambda {
    fn check_routing(f: &Function, version: &str, routing: &BTreeMap<String, f64>) -> Result<(), AwsError> {
        if routing.len() > 1 {
            return Err(invalid(
                "Number of items in AdditionalVersionWeights cannot be greater than 1",
            ));
        }
        for (v, w) in routing {
            if !(0.0..=1.0).contains(w) {
                return Err(validation(
                    &w.to_string(),
                    "routingConfig.additionalVersionWeights",
                    "Member must have value between 0.0 and 1.0",
                ));
            }
            if v == version {
                return Err(invalid(format!(
                    "Invalid function version {v}. Function version {v} is already included in routing configuration."
                )));
            }
            if v.parse::<u32>().ok().and_then(|n| f.versions.get(&n)).is_none() {
                return Err(invalid(format!("Version {v} does not exist")));
            }
        }
        Ok(())
    }

    fn check_version_exists(f: &Function, version: &str) -> Result<(), AwsError> {
        if version == "$LATEST" || version.parse::<u32>().ok().is_some_and(|n| f.versions.contains_key(&n)) {
            Ok(())
        } else {
            Err(not_found(&format!("{}:{version}", f.arn)))
        }
    }

    /// PublishVersion.
    pub fn publish_version(
        &self,
        ctx: &RequestContext,
        name: &str,
        description: Option<String>,
        code_sha256: Option<&str>,
        revision_id: Option<&str>,
    ) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sha) = code_sha256.filter(|s| *s != f.code.sha256) {
            return Err(invalid(format!(
                "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                f.code.sha256
            )));
        }
        super::check_revision(&f, revision_id)?;
        // Nothing changed since the newest version: AWS answers that version.
        if let Some(newest) = f.versions.values().next_back() {
            if Arc::ptr_eq(&newest.code, &f.code) && newest.config == f.config {
                return Ok(configuration_of(&f, &Selected::Version(newest)));
            }
        }
        let number = f.next_version;
        f.next_version += 1;
        let published = Published {
            version: number,
            config: f.config.clone(),
            code: Arc::clone(&f.code),
            description: description.unwrap_or_else(|| f.config.description.clone()),
            revision_id: lb_core::ids::uuid(),
            last_modified: self.clock.now_millis(),
            pool: Arc::new(Pool::new(self.config.max_environments)),
        };
        f.versions.insert(number, published);
        let out = configuration_of(&f, &Selected::Version(&f.versions[&number]));
        Ok(out)
    }

    /// ListVersionsByFunction: `$LATEST`, then the versions in order.
    pub fn list_versions(&self, ctx: &RequestContext, name: &str) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        let mut list = vec![configuration_of(&f, &Selected::Latest)];
        list.extend(f.versions.values().map(|v| configuration_of(&f, &Selected::Version(v))));
        Ok(json!({ "Versions": list }))
    }

    /// DeleteFunction with a version qualifier: that version only (refused while an alias uses it).
    pub(crate) fn delete_version(&self, f: &mut Function, version: &str) -> Result<(), AwsError> {
        let Some(n) = version.parse::<u32>().ok().filter(|n| f.versions.contains_key(n)) else {
            return Err(qualified_not_found(f, version));
        };
        if let Some(a) = f
            .aliases
            .values()
            .find(|a| a.function_version == version || a.routing.contains_key(version))
        {
            return Err(AwsError::new(
                "ResourceConflictException",
                409,
                format!(
                    "Unable to delete version because the following aliases reference it: [{}]",
                    a.name
                ),
            ));
        }
        if let Some(v) = f.versions.remove(&n) {
            v.pool.close();
        }
        Ok(())
    }

    /// CreateAlias.
    pub fn create_alias(&self, ctx: &RequestContext, name: &str, input: AliasInput) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let alias = input
            .name
            .ok_or_else(|| validation("null", "name", "Member must not be null"))?;
        check_alias_name(&alias)?;
        let version = input
            .function_version
            .ok_or_else(|| validation("null", "functionVersion", "Member must not be null"))?;
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        Self::check_version_exists(&f, &version)?;
        let routing = input.routing.unwrap_or_default();
        Self::check_routing(&f, &version, &routing)?;
        if f.aliases.contains_key(&alias) {
            return Err(AwsError::new(
                "ResourceConflictException",
                409,
                format!("Alias already exists: {}:{alias}", f.arn),
            ));
        }
        let a = Alias {
            name: alias.clone(),
            function_version: version,
            description: input.description.unwrap_or_default(),
            routing,
            revision_id: lb_core::ids::uuid(),
        };
        let out = alias_json(&f, &a);
        f.aliases.insert(alias, a);
        Ok(out)
    }

    pub fn get_alias(&self, ctx: &RequestContext, name: &str, alias: &str) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        let a = f.aliases.get(alias).ok_or_else(|| alias_not_found(&f, alias))?;
        Ok(alias_json(&f, a))
    }

    pub fn list_aliases(&self, ctx: &RequestContext, name: &str, version: Option<&str>) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner);
        let list: Vec<Value> = f
            .aliases
            .values()
            .filter(|a| version.is_none_or(|v| a.function_version == v))
            .map(|a| alias_json(&f, a))
            .collect();
        Ok(json!({ "Aliases": list }))
    }

    pub fn update_alias(
        &self,
        ctx: &RequestContext,
        name: &str,
        alias: &str,
        input: AliasInput,
    ) -> Result<Value, AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        let mut a = f
            .aliases
            .get(alias)
            .cloned()
            .ok_or_else(|| alias_not_found(&f, alias))?;
        if input.revision_id.as_deref().is_some_and(|r| r != a.revision_id) {
            return Err(AwsError::new(
                "PreconditionFailedException",
                412,
                "The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to retrieve the latest Revision Id",
            ));
        }
        if let Some(v) = input.function_version {
            Self::check_version_exists(&f, &v)?;
            a.function_version = v;
        }
        if let Some(d) = input.description {
            a.description = d;
        }
        if let Some(r) = input.routing {
            a.routing = r;
        }
        Self::check_routing(&f, &a.function_version, &a.routing)?;
        a.revision_id = lb_core::ids::uuid();
        let out = alias_json(&f, &a);
        f.aliases.insert(alias.to_owned(), a);
        Ok(out)
    }

    pub fn delete_alias(&self, ctx: &RequestContext, name: &str, alias: &str) -> Result<(), AwsError> {
        let (f, _) = self.lookup(ctx, name)?;
        let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
        // Deleting an alias that does not exist succeeds, as on AWS.
        f.aliases.remove(alias);
        Ok(())
    }
}

fn alias_not_found(f: &Function, alias: &str) -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        404,
        format!("Cannot find alias arn: {}:{alias}", f.arn),
    )
}
