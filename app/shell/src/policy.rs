//! The window's Content-Security-Policy: the shipped one from `tauri.conf.json`, widened at start by
//! exactly the servers this copy of the app talks to, and never by a wildcard.

use tauri::utils::config::{Csp, CspDirectiveSources};

/// The origin of Stripe's own Stripe.js, whose hosts the shipped policy already names.
const STRIPE_JS_ORIGIN: &str = "https://js.stripe.com";

/// Why the policy could not be made.
#[derive(Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// `tauri.conf.json` carries no policy as a map of directives.
    NotShipped,
    /// A configured URL is not `http(s)://host[:port]...`.
    NotAnOrigin(String),
    /// The policy lets in more than named hosts (see [`too_wide`]).
    TooWide(Vec<String>),
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotShipped => write!(f, "tauri.conf.json has no Content-Security-Policy as a map of directives"),
            Self::NotAnOrigin(url) => write!(f, "`{url}` is not an http(s) URL with a host"),
            Self::TooWide(sources) => write!(f, "the Content-Security-Policy is too wide: {}", sources.join(", ")),
        }
    }
}

impl std::error::Error for PolicyError {}

/// `scheme://host[:port]` of an http(s) URL, refusing anything a policy would read as more than one
/// origin (wildcards, spaces, separators) or a URL without a host.
pub fn origin(url: &str) -> Result<String, PolicyError> {
    let refuse = || PolicyError::NotAnOrigin(url.to_owned());
    let (scheme, rest) = url.trim().split_once("://").ok_or_else(refuse)?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https") {
        return Err(refuse());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if authority.is_empty() || authority.contains('@') || !authority.chars().all(host_chars) {
        return Err(refuse());
    }
    Ok(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Adds the API's origin to `connect-src` and, for a Stripe.js other than Stripe's own (a stand-in
/// such as localstripe, which the UI fetches and runs), its origin to `connect-src`, `script-src` and
/// `frame-src`. A policy that ends up letting in more than named hosts is refused: the app does not
/// start with it.
pub fn allow_servers(csp: &mut Option<Csp>, api_url: &str, stripe_js_url: Option<&str>) -> Result<(), PolicyError> {
    let Some(Csp::DirectiveMap(directives)) = csp else {
        return Err(PolicyError::NotShipped);
    };
    let mut allow = |directive: &str, source: &str| {
        let sources = directives.entry(directive.to_owned()).or_insert_with(|| CspDirectiveSources::List(vec![]));
        if !sources.contains(source) {
            sources.push(source);
        }
    };
    allow("connect-src", &origin(api_url)?);
    if let Some(stand_in) = stripe_js_url.map(stand_in_origin).transpose()?.flatten() {
        for directive in ["connect-src", "script-src", "frame-src"] {
            allow(directive, &stand_in);
        }
    }
    let sources: Vec<(String, Vec<String>)> =
        directives.iter().map(|(directive, sources)| (directive.clone(), Vec::from(sources.clone()))).collect();
    let wide = too_wide(sources.iter().flat_map(|(d, list)| list.iter().map(move |s| (d.as_str(), s.as_str()))));
    if wide.is_empty() { Ok(()) } else { Err(PolicyError::TooWide(wide)) }
}

/// The origin of Stripe.js at `url` when it is not Stripe's own (a stand-in the UI fetches and runs).
pub fn stand_in_origin(url: &str) -> Result<Option<String>, PolicyError> {
    Ok(Some(origin(url)?).filter(|origin| origin != STRIPE_JS_ORIGIN))
}

/// Sources in `policy` (directive → sources) that let in more than named hosts: a bare scheme
/// (`https:`; `data:` only for images and fonts, `ipc:` being the app's own), `*`, a host wildcard
/// other than Stripe's own subdomains, or inline scripts.
pub fn too_wide<'a>(policy: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    policy
        .into_iter()
        .filter(|(directive, source)| {
            let bare_scheme = source.ends_with(':')
                && !(*source == "ipc:" || *source == "data:" && matches!(*directive, "img-src" | "font-src"));
            let stripe_subdomains = source.strip_prefix("https://*.").is_some_and(|host| {
                host == "stripe.com"
                    || host.ends_with(".stripe.com")
                        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            });
            let wildcard = source.contains('*') && !stripe_subdomains;
            let inline_scripts = *source == "'unsafe-inline'" && directive.starts_with("script-src");
            bare_scheme || wildcard || inline_scripts
        })
        .map(|(directive, source)| format!("{directive} {source}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The policy as shipped in `tauri.conf.json`.
    fn shipped() -> HashMap<String, Vec<String>> {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("tauri.conf.json is JSON");
        serde_json::from_value(config["app"]["security"]["csp"].clone()).expect("the policy is a map of lists")
    }

    fn pairs(policy: &HashMap<String, Vec<String>>) -> Vec<(&str, &str)> {
        policy.iter().flat_map(|(d, sources)| sources.iter().map(move |s| (d.as_str(), s.as_str()))).collect()
    }

    #[test]
    fn the_shipped_policy_names_its_hosts_and_no_wildcards() {
        let policy = shipped();
        assert_eq!(too_wide(pairs(&policy)), Vec::<String>::new());
        assert!(!policy["script-src"].contains(&"'unsafe-inline'".to_owned()), "no inline scripts");
        assert!(policy["script-src"].contains(&"'unsafe-eval'".to_owned()), "the checkout's glue runs through eval");
        assert!(policy["script-src"].contains(&STRIPE_JS_ORIGIN.to_owned()));
        assert_eq!(policy["object-src"], ["'none'"]);
    }

    #[test]
    fn wildcards_are_found() {
        let wide = [
            ("connect-src", "https:"),
            ("script-src", "*"),
            ("img-src", "https://*.example.com"),
            ("x", "http://*"),
            ("script-src", "https://*.evil.com/x.stripe.com"),
            ("script-src", "data:"),
            ("script-src", "'unsafe-inline'"),
        ];
        assert_eq!(too_wide(wide).len(), wide.len());
        assert!(too_wide([("img-src", "data:"), ("img-src", "https://*.stripe.com")]).is_empty());
        assert!(too_wide([("script-src", "https://*.js.stripe.com"), ("connect-src", "ipc:")]).is_empty());
    }

    #[test]
    fn the_api_and_a_stand_in_are_added_as_origins() {
        let mut csp = Some(Csp::DirectiveMap(
            shipped().into_iter().map(|(d, sources)| (d, CspDirectiveSources::List(sources))).collect(),
        ));
        allow_servers(&mut csp, "http://127.0.0.1:8080/", Some("http://127.0.0.1:8420/js.stripe.com/v3/"))
            .expect("allowed");
        let Some(Csp::DirectiveMap(directives)) = &csp else { panic!("a map") };
        assert!(directives["connect-src"].contains("http://127.0.0.1:8080"));
        assert!(directives["script-src"].contains("http://127.0.0.1:8420"));
        assert!(!directives["script-src"].contains("http://127.0.0.1:8080"), "the API runs no scripts");
        let all: Vec<String> = Vec::from(directives["connect-src"].clone());
        assert_eq!(all.iter().filter(|s| s.as_str() == "http://127.0.0.1:8080").count(), 1);

        let before = csp.clone();
        allow_servers(&mut csp, "https://tickets.example", Some("https://js.stripe.com/v3/")).expect("allowed");
        let Some(Csp::DirectiveMap(directives)) = &csp else { panic!("a map") };
        assert!(directives["connect-src"].contains("https://tickets.example"));
        assert_ne!(before, csp);
    }

    #[test]
    fn only_origins_are_accepted() {
        assert_eq!(origin("HTTPS://Tickets.Example:8443/api?x"), Ok("https://tickets.example:8443".to_owned()));
        for bad in
            ["https:", "https://", "*", "https://*", "ftp://host", "http://a b", "http://h;script-src *", "http://u@h"]
        {
            assert_eq!(origin(bad), Err(PolicyError::NotAnOrigin(bad.to_owned())), "{bad}");
        }
        assert_eq!(allow_servers(&mut None, "http://127.0.0.1:8080", None), Err(PolicyError::NotShipped));
        let mut wide =
            Some(Csp::DirectiveMap([("img-src".to_owned(), CspDirectiveSources::List(vec!["https:".into()]))].into()));
        assert_eq!(
            allow_servers(&mut wide, "http://127.0.0.1:8080", None),
            Err(PolicyError::TooWide(vec!["img-src https:".into()]))
        );
    }
}
