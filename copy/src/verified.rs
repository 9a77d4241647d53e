//! A blob stream that ends only if the bytes are the ones the descriptor
//! names: more bytes than declared fail at once, and a short or wrong blob
//! fails in place of its end, so a destination writing from it (an HTTP
//! body, a temp file) aborts instead of committing.

use bytes::Bytes;
use futures_util::StreamExt;
use vouch_image::digest::Hasher;
use vouch_image::manifest::Descriptor;

use crate::endpoint::BlobStream;

/// Wraps `inner`.
pub fn verified(image: String, desc: &Descriptor, inner: BlobStream) -> BlobStream {
    verified_reporting(image, desc, inner, |_| {})
}

/// [`verified`], telling `on_bytes` after each chunk how many bytes have
/// passed so far (a progress bar's position); it is `'static` because the
/// stream outlives the call, carried off by the destination's upload.
pub fn verified_reporting(
    image: String,
    desc: &Descriptor,
    inner: BlobStream,
    on_bytes: impl Fn(u64) + Send + Sync + 'static,
) -> BlobStream {
    let want = desc.digest.clone();
    let size = desc.size;
    let on_bytes = std::sync::Arc::new(on_bytes);
    let state = (inner, Hasher::default(), false);
    futures_util::stream::unfold(state, move |(mut inner, mut hasher, done)| {
        let want = want.clone();
        let image = image.clone();
        let on_bytes = on_bytes.clone();
        async move {
            if done {
                return None;
            }
            match inner.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    if hasher.len() > size {
                        let e = invalid(format!(
                            "{image}: blob {want} is larger than the {size} bytes its descriptor declares"
                        ));
                        return Some((Err(e), (inner, hasher, true)));
                    }
                    on_bytes(hasher.len());
                    Some((Ok::<Bytes, std::io::Error>(chunk), (inner, hasher, false)))
                }
                Some(Err(e)) => Some((Err(e), (inner, hasher, true))),
                None => {
                    let got = hasher.len();
                    if got != size {
                        let e = invalid(format!(
                            "{image}: blob {want} is {got} bytes, its descriptor declares {size}"
                        ));
                        return Some((Err(e), (inner, Hasher::default(), true)));
                    }
                    let actual = hasher.clone().finish();
                    if actual != want {
                        let e = invalid(format!(
                            "{image}: blob {want} failed its integrity check: got {actual}"
                        ));
                        return Some((Err(e), (inner, Hasher::default(), true)));
                    }
                    None
                }
            }
        }
    })
    .boxed()
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;
    use vouch_image::Digest;

    fn desc(bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: "x".into(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            platform: None,
            annotations: None,
        }
    }

    fn stream(parts: Vec<&'static [u8]>) -> BlobStream {
        futures_util::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))).boxed()
    }

    async fn collect(s: BlobStream) -> std::io::Result<Vec<u8>> {
        let chunks: Vec<Bytes> = s.try_collect().await?;
        Ok(chunks.concat())
    }

    #[tokio::test]
    async fn good_bytes_pass_and_bad_ones_fail_in_place_of_the_end() {
        let d = desc(b"hello world");
        let ok = verified("i".into(), &d, stream(vec![b"hello ", b"world"]));
        assert_eq!(collect(ok).await.unwrap(), b"hello world");

        let wrong = verified("i".into(), &d, stream(vec![b"hello ", b"WORLD"]));
        let e = collect(wrong).await.unwrap_err().to_string();
        assert!(e.contains("failed its integrity check"), "{e}");

        let short = verified("i".into(), &d, stream(vec![b"hello"]));
        let e = collect(short).await.unwrap_err().to_string();
        assert!(e.contains("is 5 bytes"), "{e}");

        let long = verified("i".into(), &d, stream(vec![b"hello world", b"!"]));
        let e = collect(long).await.unwrap_err().to_string();
        assert!(e.contains("larger than"), "{e}");
    }

    #[tokio::test]
    async fn progress_counts_the_bytes_so_far_and_stops_at_an_overrun() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let d = desc(b"hello world");
        let log = seen.clone();
        let ok = verified_reporting(
            "i".into(),
            &d,
            stream(vec![b"hello ", b"world"]),
            move |n| log.lock().unwrap().push(n),
        );
        collect(ok).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![6, 11]);

        seen.lock().unwrap().clear();
        let log = seen.clone();
        let long = verified_reporting(
            "i".into(),
            &d,
            stream(vec![b"hello ", b"world!"]),
            move |n| log.lock().unwrap().push(n),
        );
        collect(long).await.unwrap_err();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![6],
            "no count past the declared size"
        );
    }
}
