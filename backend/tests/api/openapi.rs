/// The checked-in `openapi.yaml` is exactly what the code generates.
#[test]
fn checked_in_spec_matches_the_code() {
    let path = crate::support::manifest_dir().join("../openapi.yaml");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = ticket_exchange::http::spec_yaml();
    assert!(checked_in == generated, "openapi.yaml is out of date: run `cargo xtask openapi` and commit the result");
}

/// Every operation documents the error body for its failures.
#[test]
fn every_operation_lists_its_error_responses() {
    let spec: serde_json::Value = serde_yaml::from_str(&ticket_exchange::http::spec_yaml()).expect("yaml");
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operation") {
            let responses = operation["responses"].as_object().expect("responses");
            let takes_input = operation.get("requestBody").is_some()
                || operation.get("parameters").is_some()
                || operation.get("security").is_some();
            if !takes_input {
                continue;
            }
            for status in ["400", "401", "404", "409", "422", "429", "500"] {
                assert!(responses.contains_key(status), "{method} {path} does not list {status}");
            }
        }
    }
}
