//! `/api/tickets/{id}/waitlist`: join, leave, and see your place in a held listing's line.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::Standing;
use crate::http::ApiTags;
use crate::http::auth::SessionAuth;
use crate::http::error::ApiError;
use crate::state::AppState;

/// Where you stand in a listing's line.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct WaitlistView {
    /// Your place, 1 being next; absent when you are not in line.
    #[oai(skip_serializing_if_is_none)]
    place: Option<i64>,
    /// How many are in line.
    waiting: i64,
    /// Your order that holds the ticket now, when you hold it (the line handed it to you): pay for it.
    #[oai(skip_serializing_if_is_none)]
    your_order_id: Option<Uuid>,
}

impl From<Standing> for WaitlistView {
    fn from(standing: Standing) -> Self {
        Self { place: standing.place, waiting: standing.waiting, your_order_id: standing.holding }
    }
}

#[derive(ApiResponse)]
enum Joined {
    /// You are in line (or were already).
    #[oai(status = 201)]
    Created(Json<WaitlistView>),
}

#[derive(ApiResponse)]
enum Left {
    /// You are out of the line.
    #[oai(status = 204)]
    NoContent,
}

pub struct WaitlistApi;

#[OpenApi(tag = "ApiTags::Tickets", prefix_path = "/tickets")]
impl WaitlistApi {
    /// Join the line for a listing someone holds. When their hold ends without a sale, the first in
    /// line gets a hold of their own at once (and an email), with the usual time to pay.
    #[oai(path = "/:id/waitlist", method = "post", operation_id = "join_waitlist")]
    async fn join(&self, state: Data<&Arc<AppState>>, auth: SessionAuth, id: Path<Uuid>) -> Result<Joined, ApiError> {
        let who = auth.user(&state).await?;
        let standing = super::join(&state.pool, who.user_id, id.0, state.now()).await?;
        Ok(Joined::Created(Json(standing.into())))
    }

    /// Leave the line.
    #[oai(path = "/:id/waitlist", method = "delete", operation_id = "leave_waitlist")]
    async fn leave(&self, state: Data<&Arc<AppState>>, auth: SessionAuth, id: Path<Uuid>) -> Result<Left, ApiError> {
        let who = auth.user(&state).await?;
        super::leave(&state.pool, who.user_id, id.0).await?;
        Ok(Left::NoContent)
    }

    /// Your place in the line, and how many wait.
    #[oai(path = "/:id/waitlist", method = "get", operation_id = "get_waitlist")]
    async fn standing(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<Json<WaitlistView>, ApiError> {
        let who = auth.user(&state).await?;
        Ok(Json(super::standing(&state.pool, who.user_id, id.0, state.now()).await?.into()))
    }
}
