//! The parsed form of a query expression.

/// A literal value in a criterion.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Quoted string or bare word.
    Text(String),
    /// Number as written.
    Number(String),
    /// `None` / `null`.
    Null,
    /// `true` / `false` (any case).
    Bool(bool),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `is`, `=`
    Eq,
    /// `is_not`, `!=`
    Ne,
    /// `>`, `after`, `greater_than`
    Gt,
    /// `<`, `before`, `less_than`
    Lt,
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `like`
    Like,
    /// `not_like`
    NotLike,
}

/// A `where` criterion tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All must hold.
    And(Vec<Expr>),
    /// One must hold.
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// `<path> <op> <value>`.
    Compare {
        /// Dotted attribute path.
        path: Vec<String>,
        /// Operator.
        op: Op,
        /// Value.
        value: Literal,
    },
    /// `<path> in (...)` / `not_in (...)` with a literal list.
    InList {
        /// Dotted attribute path.
        path: Vec<String>,
        /// Values.
        values: Vec<Literal>,
        /// `not_in`.
        negated: bool,
    },
    /// `<path> in (select ...)` / `not_in (select ...)`.
    InQuery {
        /// Dotted attribute path.
        path: Vec<String>,
        /// The subquery (one projection).
        query: Box<Query>,
        /// `not_in`.
        negated: bool,
    },
    /// `<reference> has (<criteria>)`.
    Has {
        /// Path ending in a reference.
        path: Vec<String>,
        /// Criteria on the referenced entity.
        expr: Box<Expr>,
    },
    /// `<collection> any (<criteria>)`, or `any ()` when `expr` is None.
    Any {
        /// Path ending in a collection.
        path: Vec<String>,
        /// Criteria on one member.
        expr: Option<Box<Expr>>,
    },
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Projections as dotted paths; empty means the default projections.
    pub select: Vec<Vec<String>>,
    /// Target entity type.
    pub entity: String,
    /// Criteria.
    pub filter: Option<Expr>,
    /// Sort keys: path and descending flag.
    pub order: Vec<(Vec<String>, bool)>,
    /// Rows to skip.
    pub offset: Option<u64>,
    /// Maximum rows.
    pub limit: Option<u64>,
}
