//! `context` on the tokio transport: the decoded `Context`, the function settings and the
//! `_X_AMZN_TRACE_ID` the handler saw, as JSON, with the keys of `lamina-examples`' `context`.

use std::convert::Infallible;
use std::process::ExitCode;

use lamina_core::context::StringMap;
use lamina_tokio::{Config, Context, json};
use serde::de::IgnoredAny;
use serde_json::{Value, json as j};

fn context(config: &Config, ctx: &Context) -> Value {
    let map = |m: &StringMap| -> Value {
        m.iter().map(|(k, v)| (k.to_string(), Value::from(v.as_str()))).collect()
    };
    let client_context = ctx.client_context.as_ref().map(|cc| {
        let client = cc.client.as_ref().map(|c| {
            j!({
                "installation_id": c.installation_id.as_deref(),
                "app_title": c.app_title.as_deref(),
                "app_version_name": c.app_version_name.as_deref(),
                "app_version_code": c.app_version_code.as_deref(),
                "app_package_name": c.app_package_name.as_deref(),
            })
        });
        j!({ "client": client, "custom": map(&cc.custom), "env": map(&cc.env) })
    });
    let identity = ctx.identity.as_ref().map(|i| {
        j!({
            "cognitoIdentityId": i.identity_id.as_deref(),
            "cognitoIdentityPoolId": i.identity_pool_id.as_deref(),
        })
    });
    j!({
        "request_id": ctx.request_id.as_str(),
        "deadline_ms": ctx.deadline_ms,
        "invoked_function_arn": ctx.invoked_function_arn.as_str(),
        "xray_trace_id": ctx.xray_trace_id.as_deref(),
        "client_context": client_context,
        "identity": identity,
        "tenant_id": ctx.tenant_id.as_deref(),
        "invocation_id": ctx.invocation_id.as_ref().map(|i| i.as_str()),
        "env_trace_id": std::env::var("_X_AMZN_TRACE_ID").ok(),
        "function_name": config.function_name.as_str(),
        "function_version": config.function_version.as_str(),
        "memory_mb": config.memory_mb,
        "log_group": config.log_group.as_str(),
        "log_stream": config.log_stream.as_str(),
        "max_concurrency": config.max_concurrency,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lamina_tokio::run_with_init(async |config: &Config| {
        let config = config.clone();
        Ok::<_, Infallible>(json(async move |ctx: &Context, _: IgnoredAny| {
            Ok::<_, Infallible>(context(&config, ctx))
        }))
    })
    .await
}
