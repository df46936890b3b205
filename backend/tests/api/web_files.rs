//! The web UI's files as the server sends them: gzipped copies to browsers that accept gzip, the
//! files as they are to the rest, `index.html` for the UI's own routes.

use reqwest::Method;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};

use crate::support::TestApp;

/// A web directory like the one `cargo xtask web` writes: the module and the page, each with a
/// gzipped copy (any bytes do: the server sends them as they are), and a picture without one.
fn web_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ticket-exchange-web-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("web dir");
    for (name, bytes) in [
        ("app_bg.wasm", b"\0asm plain".as_slice()),
        ("app_bg.wasm.gz", b"\x1f\x8b gzipped module".as_slice()),
        ("index.html", b"<!doctype html><title>plain</title>".as_slice()),
        ("index.html.gz", b"\x1f\x8b gzipped page".as_slice()),
        ("logo.png", b"\x89PNG".as_slice()),
    ] {
        std::fs::write(dir.join(name), bytes).expect("file");
    }
    dir
}

#[tokio::test]
async fn a_browser_that_accepts_gzip_gets_the_gzipped_copy_and_one_that_does_not_the_file() {
    let dir = web_dir();
    let app = TestApp::spawn_with(&[("WEB_DIR", dir.to_str().expect("utf-8"))]).await;

    let gzipped = app
        .request(Method::GET, "/app_bg.wasm")
        .header(ACCEPT_ENCODING, "gzip, deflate, br")
        .send()
        .await
        .expect("get");
    assert_eq!(gzipped.status(), 200);
    assert_eq!(gzipped.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(gzipped.headers()[CONTENT_TYPE], "application/wasm");
    assert_eq!(gzipped.headers()[VARY], "accept-encoding");
    assert_eq!(gzipped.bytes().await.expect("body").as_ref(), b"\x1f\x8b gzipped module");

    for refuses in ["identity", "br", "gzip;q=0"] {
        let plain =
            app.request(Method::GET, "/app_bg.wasm").header(ACCEPT_ENCODING, refuses).send().await.expect("get");
        assert_eq!(plain.status(), 200);
        assert!(plain.headers().get(CONTENT_ENCODING).is_none(), "{refuses}: {:?}", plain.headers());
        assert_eq!(plain.headers()[VARY], "accept-encoding");
        assert_eq!(plain.bytes().await.expect("body").as_ref(), b"\0asm plain");
    }

    // The page itself, at `/` as at its name, and for a route of the UI's.
    for path in ["/", "/index.html", "/orders/123"] {
        let page = app.request(Method::GET, path).header(ACCEPT_ENCODING, "gzip").send().await.expect("get");
        assert_eq!(page.headers()[CONTENT_ENCODING], "gzip", "{path}");
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
        assert_eq!(page.bytes().await.expect("body").as_ref(), b"\x1f\x8b gzipped page");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn files_without_a_gzipped_copy_and_the_ui_s_own_routes_go_as_they_are() {
    let dir = web_dir();
    std::fs::remove_file(dir.join("index.html.gz")).expect("remove");
    let app = TestApp::spawn_with(&[("WEB_DIR", dir.to_str().expect("utf-8"))]).await;

    let picture = app.request(Method::GET, "/logo.png").header(ACCEPT_ENCODING, "gzip").send().await.expect("get");
    assert!(picture.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(picture.bytes().await.expect("body").as_ref(), b"\x89PNG");

    // No copy of the page now; a route of the UI's, or a missing module's copy, gets the page.
    for path in ["/", "/orders/123", "/missing.wasm"] {
        let page = app.request(Method::GET, path).header(ACCEPT_ENCODING, "gzip").send().await.expect("get");
        assert_eq!(page.status(), 200, "{path}");
        assert!(page.headers().get(CONTENT_ENCODING).is_none(), "{path}");
        assert_eq!(page.text().await.expect("body"), "<!doctype html><title>plain</title>", "{path}");
    }
    // The copy's name is no way around the directory.
    let outside =
        app.request(Method::GET, "/..%2f..%2fetc%2fpasswd").header(ACCEPT_ENCODING, "gzip").send().await.expect("get");
    assert!(!outside.text().await.expect("body").contains("root:"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn head_is_answered_as_get_is_without_the_body() {
    let dir = web_dir();
    let app = TestApp::spawn_with(&[("WEB_DIR", dir.to_str().expect("utf-8"))]).await;

    for (path, encoding, length) in [
        ("/app_bg.wasm", Some("gzip"), b"\x1f\x8b gzipped module".len()),
        ("/logo.png", None, b"\x89PNG".len()),
        ("/", Some("gzip"), b"\x1f\x8b gzipped page".len()),
        ("/orders/123", Some("gzip"), b"\x1f\x8b gzipped page".len()),
    ] {
        let head = app.request(Method::HEAD, path).header(ACCEPT_ENCODING, "gzip").send().await.expect("head");
        assert_eq!(head.status(), 200, "{path}");
        assert_eq!(head.headers().get(CONTENT_ENCODING).map(|v| v.to_str().expect("ascii")), encoding, "{path}");
        assert_eq!(head.headers()[CONTENT_LENGTH], length.to_string().as_str(), "{path}");
        assert!(head.bytes().await.expect("body").is_empty(), "{path}");
    }
    // A range is for GET only: HEAD tells of the whole file.
    let ranged =
        app.request(Method::HEAD, "/logo.png").header(reqwest::header::RANGE, "bytes=0-1").send().await.expect("head");
    assert_eq!(ranged.status(), 200);
    assert_eq!(ranged.headers()[CONTENT_LENGTH], "4");
    // Other methods are still refused.
    let post = app.request(Method::POST, "/logo.png").send().await.expect("post");
    assert_eq!(post.status(), 405);
    let _ = std::fs::remove_dir_all(&dir);
}
