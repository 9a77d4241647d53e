//! A strict JSON parser that keeps positions and reproduces Go's syntax errors.
//!
//! containers/image decodes policy.json and signature payloads with Go's
//! `encoding/json`, which validates the whole input before decoding; its
//! messages (`invalid character 'x' after top-level value`, `unexpected end of
//! JSON input`) are what users see from podman, so we produce the same text.
//! Objects keep every member in document order, duplicates included, so the
//! paranoid walk (`reader`) decides per object whether a duplicate is an error,
//! and every value carries its line:column for error messages and the linter.

use std::fmt;

/// A position in the input: byte offset and 1-based line and column (in bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub offset: usize,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A JSON value with the position of its first byte.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned {
    pub value: Value,
    pub pos: Pos,
}

/// A JSON value; numbers keep their literal text, objects their member order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Spanned>),
    Object(Vec<Member>),
}

/// One `"key": value` member of an object.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub key: String,
    pub key_pos: Pos,
    pub value: Spanned,
}

impl Value {
    /// The name Go's decoder uses for this kind of value in type errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
}

/// A syntax error, worded as Go's `encoding/json` words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub message: String,
    pub pos: Pos,
}

/// Nesting deeper than this is refused with Go's "exceeded max depth".
///
/// Go allows 10 000 levels because its scanner keeps an explicit stack; this
/// parser recurses, so 10 000 levels overflowed a thread's stack (an abort,
/// no error line; found writing fuzz/policy_json). 500 levels use well under
/// the 2 MiB stack of a spawned thread even in a debug build, and are far
/// beyond any real document: policy.json nests 6 deep, a payload 3.
const MAX_DEPTH: usize = 500;

/// Parses `input` as exactly one JSON value (surrounding whitespace allowed).
pub fn parse(input: &[u8]) -> Result<Spanned, SyntaxError> {
    let mut p = Parser {
        input,
        at: 0,
        line: 1,
        line_start: 0,
        depth: 0,
    };
    p.skip_ws();
    let value = p.value()?;
    p.skip_ws();
    if let Some(c) = p.peek() {
        return Err(p.error(format!(
            "invalid character {} after top-level value",
            quote_char(c)
        )));
    }
    Ok(value)
}

/// Go's `quoteChar`: the offending byte, read as a Latin-1 character.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".to_string(),
        b'"' => r#"'"'"#.to_string(),
        _ => {
            let ch = char::from(c);
            let quoted = format!("{:?}", ch.to_string());
            format!("'{}'", &quoted[1..quoted.len() - 1])
        }
    }
}

struct Parser<'a> {
    input: &'a [u8],
    at: usize,
    line: u32,
    line_start: usize,
    depth: usize,
}

impl Parser<'_> {
    fn pos(&self) -> Pos {
        Pos {
            offset: self.at,
            line: self.line,
            column: u32::try_from(self.at - self.line_start + 1).unwrap_or(u32::MAX),
        }
    }

    fn error(&self, message: String) -> SyntaxError {
        SyntaxError {
            message,
            pos: self.pos(),
        }
    }

    fn eof(&self) -> SyntaxError {
        self.error("unexpected end of JSON input".to_string())
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.at += 1;
        if c == b'\n' {
            self.line += 1;
            self.line_start = self.at;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.bump();
        }
    }

    /// Requires the next byte to be one of `expected`, else Go's "invalid character … <context>".
    fn expect_one_of(&mut self, expected: &[u8], context: &str) -> Result<u8, SyntaxError> {
        match self.peek() {
            None => Err(self.eof()),
            Some(c) if expected.contains(&c) => {
                self.bump();
                Ok(c)
            }
            Some(c) => Err(self.error(format!("invalid character {} {context}", quote_char(c)))),
        }
    }

    fn value(&mut self) -> Result<Spanned, SyntaxError> {
        let pos = self.pos();
        let value = match self.peek() {
            None => return Err(self.eof()),
            Some(b'{') => self.object()?,
            Some(b'[') => self.array()?,
            Some(b'"') => Value::String(self.string()?),
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'n') => self.literal("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
            Some(c) => {
                return Err(self.error(format!(
                    "invalid character {} looking for beginning of value",
                    quote_char(c)
                )))
            }
        };
        Ok(Spanned { value, pos })
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("exceeded max depth".to_string()));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Value, SyntaxError> {
        self.enter()?;
        self.bump();
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.bump();
            self.depth -= 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            let key_pos = self.pos();
            match self.peek() {
                None => return Err(self.eof()),
                Some(b'"') => {}
                Some(c) => {
                    return Err(self.error(format!(
                        "invalid character {} looking for beginning of object key string",
                        quote_char(c)
                    )))
                }
            }
            let key = self.string()?;
            self.skip_ws();
            self.expect_one_of(b":", "after object key")?;
            self.skip_ws();
            let value = self.value()?;
            members.push(Member {
                key,
                key_pos,
                value,
            });
            self.skip_ws();
            if self.expect_one_of(b",}", "after object key:value pair")? == b'}' {
                break;
            }
        }
        self.depth -= 1;
        Ok(Value::Object(members))
    }

    fn array(&mut self) -> Result<Value, SyntaxError> {
        self.enter()?;
        self.bump();
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.bump();
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            if self.expect_one_of(b",]", "after array element")? == b']' {
                break;
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, SyntaxError> {
        self.bump();
        for expected in word.bytes().skip(1) {
            match self.peek() {
                None => return Err(self.eof()),
                Some(c) if c == expected => {
                    self.bump();
                }
                Some(c) => {
                    return Err(self.error(format!(
                        "invalid character {} in literal {word} (expecting {})",
                        quote_char(c),
                        quote_char(expected)
                    )))
                }
            }
        }
        Ok(value)
    }

    fn digits(&mut self, out: &mut String, context: &str) -> Result<(), SyntaxError> {
        match self.peek() {
            None => return Err(self.eof()),
            Some(c @ b'0'..=b'9') => {
                out.push(char::from(c));
                self.bump();
            }
            Some(c) => {
                return Err(self.error(format!("invalid character {} {context}", quote_char(c))))
            }
        }
        while let Some(c @ b'0'..=b'9') = self.peek() {
            out.push(char::from(c));
            self.bump();
        }
        Ok(())
    }

    fn number(&mut self) -> Result<String, SyntaxError> {
        let mut text = String::new();
        if self.peek() == Some(b'-') {
            text.push('-');
            self.bump();
        }
        if self.peek() == Some(b'0') {
            text.push('0');
            self.bump();
        } else {
            self.digits(&mut text, "in numeric literal")?;
        }
        if self.peek() == Some(b'.') {
            text.push('.');
            self.bump();
            self.digits(&mut text, "after decimal point in numeric literal")?;
        }
        if let Some(e @ (b'e' | b'E')) = self.peek() {
            text.push(char::from(e));
            self.bump();
            if let Some(s @ (b'+' | b'-')) = self.peek() {
                text.push(char::from(s));
                self.bump();
            }
            self.digits(&mut text, "in exponent of numeric literal")?;
        }
        Ok(text)
    }

    /// Reads a string literal. Invalid UTF-8 and lone surrogates become U+FFFD,
    /// as Go's decoder does.
    fn string(&mut self) -> Result<String, SyntaxError> {
        self.bump();
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.eof());
            };
            match c {
                b'"' => {
                    self.bump();
                    break;
                }
                b'\\' => {
                    self.bump();
                    self.escape(&mut bytes)?;
                }
                c if c < 0x20 => {
                    return Err(self.error(format!(
                        "invalid character {} in string literal",
                        quote_char(c)
                    )))
                }
                c => {
                    bytes.push(c);
                    self.bump();
                }
            }
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), SyntaxError> {
        let Some(c) = self.peek() else {
            return Err(self.eof());
        };
        let simple = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(b) = simple {
            self.bump();
            out.push(b);
            return Ok(());
        }
        if c != b'u' {
            return Err(self.error(format!(
                "invalid character {} in string escape code",
                quote_char(c)
            )));
        }
        self.bump();
        let first = self.hex4()?;
        let ch = if (0xD800..0xDC00).contains(&first) && self.input[self.at..].starts_with(b"\\u") {
            let save = (self.at, self.line, self.line_start);
            self.bump();
            self.bump();
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            } else {
                // Not a pair: the first is lone; re-read the second escape on its own.
                (self.at, self.line, self.line_start) = save;
                None
            }
        } else {
            char::from_u32(first)
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.unwrap_or('\u{fffd}').encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(c) = self.peek() else {
                return Err(self.eof());
            };
            let d = char::from(c).to_digit(16).ok_or_else(|| {
                self.error(format!(
                    "invalid character {} in \\u hexadecimal character escape",
                    quote_char(c)
                ))
            })?;
            self.bump();
            v = v * 16 + d;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(input: &str) -> String {
        parse(input.as_bytes()).unwrap_err().message
    }

    #[test]
    fn go_error_messages() {
        let cases = [
            ("", "unexpected end of JSON input"),
            ("   ", "unexpected end of JSON input"),
            ("{", "unexpected end of JSON input"),
            ("{} x", "invalid character 'x' after top-level value"),
            (
                "\u{feff}{}",
                "invalid character 'ï' looking for beginning of value",
            ),
            (
                "This is not JSON\n",
                "invalid character 'T' looking for beginning of value",
            ),
            (
                "{1:2}",
                "invalid character '1' looking for beginning of object key string",
            ),
            (r#"{"a" 1}"#, "invalid character '1' after object key"),
            (
                r#"{"a":1 "b":2}"#,
                "invalid character '\"' after object key:value pair",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            ("tru", "unexpected end of JSON input"),
            (
                "trux",
                "invalid character 'x' in literal true (expecting 'e')",
            ),
            ("\"a\nb\"", "invalid character '\\n' in string literal"),
            (r#""\x""#, "invalid character 'x' in string escape code"),
            ("01", "invalid character '1' after top-level value"),
            ("1.", "unexpected end of JSON input"),
            (
                "1.x",
                "invalid character 'x' after decimal point in numeric literal",
            ),
            (
                "1ex",
                "invalid character 'x' in exponent of numeric literal",
            ),
            ("-x", "invalid character 'x' in numeric literal"),
            (
                "'a'",
                "invalid character '\\'' looking for beginning of value",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(err(input), want, "{input:?}");
        }
    }

    #[test]
    fn keeps_positions_and_duplicates() {
        let v = parse(b"{\n  \"a\": 1,\n  \"a\": [true, null]\n}").unwrap();
        let Value::Object(members) = v.value else {
            panic!()
        };
        assert_eq!(members.len(), 2);
        assert_eq!((members[1].key_pos.line, members[1].key_pos.column), (3, 3));
        assert_eq!(
            (members[1].value.pos.line, members[1].value.pos.column),
            (3, 8)
        );
        let e = parse(b"{\n\n  x}").unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (3, 3));
    }

    /// A 20 KB policy.json nested 10 000 deep overflowed the stack (SIGABRT,
    /// no error line) instead of failing; found writing fuzz/policy_json. Runs on
    /// a test thread's 2 MiB stack, as small as a tokio worker's.
    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
        for depth in [MAX_DEPTH + 1, 10_000, 100_000] {
            let e = parse(nested(depth).as_bytes()).unwrap_err();
            assert_eq!(e.message, "exceeded max depth", "{depth}");
            assert_eq!(e.pos.offset, MAX_DEPTH, "{depth}");
        }
        let objects = r#"{"a":"#.repeat(10_000);
        assert_eq!(
            parse(objects.as_bytes()).unwrap_err().message,
            "exceeded max depth"
        );
    }

    #[test]
    fn decodes_strings_like_go() {
        let v = parse(br#""\u00e9\ud83d\ude00\ud800x\/\t""#).unwrap();
        assert_eq!(v.value, Value::String("é😀\u{fffd}x/\t".into()));
        let v = parse(b"\"\xff\"").unwrap();
        assert_eq!(v.value, Value::String("\u{fffd}".into()));
        let v = parse(b"-0.5e+3").unwrap();
        assert_eq!(v.value, Value::Number("-0.5e+3".into()));
    }
}
