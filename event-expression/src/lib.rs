//! Subscription expressions of the ftrack event hub, e.g.
//! `topic=ftrack.update and (data.entityType=task or not data.x>=3)`.
//!
//! Grammar (keywords case-insensitive; `and` binds tighter than `or`,
//! `not` tighter than both):
//!
//! ```text
//! expr      := and_expr ("or" and_expr)*
//! and_expr  := not_expr ("and" not_expr)*
//! not_expr  := "not" not_expr | "(" expr ")" | condition
//! condition := key op value
//! key       := [A-Za-z0-9_.]+            dotted: data.location.id
//! op        := "=" | "!=" | ">=" | "<=" | ">" | "<"
//! value     := [A-Za-z0-9-_,./*@+]+ | "quoted" | 'quoted'
//! ```
//!
//! Matching ([`Expression::matches`]): the key is looked up in the event
//! (a JSON object) part by part; a missing part means no match. `=` and
//! `!=` with a value ending in `*` compare the start of a string (`topic=ftrack.*`).
//! A number in the event is compared numerically with a value that parses as
//! a number; a string is compared as a string (`>`/`<` lexicographically); a
//! boolean equals `true`/`false`; anything else never matches. An empty
//! expression matches every event.

#![warn(missing_docs)]

use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;

/// Longest expression accepted, in bytes.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses and `not` accepted.
pub const MAX_DEPTH: usize = 32;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `<=`
    Le,
}

/// A parsed subscription expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    /// Matches everything (the empty expression).
    All,
    /// `key op value`.
    Condition {
        /// Dotted key, split at the dots.
        key: Vec<String>,
        /// The operator.
        op: Op,
        /// The literal value, quotes removed.
        value: String,
    },
    /// Every operand matches.
    And(Vec<Expression>),
    /// At least one operand matches.
    Or(Vec<Expression>),
    /// The operand does not match.
    Not(Box<Expression>),
}

/// Why an expression could not be parsed: the position (byte offset) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the expression.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid subscription expression at byte {}: {}",
            self.position, self.message
        )
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(Op),
    Open,
    Close,
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_,./*@+".contains(c)
}

fn tokenize(s: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut i = 0;
    let err = |position: usize, message: String| ParseError { position, message };
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((pos, Tok::Open));
                i += 1;
            }
            ')' => {
                out.push((pos, Tok::Close));
                i += 1;
            }
            '"' | '\'' => {
                let mut text = String::new();
                let mut j = i + 1;
                loop {
                    let Some(&(_, d)) = chars.get(j) else {
                        return Err(err(pos, "a quoted value is not closed".into()));
                    };
                    if d == '\\'
                        && let Some(&(_, e)) = chars.get(j + 1)
                    {
                        text.push(e);
                        j += 2;
                        continue;
                    }
                    if d == c {
                        break;
                    }
                    text.push(d);
                    j += 1;
                }
                out.push((pos, Tok::Quoted(text)));
                i = j + 1;
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).map(|&(_, d)| d);
                let (op, len) = match (c, next) {
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('>', _) => (Op::Gt, 1),
                    ('<', _) => (Op::Lt, 1),
                    ('=', _) => (Op::Eq, 1),
                    _ => return Err(err(pos, "'!' must be followed by '='".into())),
                };
                out.push((pos, Tok::Op(op)));
                i += len;
            }
            c if is_value_char(c) => {
                let mut text = String::new();
                while let Some(&(_, d)) = chars.get(i) {
                    if !is_value_char(d) {
                        break;
                    }
                    text.push(d);
                    i += 1;
                }
                out.push((pos, Tok::Word(text)));
            }
            other => return Err(err(pos, format!("unexpected character {other:?}"))),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            position: self.pos(),
            message: message.into(),
        })
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self, depth: usize) -> Result<Expression, ParseError> {
        let mut items = vec![self.and(depth)?];
        while self.keyword("or") {
            self.at += 1;
            items.push(self.and(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expression::Or(items)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expression, ParseError> {
        let mut items = vec![self.not(depth)?];
        while self.keyword("and") {
            self.at += 1;
            items.push(self.not(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expression::And(items)
        })
    }

    fn not(&mut self, depth: usize) -> Result<Expression, ParseError> {
        if depth > MAX_DEPTH {
            return self.err(format!(
                "nested deeper than {MAX_DEPTH} levels of parentheses and 'not'"
            ));
        }
        // `not` is a keyword only when an operand follows (a key may be named "not").
        if self.keyword("not") && !matches!(self.toks.get(self.at + 1), Some((_, Tok::Op(_)))) {
            self.at += 1;
            return Ok(Expression::Not(Box::new(self.not(depth + 1)?)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.at += 1;
            let inner = self.or(depth + 1)?;
            if self.peek() != Some(&Tok::Close) {
                return self.err("expected ')'");
            }
            self.at += 1;
            return Ok(inner);
        }
        self.condition()
    }

    fn condition(&mut self) -> Result<Expression, ParseError> {
        let key = match self.peek() {
            Some(Tok::Word(w)) if !w.is_empty() && w.chars().all(is_key_char) => w.clone(),
            _ => return self.err("expected a key such as topic or data.name"),
        };
        if key.split('.').any(str::is_empty) {
            return self.err(format!("the key '{key}' has an empty part"));
        }
        self.at += 1;
        let op = match self.peek() {
            Some(Tok::Op(op)) => *op,
            _ => return self.err("expected an operator: = != > < >= <="),
        };
        self.at += 1;
        let value = match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w.clone(),
            _ => return self.err("expected a value (quote it if it has spaces)"),
        };
        self.at += 1;
        Ok(Expression::Condition {
            key: key.split('.').map(str::to_string).collect(),
            op,
            value,
        })
    }
}

impl Expression {
    /// Parses `text`; an empty (or all-blank) text is [`Expression::All`].
    pub fn parse(text: &str) -> Result<Expression, ParseError> {
        if text.len() > MAX_LEN {
            return Err(ParseError {
                position: MAX_LEN,
                message: format!("longer than {MAX_LEN} bytes (the limit)"),
            });
        }
        let toks = tokenize(text)?;
        if toks.is_empty() {
            return Ok(Expression::All);
        }
        let mut p = Parser {
            toks,
            at: 0,
            end: text.len(),
        };
        let e = p.or(0)?;
        if p.at != p.toks.len() {
            return p.err("expected 'and', 'or' or the end of the expression");
        }
        Ok(e)
    }

    /// Whether `candidate` (an event, or subscriber metadata for a `target`) matches.
    pub fn matches(&self, candidate: &Value) -> bool {
        match self {
            Expression::All => true,
            Expression::And(items) => items.iter().all(|e| e.matches(candidate)),
            Expression::Or(items) => items.iter().any(|e| e.matches(candidate)),
            Expression::Not(e) => !e.matches(candidate),
            Expression::Condition { key, op, value } => {
                let mut v = candidate;
                for part in key {
                    match v.get(part.as_str()) {
                        Some(next) => v = next,
                        None => return false,
                    }
                }
                compare(v, *op, value)
            }
        }
    }

    /// The topic this expression requires when it is a plain `topic=<value>`
    /// (possibly inside an `and`), for quick indexing; None otherwise.
    pub fn topic(&self) -> Option<&str> {
        match self {
            Expression::Condition {
                key,
                op: Op::Eq,
                value,
            } if key.len() == 1 && key[0] == "topic" => Some(value),
            Expression::And(items) => items.iter().find_map(Expression::topic),
            _ => None,
        }
    }
}

fn compare(v: &Value, op: Op, literal: &str) -> bool {
    if matches!(op, Op::Eq | Op::Ne)
        && let Some(prefix) = literal.strip_suffix('*')
        && let Some(s) = v.as_str()
    {
        return s.starts_with(prefix) == (op == Op::Eq);
    }
    let ord = match v {
        Value::String(s) => Some(s.as_str().cmp(literal)),
        Value::Number(n) => match (n.as_f64(), literal.parse::<f64>()) {
            (Some(a), Ok(b)) => a.partial_cmp(&b),
            _ => None,
        },
        Value::Bool(b) => match literal.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(b.cmp(&true)),
            "false" | "0" => Some(b.cmp(&false)),
            _ => None,
        },
        _ => None,
    };
    let Some(ord) = ord else {
        // Not comparable: only "is different" holds.
        return op == Op::Ne && !v.is_null();
    };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Lt => ord == Ordering::Less,
        Op::Ge => ord != Ordering::Less,
        Op::Le => ord != Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(expr: &str, event: &Value) -> bool {
        Expression::parse(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .matches(event)
    }

    #[test]
    fn conditions_and_operators() {
        let e = json!({"topic": "ftrack.update", "data": {"n": 5, "name": "bob", "ok": true, "nested": {"id": "x-1"}}});
        assert!(m("topic=ftrack.update", &e));
        assert!(!m("topic=ftrack.updates", &e));
        assert!(m("topic=ftrack.*", &e));
        assert!(!m("topic=other.*", &e));
        assert!(m("topic!=other.*", &e));
        assert!(m("data.n>4 and data.n<6 and data.n>=5 and data.n<=5", &e));
        assert!(!m("data.n>5", &e));
        assert!(m("data.n!=4", &e));
        assert!(m("data.name='bob'", &e));
        assert!(m("data.name=\"bob\"", &e));
        assert!(m("data.name<carl", &e));
        assert!(m("data.ok=true", &e));
        assert!(m("data.nested.id=x-1", &e));
        assert!(!m("data.missing=x", &e), "a missing key never matches");
        assert!(!m("data.missing!=x", &e), "a missing key never matches");
        assert!(!m("data.nested.id.deeper=x", &e));
        assert!(m("", &e));
    }

    #[test]
    fn conjunctions_precedence_and_parentheses() {
        let e = json!({"topic": "a", "data": {"x": "1", "y": "2"}});
        assert!(m("topic=a and data.x=1", &e));
        assert!(!m("topic=a and data.x=2", &e));
        assert!(m("topic=b or data.y=2", &e));
        // and binds tighter: (topic=b and data.x=1) or data.y=2
        assert!(m("topic=b and data.x=1 or data.y=2", &e));
        assert!(!m("topic=b and (data.x=1 or data.y=2)", &e));
        assert!(m("not topic=b", &e));
        assert!(!m("NOT topic=a", &e));
        assert!(m("not (topic=b or data.x=3) AND data.y=2", &e));
        assert!(m("not not topic=a", &e));
    }

    #[test]
    fn errors_name_the_position() {
        for bad in [
            "topic",
            "topic=",
            "=x",
            "topic=a and",
            "(topic=a",
            "topic=a)",
            "topic=\"a",
            "topic!a",
            "topic=a topic=b",
            "data..x=1",
            "topic=a;",
        ] {
            let e = Expression::parse(bad).expect_err(bad);
            assert!(e.position <= bad.len(), "{bad}: {e}");
            assert!(e.to_string().contains("subscription expression"), "{e}");
        }
        let deep = format!("{}topic=a{}", "(".repeat(40), ")".repeat(40));
        assert!(Expression::parse(&deep).is_err());
        assert!(Expression::parse(&"x".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn topic_index() {
        assert_eq!(
            Expression::parse("topic=a and data.x=1").unwrap().topic(),
            Some("a")
        );
        assert_eq!(
            Expression::parse("topic=a or data.x=1").unwrap().topic(),
            None
        );
    }
}
