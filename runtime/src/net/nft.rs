//! Port publishing as nftables DNAT in vouch's own `table inet vouch`,
//! netavark's design (src/firewall/nft.rs; runtime-notes §4): base NAT
//! chains send traffic for local addresses to `hostports`, where one rule
//! per published port (commented with the container ID) jumps to the
//! container's chain `c-<id12>` holding its DNATs. Localhost and outbound
//! traffic is masqueraded. Everything goes through `nft -j -f -` (the JSON
//! interface the nftables crate and netavark use), and setup/teardown are
//! idempotent and keyed by container ID.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::ports::PortMapping;
use super::Subnet;
use crate::id::ContainerId;

/// Why an nft call failed: the step, with the cause as the source
/// (docs/runtime.md, "Errors").
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("running nft")]
    Spawn(#[source] std::io::Error),
    #[error("talking to nft")]
    Pipe(#[source] std::io::Error),
    /// nft ran and refused; `stderr` is its own message.
    #[error("nft {args}: {stderr}")]
    Refused { args: String, stderr: String },
    #[error("nft -j output")]
    Output(#[source] serde_json::Error),
}

pub const TABLE: &str = "vouch";
pub const FAMILY: &str = "inet";

pub fn chain_name(id: &ContainerId) -> String {
    format!("c-{}", id.short())
}

fn run_nft(args: &[&str], input: Option<&Value>) -> Result<String, NftError> {
    let mut c = Command::new(crate::tools::nft().unwrap_or_else(|| "nft".into()));
    c.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::piped());
    let mut child = c.spawn().map_err(NftError::Spawn)?;
    if let Some(v) = input {
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(v.to_string().as_bytes())
                .map_err(NftError::Pipe)?;
        }
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().map_err(NftError::Pipe)?;
    if !out.status.success() {
        return Err(NftError::Refused {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn m(left: Value, op: &str, right: Value) -> Value {
    json!({"match": {"op": op, "left": left, "right": right}})
}
fn payload(proto: &str, field: &str) -> Value {
    json!({"payload": {"protocol": proto, "field": field}})
}
fn prefix(s: &Subnet) -> Value {
    json!({"prefix": {"addr": s.network.to_string(), "len": s.len}})
}
fn rule(chain: &str, expr: Vec<Value>, comment: Option<&str>) -> Value {
    let mut r = json!({"family": FAMILY, "table": TABLE, "chain": chain, "expr": expr});
    if let Some(c) = comment {
        r["comment"] = json!(c);
    }
    json!({"add": {"rule": r}})
}
fn base_chain(name: &str, hook: &str, prio: i32) -> Value {
    json!({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": name, "type": "nat", "hook": hook, "prio": prio, "policy": "accept"}}})
}

/// The table, its base chains and their fixed rules: shared by every
/// bridge (created once per boot; the caller holds the network lock).
fn base_commands() -> Vec<Value> {
    let local = m(
        json!({"fib": {"result": "type", "flags": ["daddr"]}}),
        "==",
        json!("local"),
    );
    let jump = json!({"jump": {"target": "hostports"}});
    vec![
        json!({"add": {"table": {"family": FAMILY, "name": TABLE}}}),
        json!({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": "hostports"}}}),
        base_chain("prerouting", "prerouting", -100),
        base_chain("output", "output", -100),
        base_chain("postrouting", "postrouting", 100),
        rule("prerouting", vec![local.clone(), jump.clone()], None),
        rule("output", vec![local, jump], None),
    ]
}

/// The chain holding one bridge's masquerade rules (`nw-<bridge>`, jumped to
/// from postrouting), so each bridge/subnet (VOUCH_BRIDGE, VOUCH_SUBNET)
/// gets its own rules even when another one made the table first.
pub fn network_chain(bridge: &str) -> String {
    format!("nw-{bridge}")
}

fn network_commands(bridge: &str, subnet: &Subnet) -> Vec<Value> {
    let chain = network_chain(bridge);
    vec![
        json!({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": chain}}}),
        // DNAT'd localhost traffic needs a real source address (netavark
        // marks and masquerades it; route_localnet lets it leave lo).
        rule(
            &chain,
            vec![
                m(
                    payload("ip", "saddr"),
                    "==",
                    json!({"prefix": {"addr": "127.0.0.0", "len": 8}}),
                ),
                m(json!({"meta": {"key": "oifname"}}), "==", json!(bridge)),
                json!({"masquerade": null}),
            ],
            None,
        ),
        rule(
            &chain,
            vec![
                m(payload("ip", "saddr"), "==", prefix(subnet)),
                m(payload("ip", "daddr"), "!=", prefix(subnet)),
                json!({"masquerade": null}),
            ],
            None,
        ),
        rule(
            "postrouting",
            vec![json!({"jump": {"target": chain}})],
            None,
        ),
    ]
}

/// What [`ensure_base`] sends: the shared base unless it exists, then the
/// bridge's chain (with its jump, in the same transaction, so the chain's
/// existence means the whole set is there).
pub fn base_ruleset(bridge: &str, subnet: &Subnet, with_base: bool) -> Value {
    let mut cmds = if with_base { base_commands() } else { vec![] };
    cmds.extend(network_commands(bridge, subnet));
    json!({"nftables": cmds})
}

fn chain_exists(name: &str) -> bool {
    run_nft(&["list", "chain", FAMILY, TABLE, name], None).is_ok()
}

/// Makes sure the table, the base chains and `bridge`'s masquerade chain
/// exist. One `nft` process when they do (the common case).
pub fn ensure_base(bridge: &str, subnet: &Subnet) -> Result<(), NftError> {
    if chain_exists(&network_chain(bridge)) {
        return Ok(());
    }
    let with_base = !chain_exists("hostports");
    run_nft(
        &["-j", "-f", "-"],
        Some(&base_ruleset(bridge, subnet, with_base)),
    )
    .map(|_| ())
}

/// The container's chain and its jump rules.
pub fn container_ruleset(id: &ContainerId, ip: Ipv4Addr, ports: &[PortMapping]) -> Value {
    let chain = chain_name(id);
    let mut cmds =
        vec![json!({"add": {"chain": {"family": FAMILY, "table": TABLE, "name": chain}}})];
    for p in ports {
        let proto = p.protocol.as_str();
        let mut sel = Vec::new();
        if let Some(hip) = p.host_ip {
            sel.push(m(payload("ip", "daddr"), "==", json!(hip.to_string())));
        }
        sel.push(m(payload(proto, "dport"), "==", json!(p.host_port)));
        let mut jump = sel.clone();
        jump.push(json!({"jump": {"target": chain}}));
        cmds.push(rule("hostports", jump, Some(id.as_str())));
        let mut dnat = sel;
        dnat.push(
            json!({"dnat": {"family": "ip", "addr": ip.to_string(), "port": p.container_port}}),
        );
        cmds.push(rule(&chain, dnat, Some(id.as_str())));
    }
    json!({"nftables": cmds})
}

pub fn add_container(
    id: &ContainerId,
    ip: Ipv4Addr,
    ports: &[PortMapping],
) -> Result<(), NftError> {
    if ports.is_empty() {
        return Ok(());
    }
    run_nft(&["-j", "-f", "-"], Some(&container_ruleset(id, ip, ports))).map(|_| ())
}

/// Deletes the container's jump rules (found by comment) and chain; absent
/// pieces are fine, so this can run any number of times.
pub fn remove_container(id: &ContainerId) -> Result<(), NftError> {
    let Ok(listing) = run_nft(&["-j", "list", "table", FAMILY, TABLE], None) else {
        return Ok(()); // no table, nothing of ours
    };
    let v: Value = serde_json::from_str(&listing).map_err(NftError::Output)?;
    let chain = chain_name(id);
    let mut cmds = Vec::new();
    let mut has_chain = false;
    for item in v["nftables"].as_array().into_iter().flatten() {
        if let Some(r) = item.get("rule") {
            if r["chain"] == "hostports" && r["comment"] == id.as_str() {
                cmds.push(json!({"delete": {"rule": {"family": FAMILY, "table": TABLE, "chain": "hostports", "handle": r["handle"]}}}));
            }
        } else if let Some(c) = item.get("chain") {
            if c["name"] == chain.as_str() {
                has_chain = true;
            }
        }
    }
    if has_chain {
        cmds.push(json!({"flush": {"chain": {"family": FAMILY, "table": TABLE, "name": chain}}}));
        cmds.push(json!({"delete": {"chain": {"family": FAMILY, "table": TABLE, "name": chain}}}));
    }
    if cmds.is_empty() {
        return Ok(());
    }
    run_nft(&["-j", "-f", "-"], Some(&json!({"nftables": cmds}))).map(|_| ())
}

/// Whether any rule or chain of container `id` is present (for tests).
pub fn container_present(id: &ContainerId) -> bool {
    run_nft(&["-j", "list", "table", FAMILY, TABLE], None)
        .map(|s| {
            s.contains(&format!("\"{}\"", chain_name(id)))
                || s.contains(&format!("\"comment\": \"{id}\""))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bridge_gets_its_own_masquerade_chain() {
        let sub = Subnet::parse("10.91.0.0/24").unwrap();
        let first = base_ruleset("vb0", &sub, true).to_string();
        assert!(first.contains("\"hook\":\"postrouting\""), "{first}");
        assert!(first.contains("\"target\":\"nw-vb0\""), "{first}");
        let second = base_ruleset("vb1", &sub, false).to_string();
        assert!(!second.contains("\"hook\""), "base not repeated: {second}");
        assert!(second.contains("\"right\":\"vb1\""), "{second}");
        assert!(second.contains("\"target\":\"nw-vb1\""), "{second}");
    }

    #[test]
    fn container_rules_are_keyed_by_id() {
        let p = vec![PortMapping::parse("127.0.0.1:8080:80").unwrap()];
        let id = ContainerId::parse(&"0123456789abcdef".repeat(4)).unwrap();
        let v = container_ruleset(&id, "10.90.0.2".parse().unwrap(), &p);
        let s = v.to_string();
        assert!(s.contains("\"c-0123456789ab\""));
        assert!(s.contains(&format!("\"comment\":\"{id}\"")));
        assert!(
            s.contains("\"dnat\":{\"addr\":\"10.90.0.2\",\"family\":\"ip\",\"port\":80}"),
            "{s}"
        );
        assert!(s.contains("\"right\":\"127.0.0.1\""));
    }
}
