//! [`RawJson`]: a JSON request body kept as the exact bytes received, for signature checks.

use poem::{Request, RequestBody, Result};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};

pub struct RawJson(pub Vec<u8>);

impl Payload for RawJson {
    const CONTENT_TYPE: &'static str = "application/json";

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("object")))
    }

    fn register(_registry: &mut Registry) {}
}

impl ParsePayload for RawJson {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> Result<Self> {
        Ok(Self(body.take()?.into_vec().await?))
    }
}

impl<'a> poem_openapi::ApiExtractor<'a> for RawJson {
    const TYPES: &'static [poem_openapi::ApiExtractorType] = &[poem_openapi::ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<poem_openapi::registry::MetaRequest> {
        Some(poem_openapi::registry::MetaRequest {
            description: None,
            content: vec![poem_openapi::registry::MetaMediaType {
                content_type: <Self as Payload>::CONTENT_TYPE,
                schema: <Self as Payload>::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: poem_openapi::ExtractParamOptions<Self::ParamType>,
    ) -> Result<Self> {
        match request.content_type() {
            // Stripe sends `application/json; charset=utf-8`.
            Some(content_type)
                if content_type
                    .split(';')
                    .next()
                    .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json")) =>
            {
                <Self as ParsePayload>::from_request(request, body).await
            }
            Some(content_type) => {
                Err(poem_openapi::error::ContentTypeError::NotSupported { content_type: content_type.to_owned() }
                    .into())
            }
            None => Err(poem_openapi::error::ContentTypeError::ExpectContentType.into()),
        }
    }
}
