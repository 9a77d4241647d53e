//! podman's column titles (containers/common `report.Headers`): the field
//! name split at its camel-case humps and upper-cased (`CreatedAt` →
//! `CREATED AT`, `ImageID` → `IMAGE ID`), unless the command overrides it.

use serde_json::{Map, Value as Json};

/// Field name → column title for a table's header row.
pub fn headers(fields: &[&str], overrides: &[(&str, &str)]) -> Json {
    let mut m = Map::new();
    for f in fields {
        m.insert(
            (*f).to_string(),
            Json::String(split_camel(f).to_uppercase()),
        );
    }
    for (f, h) in overrides {
        m.insert((*f).to_string(), Json::String(h.to_uppercase()));
    }
    Json::Object(m)
}

#[derive(PartialEq, Clone, Copy)]
enum Class {
    Lower,
    Upper,
    Digit,
    Other,
}

fn class(c: char) -> Class {
    if c.is_lowercase() {
        Class::Lower
    } else if c.is_uppercase() {
        Class::Upper
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Other
    }
}

/// Go camelcase.Split joined by spaces: runs of one character class, with
/// an upper-case run's last letter moved to a following lower-case run
/// (`IDName` → `ID Name`).
fn split_camel(s: &str) -> String {
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = None;
    for c in s.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(r) if Some(k) == last => r.push(c),
            _ => runs.push(vec![c]),
        }
        last = Some(k);
    }
    let mut i = 0;
    while i + 1 < runs.len() {
        let up = runs[i].iter().all(|c| class(*c) == Class::Upper);
        let low = runs[i + 1].iter().all(|c| class(*c) == Class::Lower);
        if up && low {
            if let Some(c) = runs[i].pop() {
                runs[i + 1].insert(0, c);
            }
        }
        i += 1;
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_titles_as_podman() {
        assert_eq!(split_camel("CreatedAt"), "Created At");
        assert_eq!(split_camel("ImageID"), "Image ID");
        assert_eq!(split_camel("ID"), "ID");
        assert_eq!(split_camel("IDName"), "ID Name");
        assert_eq!(split_camel("ExitCode"), "Exit Code");
        let h = headers(&["RunningFor", "ID"], &[("ID", "container id")]);
        assert_eq!(h["RunningFor"], "RUNNING FOR");
        assert_eq!(h["ID"], "CONTAINER ID");
    }
}
