//! Lookaside reading over `file://` and a local HTTP server (§4.4, §8.6 #125–#128).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const HEX: &str = "08e356e90ad32cd8f03676fe439a181893199dfd50778ec06cda85c2390f8104";

fn digest() -> String {
    format!("sha256:{HEX}")
}

/// A minimal signature blob that passes sniffing.
fn blob(n: u8) -> Vec<u8> {
    vec![0xC4, n]
}

fn write_sigs(dir: &std::path::Path, indexes: &[usize]) -> LookasideUrl {
    let sigdir = dir.join(format!("ns/app@sha256={HEX}"));
    std::fs::create_dir_all(&sigdir).unwrap();
    for i in indexes {
        std::fs::write(
            sigdir.join(format!("signature-{i}")),
            blob(u8::try_from(*i).unwrap()),
        )
        .unwrap();
    }
    LookasideUrl::parse(&format!("file://{}/ns/app", dir.display())).unwrap()
}

#[tokio::test]
async fn file_reading_stops_at_first_gap() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_sigs(dir.path(), &[1, 2, 4]);
    let sigs = read_signatures(&Fetcher::new().unwrap(), &base, &digest())
        .await
        .unwrap();
    assert_eq!(sigs, vec![blob(1), blob(2)]);
    let none = write_sigs(&dir.path().join("empty"), &[]);
    assert!(read_signatures(&Fetcher::new().unwrap(), &none, &digest())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn armored_signature_is_refused_with_its_path() {
    // §8.6 #128.
    let dir = tempfile::tempdir().unwrap();
    let base = write_sigs(dir.path(), &[]);
    let path = dir.path().join(format!("ns/app@sha256={HEX}/signature-1"));
    std::fs::write(&path, "-----BEGIN PGP MESSAGE-----\n").unwrap();
    let err = read_signatures(&Fetcher::new().unwrap(), &base, &digest())
        .await
        .unwrap_err();
    let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert_eq!(
        text,
        format!(
            "parsing signature {:?}: unrecognized signature format, starting with binary 0x2d",
            path.to_string_lossy()
        )
    );
}

#[tokio::test]
async fn at_most_128_signatures() {
    let dir = tempfile::tempdir().unwrap();
    // Upstream errors on reaching index 128 without probing it, so 127 is
    // the most that can be read and a 128th signature makes it fail.
    let all: Vec<usize> = (1..=127).collect();
    let base = write_sigs(dir.path(), &all);
    assert_eq!(
        read_signatures(&Fetcher::new().unwrap(), &base, &digest())
            .await
            .unwrap()
            .len(),
        127
    );
    let base = write_sigs(dir.path(), &[128]);
    let err = read_signatures(&Fetcher::new().unwrap(), &base, &digest())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "server provided 128 signatures, assuming that's unreasonable and a server error"
    );
}

#[tokio::test]
async fn unsupported_schemes_and_bad_digests() {
    let fetcher = Fetcher::new().unwrap();
    for base in ["/srv/sigs", "relative/sigs", "ftp://h/sigs"] {
        let url = LookasideUrl::parse(base).unwrap();
        let err = read_signatures(&fetcher, &url, &digest())
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Unsupported scheme when reading signature from"),
            "{base}: {err}"
        );
    }
    let url = LookasideUrl::parse("file:///srv").unwrap();
    assert!(matches!(
        read_signatures(&fetcher, &url, "sha256:../x").await,
        Err(LookasideError::Url(_))
    ));
}

/// A one-connection-at-a-time HTTP server: path → (status line, body). Records request paths.
async fn serve(
    routes: HashMap<String, (&'static str, Vec<u8>)>,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        // Bounded: tests make only a handful of requests.
        for _ in 0..32 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(path.clone());
            let (status, body) = routes
                .get(&path)
                .cloned()
                .unwrap_or(("404 Not Found", Vec::new()));
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(&body).await;
            let _ = sock.shutdown().await;
        }
    });
    (format!("http://{addr}"), seen)
}

fn sig_path(i: usize) -> String {
    format!("/sigs/ns/app@sha256={HEX}/signature-{i}")
}

#[tokio::test]
async fn http_404_stops_reading() {
    // §8.6 #126: exactly two GETs, one signature.
    let routes = HashMap::from([(sig_path(1), ("200 OK", blob(1)))]);
    let (base, seen) = serve(routes).await;
    let url = LookasideUrl::parse(&format!("{base}/sigs/ns/app")).unwrap();
    let sigs = read_signatures(&Fetcher::new().unwrap(), &url, &digest())
        .await
        .unwrap();
    assert_eq!(sigs, vec![blob(1)]);
    assert_eq!(*seen.lock().unwrap(), vec![sig_path(1), sig_path(2)]);
}

#[tokio::test]
async fn http_errors_are_fatal() {
    // §8.6 #127.
    let routes = HashMap::from([
        (sig_path(1), ("200 OK", blob(1))),
        (sig_path(2), ("500 Internal Server Error", Vec::new())),
    ]);
    let (base, _) = serve(routes).await;
    let url = LookasideUrl::parse(&format!("{base}/sigs/ns/app")).unwrap();
    let err = read_signatures(&Fetcher::new().unwrap(), &url, &digest())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "reading signature from {base}{}: status 500 (Internal Server Error)",
            sig_path(2)
        )
    );

    let routes = HashMap::from([(sig_path(1), ("403 Forbidden", Vec::new()))]);
    let (base, _) = serve(routes).await;
    let url = LookasideUrl::parse(&format!("{base}/sigs/ns/app")).unwrap();
    let err = read_signatures(&Fetcher::new().unwrap(), &url, &digest())
        .await
        .unwrap_err();
    assert!(err.to_string().ends_with("status 403 (Forbidden)"), "{err}");
}

#[tokio::test]
async fn http_body_is_capped() {
    let routes = HashMap::from([(sig_path(1), ("200 OK", vec![0xC4; MAX_SIGNATURE_SIZE + 1]))]);
    let (base, _) = serve(routes).await;
    let url = LookasideUrl::parse(&format!("{base}/sigs/ns/app")).unwrap();
    let err = read_signatures(&Fetcher::new().unwrap(), &url, &digest())
        .await
        .unwrap_err();
    assert!(
        matches!(err, LookasideError::Fetch(FetchError::TooLarge { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn write_then_read_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_sigs(dir.path(), &[1, 2, 3]);
    // Writing two signatures replaces 1–2 and removes the stale third.
    write_signatures(&base, &digest(), &[blob(10), blob(11)]).unwrap();
    let sigs = read_signatures(&Fetcher::new().unwrap(), &base, &digest())
        .await
        .unwrap();
    assert_eq!(sigs, vec![blob(10), blob(11)]);
    // Nothing to write: nothing changes.
    write_signatures(&base, &digest(), &[]).unwrap();
    assert_eq!(
        read_signatures(&Fetcher::new().unwrap(), &base, &digest())
            .await
            .unwrap()
            .len(),
        2
    );
    let http = LookasideUrl::parse("https://h/sigs").unwrap();
    let err = write_signatures(&http, &digest(), &[blob(1)]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Writing directly to a https lookaside"),
        "{err}"
    );
    let bare = LookasideUrl::parse("/srv/sigs").unwrap();
    assert!(matches!(
        write_signatures(&bare, &digest(), &[blob(1)]),
        Err(WriteError::UnsupportedScheme { .. })
    ));
}
