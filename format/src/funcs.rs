//! podman's template functions (containers/common `report.DefaultFuncs`),
//! plus the printer every output action ends in (see `rewrite`).

use gtmpl::{Func, FuncError, Value};

use crate::value::{go_print, to_json};

/// The name `rewrite` appends to output actions; not one a user would type.
pub const PRINT: &str = "vouch_go_print";

pub const ALL: &[(&str, Func)] = &[
    ("join", join),
    ("json", json),
    ("lower", lower),
    ("upper", upper),
    ("title", title),
    ("truncate", truncate),
    ("pad", pad),
    ("split", split),
    (PRINT, print),
];

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(FuncError::ExactlyXArgs(name.into(), n))
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => go_print(other),
    }
}

fn int(name: &str, v: &Value) -> Result<usize, FuncError> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .and_then(|u| usize::try_from(u).ok())
            .ok_or_else(|| FuncError::Generic(format!("{name}: {n} is not a length"))),
        other => Err(FuncError::Generic(format!(
            "{name}: {} is not a number",
            go_print(other)
        ))),
    }
}

fn print(args: &[Value]) -> Result<Value, FuncError> {
    arity(PRINT, args, 1)?;
    Ok(Value::String(text(&args[0])))
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    arity("join", args, 2)?;
    let Value::Array(a) = &args[0] else {
        return Err(FuncError::Generic(format!(
            "join: {} is not a list",
            go_print(&args[0])
        )));
    };
    let parts: Vec<String> = a.iter().map(text).collect();
    Ok(Value::String(parts.join(&text(&args[1]))))
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    arity("json", args, 1)?;
    Ok(Value::String(to_json(&args[0]).to_string()))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    arity("lower", args, 1)?;
    Ok(Value::String(text(&args[0]).to_lowercase()))
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    arity("upper", args, 1)?;
    Ok(Value::String(text(&args[0]).to_uppercase()))
}

/// Go's `strings.Title`: a letter after a non-letter becomes upper case.
fn title(args: &[Value]) -> Result<Value, FuncError> {
    arity("title", args, 1)?;
    let mut prev_letter = false;
    let s: String = text(&args[0])
        .chars()
        .map(|c| {
            let up = if prev_letter {
                c.to_string()
            } else {
                c.to_uppercase().to_string()
            };
            prev_letter = c.is_alphanumeric() || c == '_';
            up
        })
        .collect();
    Ok(Value::String(s))
}

/// podman's `truncate`: at most `n` characters.
fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    arity("truncate", args, 2)?;
    let n = int("truncate", &args[1])?;
    Ok(Value::String(text(&args[0]).chars().take(n).collect()))
}

/// podman's `pad`: spaces before and after, unless the text is empty.
fn pad(args: &[Value]) -> Result<Value, FuncError> {
    arity("pad", args, 3)?;
    let s = text(&args[0]);
    if s.is_empty() {
        return Ok(Value::String(s));
    }
    let (pre, post) = (int("pad", &args[1])?, int("pad", &args[2])?);
    Ok(Value::String(format!(
        "{}{s}{}",
        " ".repeat(pre.min(4096)),
        " ".repeat(post.min(4096))
    )))
}

fn split(args: &[Value]) -> Result<Value, FuncError> {
    arity("split", args, 2)?;
    let sep = text(&args[1]);
    let s = text(&args[0]);
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    Ok(Value::Array(parts))
}
