//! Recursive-descent parser for ftrack query expressions (protocol §7).

use super::ast::{Expr, Literal, Op, Query};
use super::lexer::{Tok, Token, tokenize};
use crate::error::ApiError;

/// Parses a full query expression.
pub fn parse(input: &str) -> Result<Query, ApiError> {
    let tokens = tokenize(input)?;
    let mut p = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let q = p.query()?;
    p.expect_end()?;
    Ok(q)
}

/// Deepest nesting of parentheses, `not`, `has`, `any` and subqueries accepted.
pub const MAX_DEPTH: usize = 64;

/// Most segments one dotted attribute path may have (`a.b.c` has three).
/// Every segment is one level of projection loading or one SQL subquery.
pub const MAX_PATH_SEGMENTS: usize = 32;

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Number(n) => format!("number {n}"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Symbol(s) => format!("'{s}'"),
        Tok::End => "end of expression".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn error(&self, expected: &str) -> ApiError {
        let t = self.peek();
        ApiError::parse(format!(
            "Query parse error at position {}: expected {expected}, found {}",
            t.pos,
            describe(&t.tok)
        ))
    }

    fn too_deep(&self) -> ApiError {
        ApiError::parse(format!(
            "Query parse error at position {}: more than {MAX_DEPTH} levels of nesting (parentheses, not, has, any and subqueries)",
            self.peek().pos
        ))
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.is_keyword(kw) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), ApiError> {
        if self.eat_keyword(kw) {
            Ok(())
        } else {
            Err(self.error(&format!("'{kw}'")))
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<(), ApiError> {
        if self.peek().tok == tok {
            self.next();
            Ok(())
        } else {
            Err(self.error(&describe(&tok)))
        }
    }

    fn expect_end(&self) -> Result<(), ApiError> {
        if self.peek().tok == Tok::End {
            Ok(())
        } else {
            Err(self.error("end of expression"))
        }
    }

    fn path(&mut self) -> Result<Vec<String>, ApiError> {
        match &self.peek().tok {
            Tok::Word(w) if is_path(w) => {
                let segments = w.split('.').count();
                if segments > MAX_PATH_SEGMENTS {
                    return Err(ApiError::parse(format!(
                        "Query parse error at position {}: the attribute path has {segments} segments; at most {MAX_PATH_SEGMENTS} are allowed",
                        self.peek().pos
                    )));
                }
                let parts = w.split('.').map(str::to_string).collect();
                self.next();
                Ok(parts)
            }
            _ => Err(self.error("an attribute name")),
        }
    }

    fn query(&mut self) -> Result<Query, ApiError> {
        let mut select = Vec::new();
        if self.eat_keyword("select") {
            loop {
                if self.is_keyword("from") {
                    return Err(self.error("an attribute name"));
                }
                select.push(self.path()?);
                if self.peek().tok == Tok::Comma {
                    self.next();
                } else {
                    break;
                }
            }
            self.expect_keyword("from")?;
        }
        let entity = match &self.peek().tok {
            Tok::Word(w) if is_identifier(w) => w.clone(),
            _ => return Err(self.error("an entity type")),
        };
        self.next();
        let mut q = Query {
            select,
            entity,
            filter: None,
            order: Vec::new(),
            offset: None,
            limit: None,
        };
        if self.eat_keyword("where") {
            q.filter = Some(self.or_expr()?);
        }
        if self.eat_keyword("order") {
            self.expect_keyword("by")?;
            loop {
                let path = self.path()?;
                let desc = if self.eat_keyword("desc") || self.eat_keyword("descending") {
                    true
                } else {
                    let _ = self.eat_keyword("asc") || self.eat_keyword("ascending");
                    false
                };
                q.order.push((path, desc));
                if self.peek().tok == Tok::Comma {
                    self.next();
                } else {
                    break;
                }
            }
        }
        loop {
            if self.eat_keyword("offset") {
                q.offset = Some(self.count()?);
            } else if self.eat_keyword("limit") {
                q.limit = Some(self.count()?);
            } else {
                break;
            }
        }
        Ok(q)
    }

    fn count(&mut self) -> Result<u64, ApiError> {
        if let Tok::Number(n) = &self.peek().tok
            && let Ok(v) = n.parse::<u64>()
        {
            self.next();
            return Ok(v);
        }
        Err(self.error("a non-negative integer"))
    }

    fn or_expr(&mut self) -> Result<Expr, ApiError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        let result = self.or_terms();
        self.depth -= 1;
        result
    }

    fn or_terms(&mut self) -> Result<Expr, ApiError> {
        let mut parts = vec![self.and_expr()?];
        while self.eat_keyword("or") {
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::Or(parts)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, ApiError> {
        let mut parts = vec![self.unary()?];
        while self.eat_keyword("and") {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, ApiError> {
        if self.eat_keyword("not") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.too_deep());
            }
            let inner = self.unary();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner?)));
        }
        if self.peek().tok == Tok::LParen {
            self.next();
            let e = self.or_expr()?;
            self.expect(Tok::RParen)?;
            return Ok(e);
        }
        self.criterion()
    }

    fn criterion(&mut self) -> Result<Expr, ApiError> {
        let path = self.path()?;
        let word = match &self.peek().tok {
            Tok::Word(w) => w.to_ascii_lowercase(),
            Tok::Symbol(s) => (*s).to_string(),
            _ => return Err(self.error("an operator")),
        };
        let known = matches!(
            word.as_str(),
            "is" | "="
                | "is_not"
                | "!="
                | ">"
                | "after"
                | "greater_than"
                | "<"
                | "before"
                | "less_than"
                | ">="
                | "<="
                | "like"
                | "not_like"
                | "in"
                | "not_in"
                | "has"
                | "any"
        );
        if !known {
            return Err(self.error("an operator"));
        }
        self.next();
        let op = match word.as_str() {
            "is" | "=" => Op::Eq,
            "is_not" | "!=" => Op::Ne,
            ">" | "after" | "greater_than" => Op::Gt,
            "<" | "before" | "less_than" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "like" => Op::Like,
            "not_like" => Op::NotLike,
            "in" | "not_in" => return self.in_expr(path, word == "not_in"),
            "has" => {
                self.expect(Tok::LParen)?;
                let expr = self.or_expr()?;
                self.expect(Tok::RParen)?;
                return Ok(Expr::Has {
                    path,
                    expr: Box::new(expr),
                });
            }
            "any" => {
                self.expect(Tok::LParen)?;
                if self.peek().tok == Tok::RParen {
                    self.next();
                    return Ok(Expr::Any { path, expr: None });
                }
                let expr = self.or_expr()?;
                self.expect(Tok::RParen)?;
                return Ok(Expr::Any {
                    path,
                    expr: Some(Box::new(expr)),
                });
            }
            _ => return Err(self.error("an operator")),
        };
        let value = self.literal()?;
        Ok(Expr::Compare { path, op, value })
    }

    fn in_expr(&mut self, path: Vec<String>, negated: bool) -> Result<Expr, ApiError> {
        self.expect(Tok::LParen)?;
        if self.is_keyword("select") {
            let query = self.query()?;
            self.expect(Tok::RParen)?;
            return Ok(Expr::InQuery {
                path,
                query: Box::new(query),
                negated,
            });
        }
        let mut values = Vec::new();
        if self.peek().tok != Tok::RParen {
            loop {
                values.push(self.literal()?);
                if self.peek().tok == Tok::Comma {
                    self.next();
                } else {
                    break;
                }
            }
        }
        self.expect(Tok::RParen)?;
        Ok(Expr::InList {
            path,
            values,
            negated,
        })
    }

    fn literal(&mut self) -> Result<Literal, ApiError> {
        let lit = match &self.peek().tok {
            Tok::Str(s) => Literal::Text(s.clone()),
            Tok::Number(n) => Literal::Number(n.clone()),
            Tok::Word(w) => match w.as_str() {
                "None" | "null" | "NULL" => Literal::Null,
                _ if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
                _ if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
                _ => Literal::Text(w.clone()),
            },
            _ => return Err(self.error("a value")),
        };
        self.next();
        Ok(lit)
    }
}

fn is_identifier(w: &str) -> bool {
    let mut chars = w.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_path(w: &str) -> bool {
    w.split('.').all(is_identifier)
}
