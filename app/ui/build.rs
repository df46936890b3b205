//! Generates the API client from `openapi.yaml` with progenitor. The UI calls the API only through
//! these generated types and functions, so an API change the UI does not follow fails this build.

use std::path::PathBuf;

fn main() {
    let spec_path = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../../openapi.yaml");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let text = std::fs::read_to_string(&spec_path).expect("read openapi.yaml");
    let spec: openapiv3::OpenAPI = serde_yaml::from_str(&text).expect("openapi.yaml is valid OpenAPI");
    let mut settings = progenitor::GenerationSettings::default();
    settings.with_interface(progenitor::InterfaceStyle::Builder).with_derive("PartialEq");
    // Every `date-time` is read into the UI's own `Timestamp` rather than chrono's `DateTime`.
    let date_time = schemars::schema::SchemaObject {
        instance_type: Some(schemars::schema::InstanceType::String.into()),
        format: Some("date-time".to_owned()),
        ..Default::default()
    };
    settings.with_conversion(
        date_time,
        "crate::timestamp::Timestamp",
        [progenitor::TypeImpl::Display, progenitor::TypeImpl::FromStr].into_iter(),
    );
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator.generate_tokens(&spec).expect("generate the client");
    let file: syn::File = syn::parse2(tokens).expect("generated code parses");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("api_client.rs");
    std::fs::write(out, prettyplease::unparse(&file)).expect("write the client");
}
