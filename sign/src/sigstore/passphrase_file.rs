//! A passphrase file as skopeo reads it for sigstore keys
//! (`generate-sigstore-key --passphrase-file`, `--sign-passphrase-file`):
//! containers/image `pkg/cli.ReadPassphraseFile` takes the first line, as
//! gpg(1) does, dropping only its `\n`. [`Passphrase::read_file`] keeps
//! podman's trimming rules instead; the two agree on every ordinary file.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;

use crate::{Passphrase, PassphraseError};

/// A first line longer than this is not a passphrase; stop reading there.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// The first line of `path`, without its line feed.
pub fn read_passphrase_first_line(path: &Path) -> Result<Passphrase, PassphraseError> {
    let read_err = |source| PassphraseError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut line = Vec::new();
    BufReader::new(file.take(MAX_LINE_BYTES))
        .read_until(b'\n', &mut line)
        .map_err(read_err)?;
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() as u64 >= MAX_LINE_BYTES {
        return Err(read_err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("first line longer than {MAX_LINE_BYTES} bytes"),
        )));
    }
    let text = String::from_utf8(line).map_err(|_| PassphraseError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    Ok(Passphrase::new(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &[u8]) -> Result<Vec<u8>, PassphraseError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, content).unwrap();
        read_passphrase_first_line(&path).map(|p| p.password().map(|b| b.to_vec()))
    }

    #[test]
    fn takes_the_first_line_as_skopeo() {
        assert_eq!(read(b"secret\n").unwrap(), b"secret");
        assert_eq!(read(b" spaced \nsecond\n").unwrap(), b" spaced ");
        assert_eq!(read(b"no newline").unwrap(), b"no newline");
        assert_eq!(read(b"").unwrap(), b"");
        assert_eq!(read(b"crlf\r\n").unwrap(), b"crlf\r");
    }

    #[test]
    fn refuses_endless_lines_and_names_the_file() {
        let err = read(&vec![b'a'; 70_000]).unwrap_err();
        assert!(err.to_string().contains("pass"), "{err}");
        let err = read_passphrase_first_line(Path::new("/nonexistent/pf")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/pf"), "{err}");
    }
}
