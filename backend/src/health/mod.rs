//! Liveness and readiness probes.

use std::sync::Arc;

use diesel_async::RunQueryDsl;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::db;
use crate::http::ApiTags;
use crate::state::AppState;

/// Probe result.
#[derive(Debug, Object)]
struct HealthStatus {
    /// `ok`, or what is wrong.
    status: String,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// Ready to serve: the database answers.
    #[oai(status = 200)]
    Ready(Json<HealthStatus>),
    /// Not ready: the database does not answer.
    #[oai(status = 503)]
    NotReady(Json<HealthStatus>),
}

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// The process is up.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<HealthStatus> {
        Json(HealthStatus { status: "ok".into() })
    }

    /// The process can serve requests: the database is reachable.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&Arc<AppState>>) -> ReadyResponse {
        let reachable = match db::conn(&state.pool).await {
            Ok(mut conn) => diesel::sql_query("SELECT 1").execute(&mut conn).await.is_ok(),
            Err(_) => false,
        };
        if reachable {
            ReadyResponse::Ready(Json(HealthStatus { status: "ok".into() }))
        } else {
            ReadyResponse::NotReady(Json(HealthStatus { status: "database unreachable".into() }))
        }
    }
}
