//! Where each part of a loaded policy sits in the file. The policy came out
//! of vouch-verify's parser in document order, so walking the same
//! position-carrying tree with the shared JSON layer lines the two up
//! one-to-one: the tree gives positions, the [`Policy`] gives meaning.

use vouch_verify::json::{At, JsonPath, Obj, Pos, Spanned};
use vouch_verify::policy::{Policy, Requirement};

/// One requirement: its parsed form and its place.
pub struct Req<'a> {
    pub req: &'a Requirement,
    pub at: At<'a>,
}

impl<'a> Req<'a> {
    /// The value of member `name`, if present.
    pub fn member(&self, name: &str) -> Option<At<'a>> {
        self.at.object(None).ok()?.get(name)
    }
}

/// One requirement list (`default` or a scope).
pub struct List<'a> {
    pub at: At<'a>,
    pub reqs: Vec<Req<'a>>,
}

impl List<'_> {
    /// Whether any requirement verifies signatures.
    pub fn demands_signatures(&self) -> bool {
        self.reqs.iter().any(|r| {
            matches!(
                r.req,
                Requirement::SignedBy(_) | Requirement::SigstoreSigned(_)
            )
        })
    }

    pub fn requirements(&self) -> Vec<&Requirement> {
        self.reqs.iter().map(|r| r.req).collect()
    }
}

pub struct Scope<'a> {
    pub name: &'a str,
    pub key_pos: Pos,
    pub list: List<'a>,
}

pub struct Transport<'a> {
    pub name: &'a str,
    pub key_pos: Pos,
    pub scopes: Vec<Scope<'a>>,
}

/// The whole policy with positions.
pub struct Layout<'a> {
    pub default: List<'a>,
    pub transports: Vec<Transport<'a>>,
}

impl<'a> Layout<'a> {
    /// Pairs `policy` (parsed from `doc`) with `doc`'s positions; `None` if
    /// they do not line up, which would be a bug in the caller.
    pub fn new(doc: &'a Spanned, policy: &'a Policy) -> Option<Self> {
        let top = Obj::new(doc, JsonPath::root(), None).ok()?;
        let default = list(&top.get("default")?, &policy.default)?;
        let mut transports = Vec::new();
        if let Some(t) = top.get("transports") {
            let t = t.object(None).ok()?;
            for ((name, key_pos, scopes_at), (pname, pscopes)) in
                t.members().zip(&policy.transports)
            {
                if name != pname {
                    return None;
                }
                let scopes_obj = scopes_at.object(None).ok()?;
                let mut scopes = Vec::new();
                for ((sname, skey, sat), (_, reqs)) in scopes_obj.members().zip(pscopes) {
                    scopes.push(Scope {
                        name: sname,
                        key_pos: skey,
                        list: list(&sat, reqs)?,
                    });
                }
                transports.push(Transport {
                    name,
                    key_pos,
                    scopes,
                });
            }
        }
        Some(Self {
            default,
            transports,
        })
    }
}

fn list<'a>(at: &At<'a>, reqs: &'a [Requirement]) -> Option<List<'a>> {
    let items = at.array().ok()??;
    if items.len() != reqs.len() {
        return None;
    }
    Some(List {
        at: at.clone(),
        reqs: items
            .into_iter()
            .zip(reqs)
            .map(|(at, req)| Req { req, at })
            .collect(),
    })
}
