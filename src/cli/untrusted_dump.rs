//! `vouch untrusted-signature-dump-without-verification FILE`: skopeo's
//! hidden debugging command. It prints a simple signature's claims without
//! checking the signature, so its output must never feed a trust decision.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Local, SecondsFormat, TimeZone};
use clap::Args;
use vouch_image::go_json::string as go_string;
use vouch_verify::untrusted::UntrustedDump;

use super::common::Global;
use super::standalone::read_capped;

#[derive(Args, Debug)]
pub struct UntrustedDumpArgs {
    /// The signature file.
    pub signature: PathBuf,
}

pub fn run(_global: &Global, a: UntrustedDumpArgs) -> anyhow::Result<ExitCode> {
    let blob = read_capped(&a.signature)
        .with_context(|| format!("Error reading signature from {}", a.signature.display()))?;
    let dump = vouch_verify::signature::untrusted_dump(&blob).with_context(|| {
        format!(
            "Error decoding untrusted signature {}",
            a.signature.display()
        )
    })?;
    println!("{}", render(&dump, local_rfc3339));
    Ok(ExitCode::SUCCESS)
}

/// A Unix time as Go's `time.Time` marshals after `time.Unix`: RFC 3339 in
/// the local zone (honouring TZ), `Z` for a zero offset.
fn local_rfc3339(seconds: i64) -> String {
    match Local.timestamp_opt(seconds, 0).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => chrono::DateTime::<chrono::Utc>::from_timestamp(seconds, 0)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            .unwrap_or_default(),
    }
}

/// skopeo's `json.MarshalIndent(info, "", "    ")` of
/// `UntrustedSignatureInformation`, field order and null pointers included.
fn render(dump: &UntrustedDump, time: impl Fn(i64) -> String) -> String {
    let c = &dump.contents;
    let opt = |v: Option<String>| v.map_or_else(|| "null".to_string(), |s| go_string(&s));
    format!(
        "{{\n    \"UntrustedDockerManifestDigest\": {},\n    \"UntrustedDockerReference\": {},\n    \"UntrustedCreatorID\": {},\n    \"UntrustedTimestamp\": {},\n    \"UntrustedShortKeyIdentifier\": {}\n}}",
        go_string(&c.untrusted_docker_manifest_digest),
        go_string(&c.untrusted_docker_reference),
        opt(c.untrusted_creator.clone()),
        opt(c.untrusted_timestamp.map(time)),
        go_string(&dump.untrusted_short_key_identifier),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_verify::untrusted::UntrustedSimpleSigning;

    fn dump(creator: Option<&str>, ts: Option<i64>) -> UntrustedDump {
        UntrustedDump {
            contents: UntrustedSimpleSigning {
                untrusted_docker_manifest_digest: "sha256:ab".into(),
                untrusted_docker_reference: "r/<x>&".into(),
                untrusted_creator: creator.map(String::from),
                untrusted_timestamp: ts,
            },
            untrusted_short_key_identifier: "E932F44B23E8DD43".into(),
        }
    }

    #[test]
    fn renders_as_go_marshal_indent() {
        let utc = |s: i64| {
            chrono::DateTime::<chrono::Utc>::from_timestamp(s, 0)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::AutoSi, true)
        };
        assert_eq!(
            render(&dump(Some("atomic "), Some(1458239713)), utc),
            "{\n    \"UntrustedDockerManifestDigest\": \"sha256:ab\",\n    \"UntrustedDockerReference\": \"r/\\u003cx\\u003e\\u0026\",\n    \"UntrustedCreatorID\": \"atomic \",\n    \"UntrustedTimestamp\": \"2016-03-17T18:35:13Z\",\n    \"UntrustedShortKeyIdentifier\": \"E932F44B23E8DD43\"\n}"
        );
        let none = render(&dump(None, None), utc);
        assert!(none.contains("\"UntrustedCreatorID\": null,\n"));
        assert!(none.contains("\"UntrustedTimestamp\": null,\n"));
    }
}
