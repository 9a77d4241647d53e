//! Route tests through `oneshot`, no sockets (axum examples/testing style).

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::check::tests::fixture;
use crate::check::{SignedBy, Structural};
use crate::tokens::hash_token;

const HEX: &str = "20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";

fn state(root: &Path, check: Arc<dyn UploadCheck>) -> AppState {
    let tokens = format!(
        "{} ns/app ci\n{} other\n",
        hash_token("good-token"),
        hash_token("other-token")
    );
    let config = AppConfig {
        max_body: 8192,
        ..AppConfig::default()
    };
    AppState::new(
        Store::open(root, 64, 1 << 20).unwrap(),
        Some(Tokens::parse(&tokens).unwrap()),
        check,
        config,
    )
}

fn router(root: &Path) -> Router {
    app(state(root, Arc::new(Structural)))
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes().to_vec(),
    )
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, token: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut b = Request::post(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::from(body)).unwrap()
}

fn sig_dir(root: &Path) -> std::path::PathBuf {
    root.join(format!("ns/app@sha256={HEX}"))
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => vec![],
    };
    v.sort();
    v
}

#[tokio::test]
async fn get_head_etag_and_cache_control() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(sig_dir(root.path())).unwrap();
    std::fs::write(sig_dir(root.path()).join("signature-1"), b"blob").unwrap();
    let app = router(root.path());
    let uri = format!("/ns/app@sha256={HEX}/signature-1");

    let (st, h, body) = send(&app, get(&uri)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, b"blob");
    assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(h[header::CACHE_CONTROL], "public, max-age=3600, immutable");
    let etag = h[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");

    let head = Request::head(&uri).body(Body::empty()).unwrap();
    let (st, h, body) = send(&app, head).await;
    assert_eq!((st, body.len()), (StatusCode::OK, 0));
    assert_eq!(h[header::CONTENT_LENGTH], "4");

    for inm in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"x\", {etag}"),
        "*".to_string(),
    ] {
        let req = Request::get(&uri)
            .header(header::IF_NONE_MATCH, &inm)
            .body(Body::empty())
            .unwrap();
        let (st, h, body) = send(&app, req).await;
        assert_eq!(st, StatusCode::NOT_MODIFIED, "{inm}");
        assert!(body.is_empty());
        assert_eq!(h[header::ETAG], etag.as_str());
    }
    let req = Request::get(&uri)
        .header(header::IF_NONE_MATCH, "\"other\"")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.0, StatusCode::OK);

    let (st, h, _) = send(&app, get(&format!("/ns/app@sha256={HEX}/signature-2"))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
}

#[tokio::test]
async fn traversal_never_reads_outside_the_root() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir_all(sig_dir(&root)).unwrap();
    std::fs::write(outer.path().join("secret"), b"SECRET").unwrap();
    std::os::unix::fs::symlink(
        outer.path().join("secret"),
        sig_dir(&root).join("signature-1"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../../../secret", sig_dir(&root).join("signature-2")).unwrap();
    let app = router(&root);
    for uri in [
        format!("/ns/app@sha256={HEX}/signature-1"),
        format!("/ns/app@sha256={HEX}/signature-2"),
        "/../secret".into(),
        "/%2e%2e/secret".into(),
        format!("/ns/app@sha256={HEX}/..%2f..%2f..%2fsecret"),
        format!("/ns/%2e%2e/%2e%2e/app@sha256={HEX}/signature-1"),
    ] {
        let (st, _, body) = send(&app, get(&uri)).await;
        assert!(matches!(st.as_u16(), 400 | 404), "{uri}: {st}");
        assert!(!String::from_utf8_lossy(&body).contains("SECRET"), "{uri}");
        assert!(
            !String::from_utf8_lossy(&body).contains(outer.path().to_str().unwrap()),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn uploads_need_a_token_for_the_repository() {
    let root = tempfile::tempdir().unwrap();
    let app = router(root.path());
    let sig = fixture("signature/fixtures/image.signature");
    let uri = format!("/ns/app@sha256={HEX}/signatures");
    let (st, h, _) = send(&app, post(&uri, None, sig.clone())).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h[header::WWW_AUTHENTICATE],
        "Bearer realm=\"sigstore-server\""
    );
    assert_eq!(
        send(&app, post(&uri, Some("bad-token"), sig.clone()))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let basic = Request::post(&uri)
        .header(header::AUTHORIZATION, "Basic Z29vZC10b2tlbjo=")
        .body(Body::from(sig.clone()))
        .unwrap();
    assert_eq!(send(&app, basic).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(&app, post(&uri, Some("other-token"), sig.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let other_repo = format!("/ns/application@sha256={HEX}/signatures");
    assert_eq!(
        send(&app, post(&other_repo, Some("good-token"), sig.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert!(files(root.path()).is_empty(), "nothing may be written");

    let (st, h, body) = send(&app, post(&uri, Some("good-token"), sig.clone())).await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(
        h[header::LOCATION],
        format!("/ns/app@sha256={HEX}/signature-1")
    );
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["index"], 1);
    assert_eq!(json["key"], "E932F44B23E8DD43");
    let (st, h, _) = send(&app, post(&uri, Some("good-token"), sig.clone())).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(
        h[header::LOCATION],
        format!("/ns/app@sha256={HEX}/signature-2")
    );
    assert_eq!(
        std::fs::read(sig_dir(root.path()).join("signature-2")).unwrap(),
        sig
    );
    // …and it is served back.
    let (st, _, body) = send(&app, get(&format!("/ns/app@sha256={HEX}/signature-2"))).await;
    assert_eq!((st, body), (StatusCode::OK, sig));
}

#[tokio::test]
async fn uploads_must_be_signatures_of_the_path_digest() {
    let root = tempfile::tempdir().unwrap();
    let app = router(root.path());
    let sig = fixture("signature/fixtures/image.signature");
    let other = "1".repeat(64);
    for (uri, body) in [
        (format!("/ns/app@sha256={other}/signatures"), sig.clone()),
        (
            format!("/ns/app@sha256={HEX}/signatures"),
            b"garbage".to_vec(),
        ),
        (format!("/ns/app@sha256={HEX}/signatures"), vec![]),
        (
            format!("/ns/app@sha256={HEX}/signatures"),
            sig[..sig.len() / 2].to_vec(),
        ),
        (
            format!("/ns/app@sha256={HEX}/signatures"),
            fixture("signature/fixtures/invalid-blob.signature"),
        ),
    ] {
        let (st, _, body) = send(&app, post(&uri, Some("good-token"), body)).await;
        assert_eq!(
            st,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let (st, _, _) = send(
        &app,
        post(
            &format!("/ns/app@sha256={HEX}/signatures"),
            Some("good-token"),
            vec![0xa3; 9000],
        ),
    )
    .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(files(root.path()).is_empty());

    // --require-signer: a structurally fine signature by another key is refused.
    let strict = app_with(
        root.path(),
        SignedBy::new(&fixture("signature/fixtures/public-key-2.gpg")).unwrap(),
    );
    let (st, _, body) = send(
        &strict,
        post(
            &format!("/ns/app@sha256={HEX}/signatures"),
            Some("good-token"),
            sig.clone(),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&body).contains("not accepted"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let right = app_with(
        root.path(),
        SignedBy::new(&fixture("signature/fixtures/public-key.gpg")).unwrap(),
    );
    let (st, _, body) = send(
        &right,
        post(
            &format!("/ns/app@sha256={HEX}/signatures"),
            Some("good-token"),
            sig,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (json["key"].as_str(), json["verified"].as_bool()),
        (Some("08CD26E446E2E95249B7A405E932F44B23E8DD43"), Some(true))
    );
}

fn app_with(root: &Path, check: impl UploadCheck + 'static) -> Router {
    app(state(root, Arc::new(check)))
}

#[tokio::test]
async fn put_is_write_once() {
    let root = tempfile::tempdir().unwrap();
    let app = router(root.path());
    let sig = fixture("signature/fixtures/image.signature");
    let uri = format!("/ns/app@sha256={HEX}/signature-3");
    let put = |inm: Option<&str>| {
        let mut b = Request::put(&uri).header(header::AUTHORIZATION, "Bearer good-token");
        if let Some(v) = inm {
            b = b.header(header::IF_NONE_MATCH, v);
        }
        b.body(Body::from(sig.clone())).unwrap()
    };
    assert_eq!(
        send(&app, put(None)).await.0,
        StatusCode::PRECONDITION_REQUIRED
    );
    assert_eq!(
        send(&app, put(Some("\"abc\""))).await.0,
        StatusCode::PRECONDITION_REQUIRED
    );
    let (st, h, _) = send(&app, put(Some("*"))).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(h[header::LOCATION], uri.as_str());
    assert_eq!(
        send(&app, put(Some("*"))).await.0,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(files(&sig_dir(root.path())), ["signature-3"]);
    let high = Request::put(format!("/ns/app@sha256={HEX}/signature-128"))
        .header(header::AUTHORIZATION, "Bearer good-token")
        .header(header::IF_NONE_MATCH, "*")
        .body(Body::from(sig.clone()))
        .unwrap();
    assert_eq!(send(&app, high).await.0, StatusCode::BAD_REQUEST);
    // POST to a signature and PUT to the collection are not a thing.
    let wrong = post(&uri, Some("good-token"), sig);
    assert_eq!(send(&app, wrong).await.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_take_distinct_consecutive_indexes() {
    let root = tempfile::tempdir().unwrap();
    let app = router(root.path());
    let sig = fixture("signature/fixtures/image.signature");
    let uri = format!("/ns/app@sha256={HEX}/signatures");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (app, req) = (app.clone(), post(&uri, Some("good-token"), sig.clone()));
        tasks.push(tokio::spawn(async move { send(&app, req).await }));
    }
    let mut locations = Vec::new();
    for t in tasks {
        let (st, h, _) = t.await.unwrap();
        assert_eq!(st, StatusCode::CREATED);
        locations.push(h[header::LOCATION].to_str().unwrap().to_string());
    }
    locations.sort();
    locations.dedup();
    assert_eq!(locations.len(), 100);
    let mut want: Vec<String> = (1..=100).map(|n| format!("signature-{n}")).collect();
    want.sort();
    assert_eq!(files(&sig_dir(root.path())), want);
    for n in 1..=100 {
        assert_eq!(
            std::fs::read(sig_dir(root.path()).join(format!("signature-{n}"))).unwrap(),
            sig
        );
    }
}

#[tokio::test]
async fn read_only_without_tokens_and_operational_endpoints() {
    let root = tempfile::tempdir().unwrap();
    let s = AppState::new(
        Store::open(root.path(), 0, 0).unwrap(),
        None,
        Arc::new(Structural),
        AppConfig::default(),
    );
    let app = app(s);
    let sig = fixture("signature/fixtures/image.signature");
    let (st, h, _) = send(
        &app,
        post(&format!("/ns/app@sha256={HEX}/signatures"), Some("x"), sig),
    )
    .await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h[header::ALLOW], "GET, HEAD, POST, PUT");
    let del = Request::delete(format!("/ns/app@sha256={HEX}/signature-1"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, del).await.0, StatusCode::METHOD_NOT_ALLOWED);
    let (st, _, body) = send(&app, get("/healthz")).await;
    assert_eq!((st, body), (StatusCode::OK, b"ok\n".to_vec()));
    let (st, h, body) = send(&app, get("/metrics")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(h[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("sigstore_http_requests_total{method=\"POST\",status=\"405\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sigstore_http_requests_total{method=\"GET\",status=\"200\"} 1"),
        "{text}"
    );
}
