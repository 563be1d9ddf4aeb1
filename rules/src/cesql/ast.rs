//! The compiled form of an expression: a tree whose operators, functions and `LIKE` patterns are
//! resolved at compile time, so evaluation only walks it.

use std::sync::Arc;

use super::functions::Func;
use super::like::LikePattern;
use super::value::CesqlValue;

/// A reference to a value of the event: the seam between the evaluator and the event's shape.
///
/// CESQL itself only names context attributes (top-level members of a structured-JSON event,
/// `data` excluded). The SQL rules (`crate::sql`) reuse the evaluator with dotted paths into the
/// whole event, `data` included.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AttrRef {
    /// A context attribute or extension, by its lowercase name.
    Attribute(Arc<str>),
    /// A path into the event (`data.order.total`, `data.items[0]`), `data` included: what the SQL
    /// rules (`SELECT … WHERE`) compile their identifiers to. Its numbers that are not 32-bit
    /// integers are decimals (`resolve.rs`).
    Path(Arc<Path>),
}

impl AttrRef {
    /// The name as the user wrote it (for error messages).
    pub(crate) fn display_name(&self) -> &Arc<str> {
        match self {
            AttrRef::Attribute(name) => name,
            AttrRef::Path(p) => &p.text,
        }
    }
}

/// A path: its segments (member names, or decimal indexes into arrays) and its text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    pub(crate) segments: Box<[Box<str>]>,
    pub(crate) text: Arc<str>,
}

/// Integer arithmetic (`+ - * / %`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl ArithOp {
    /// The operator as written.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Rem => "%",
        }
    }
}

/// Integer ordering (`< <= > >=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrdOp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// `AND`, `OR`, `XOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogicOp {
    And,
    Or,
    Xor,
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A literal, or a literal sub-expression folded at compile time.
    Lit(CesqlValue),
    /// A decimal literal (SQL rules only: CESQL has no decimals).
    Num(f64),
    /// The value of an attribute (or path).
    Attr(AttrRef),
    /// `EXISTS attr`.
    Exists(AttrRef),
    /// `NOT x`.
    Not(Box<Node>),
    /// `-x`.
    Neg(Box<Node>),
    /// `x op y` on integers.
    Arith(ArithOp, Box<Node>, Box<Node>),
    /// `x op y` comparing integers.
    Ord(OrdOp, Box<Node>, Box<Node>),
    /// `x = y` (`negated`: `!=`, `<>`): `x` is cast to the type of `y`.
    Eq {
        negated: bool,
        left: Box<Node>,
        right: Box<Node>,
    },
    /// `x AND|OR|XOR y [AND|OR|XOR z …]`: two or more operands of one operator.
    Logic(LogicOp, Box<[Node]>),
    /// `x [NOT] LIKE 'pattern'`.
    Like {
        negated: bool,
        value: Box<Node>,
        pattern: LikePattern,
    },
    /// `x [NOT] IN (y1, …)`.
    In {
        negated: bool,
        value: Box<Node>,
        set: Box<[Node]>,
    },
    /// A built-in function, resolved by name and arity.
    Call(Func, Box<[Node]>),
    /// A call no function answers (name, arity): evaluates to `false` and a missingFunction
    /// error, as the TCK requires (it is not a parse error).
    MissingFunction(Arc<str>, usize),
}

impl Node {
    /// Whether the node reads the event (directly; children are not looked at).
    pub(crate) fn reads_event(&self) -> bool {
        matches!(
            self,
            Node::Attr(_) | Node::Exists(_) | Node::MissingFunction(..)
        )
    }

    /// The node's direct children.
    pub(crate) fn children(&self) -> Children<'_> {
        match self {
            Node::Lit(_)
            | Node::Num(_)
            | Node::Attr(_)
            | Node::Exists(_)
            | Node::MissingFunction(..) => Children::Slice(&[]),
            Node::Not(x) | Node::Neg(x) => Children::One(Some(x)),
            Node::Like { value, .. } => Children::One(Some(value)),
            Node::Logic(_, items) => Children::Slice(items),
            Node::Arith(_, l, r) | Node::Ord(_, l, r) => Children::Two(Some(l), Some(r)),
            Node::Eq { left, right, .. } => Children::Two(Some(left), Some(right)),
            Node::In { value, set, .. } => Children::Head(Some(value), set),
            Node::Call(_, args) => Children::Slice(args),
        }
    }
}

/// An iterator over a node's children, without allocating.
pub(crate) enum Children<'a> {
    One(Option<&'a Node>),
    Two(Option<&'a Node>, Option<&'a Node>),
    Head(Option<&'a Node>, &'a [Node]),
    Slice(&'a [Node]),
}

impl<'a> Iterator for Children<'a> {
    type Item = &'a Node;

    fn next(&mut self) -> Option<&'a Node> {
        match self {
            Children::One(a) => a.take(),
            Children::Two(a, b) => a.take().or_else(|| b.take()),
            Children::Head(h, rest) => h.take().or_else(|| {
                let (first, tail) = rest.split_first()?;
                *rest = tail;
                Some(first)
            }),
            Children::Slice(rest) => {
                let (first, tail) = rest.split_first()?;
                *rest = tail;
                Some(first)
            }
        }
    }
}
