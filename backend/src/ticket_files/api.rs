//! `PUT /api/tickets/{id}/file` (the seller attaches the ticket) and `GET /api/orders/{id}/ticket`
//! (its buyer downloads it).

use std::sync::Arc;

use poem::web::Data;
use poem::{IntoResponse, Request, Response};
use poem_openapi::payload::{Binary, Json, Payload};
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, OpenApi, param::Path};
use uuid::Uuid;

use super::{FileKind, TicketFile, TicketFilesError};
use crate::http::ApiTags;
use crate::http::auth::SessionAuth;
use crate::http::error::ApiError;
use crate::listings::api::TicketView;
use crate::state::AppState;

/// A ticket file for its buyer, in its own type, to be saved as `ticket-<order id>.<extension>`.
pub struct TicketDownload(TicketFile);

impl IntoResponse for TicketDownload {
    fn into_response(self) -> Response {
        let TicketFile { kind, content, file_name } = self.0;
        Response::builder()
            .content_type(kind.content_type())
            .header(poem::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\""))
            // The buyer's alone: never kept by a shared cache.
            .header(poem::http::header::CACHE_CONTROL, "private, no-store")
            .body(content)
    }
}

impl ApiResponse for TicketDownload {
    fn meta() -> MetaResponses {
        let binary = Binary::<Vec<u8>>::schema_ref;
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The ticket file, in its own type (PDF, PNG or JPEG).",
                status: Some(200),
                status_range: None,
                content: [FileKind::Pdf, FileKind::Png, FileKind::Jpeg]
                    .into_iter()
                    .map(|kind| MetaMediaType { content_type: kind.content_type(), schema: binary() })
                    .collect(),
                headers: vec![MetaHeader {
                    name: "Content-Disposition".into(),
                    description: Some("`attachment; filename=\"ticket-<order id>.<pdf|png|jpg>\"`".into()),
                    required: true,
                    deprecated: false,
                    schema: String::schema_ref(),
                }],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

pub struct TicketFilesApi;

#[OpenApi]
impl TicketFilesApi {
    /// Attach the ticket file to your listing, or replace it while the listing is available (not
    /// held, not sold). The body is the file itself: a PDF, PNG or JPEG of at most 2 MiB (2097152
    /// bytes), judged by its content; sent as `application/octet-stream` or as its own type. A
    /// listing is for sale only once it has its file.
    #[oai(path = "/tickets/:id/file", method = "put", operation_id = "put_ticket_file", tag = "ApiTags::Tickets")]
    async fn put_file(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        request: &Request,
        id: Path<Uuid>,
        body: Binary<Vec<u8>>,
    ) -> Result<Json<TicketView>, ApiError> {
        let who = auth.user(&state).await?;
        let declared = request.header(poem::http::header::CONTENT_TYPE);
        let now = state.now();
        let editing = state.market_pages.editing();
        let attached =
            super::attach(&state.pool, state.files.as_ref(), who.user_id, id.0, &body.0, declared, now).await;
        let row = editing.settle(attached, TicketFilesError::changed_nothing)?;
        Ok(Json(TicketView::new(row, now)))
    }

    /// The ticket of your paid order: only its buyer, only once paid, and not once it is refunded
    /// (or being refunded).
    #[oai(path = "/orders/:id/ticket", method = "get", operation_id = "get_order_ticket", tag = "ApiTags::Orders")]
    async fn ticket(
        &self,
        state: Data<&Arc<AppState>>,
        auth: SessionAuth,
        id: Path<Uuid>,
    ) -> Result<TicketDownload, ApiError> {
        let who = auth.user(&state).await?;
        let file = super::for_buyer(&state.pool, state.files.as_ref(), who.user_id, id.0).await?;
        Ok(TicketDownload(file))
    }
}
