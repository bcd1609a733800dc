//! Splits a query expression into tokens with their byte positions.

use crate::error::ApiError;

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A bare word: keyword, attribute path, entity type, unquoted value.
    Word(String),
    /// A quoted string with escapes resolved.
    Str(String),
    /// A number literal (kept as written).
    Number(String),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// A comparison symbol: `=`, `!=`, `>`, `<`, `>=`, `<=`.
    Symbol(&'static str),
    /// End of input.
    End,
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Kind and text.
    pub tok: Tok,
    /// Byte offset in the expression.
    pub pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '+')
}

/// Tokenises `input`; a bad character or an unterminated string is a parse error.
pub fn tokenize(input: &str) -> Result<Vec<Token>, ApiError> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Symbol("=")),
            _ => None,
        };
        if let Some(tok) = simple {
            chars.next();
            out.push(Token { tok, pos });
            continue;
        }
        match c {
            '!' | '>' | '<' => {
                chars.next();
                let eq = chars.peek().map(|&(_, c)| c) == Some('=');
                if eq {
                    chars.next();
                }
                let sym = match (c, eq) {
                    ('!', true) => "!=",
                    ('>', true) => ">=",
                    ('<', true) => "<=",
                    ('>', false) => ">",
                    ('<', false) => "<",
                    _ => {
                        return Err(ApiError::parse(format!(
                            "unexpected character '!' at position {pos}"
                        )));
                    }
                };
                out.push(Token {
                    tok: Tok::Symbol(sym),
                    pos,
                });
            }
            '"' | '\'' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some((_, ch)) = chars.next() {
                    if ch == '\\' {
                        match chars.next() {
                            Some((_, 'n')) => s.push('\n'),
                            Some((_, 't')) => s.push('\t'),
                            Some((_, e)) => s.push(e),
                            None => break,
                        }
                    } else if ch == c {
                        closed = true;
                        break;
                    } else {
                        s.push(ch);
                    }
                }
                if !closed {
                    return Err(ApiError::parse(format!(
                        "unterminated string starting at position {pos}"
                    )));
                }
                out.push(Token {
                    tok: Tok::Str(s),
                    pos,
                });
            }
            c if is_word_char(c) => {
                let mut s = String::new();
                while let Some(&(_, ch)) = chars.peek() {
                    if !is_word_char(ch) {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                let numeric = s.parse::<f64>().is_ok()
                    && s.chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit() || c == '-');
                let tok = if numeric {
                    Tok::Number(s)
                } else {
                    Tok::Word(s)
                };
                out.push(Token { tok, pos });
            }
            other => {
                return Err(ApiError::parse(format!(
                    "unexpected character '{other}' at position {pos}"
                )));
            }
        }
    }
    out.push(Token {
        tok: Tok::End,
        pos: input.len(),
    });
    Ok(out)
}
