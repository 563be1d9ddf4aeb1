//! The CESQL parser: precedence climbing over the tokens, following the reference ANTLR grammar
//! (`CESQLParser.g4`), which is what the Go SDK runs.
//!
//! Precedence, tightest first (spec 3.6 and the grammar's order of alternatives):
//!
//! | level | operators | notes |
//! | --- | --- | --- |
//! | 1 | function calls, literals, attributes, `( … )`, `EXISTS name` | |
//! | 2 | `NOT x` | its operand is only a level-1/2/3 expression: `NOT a = b` is `(NOT a) = b` |
//! | 3 | `-x` | `-a * b` is `(-a) * b` |
//! | 4 | `x [NOT] LIKE 'pattern'` | so `a + b LIKE 'x'` is `a + (b LIKE 'x')`, as in the grammar |
//! | 5 | `x [NOT] IN (…)` | |
//! | 6 | `* / %` | left-associative |
//! | 7 | `+ -` | left-associative |
//! | 8 | `= != <> < <= > >=` | left-associative |
//! | 9 | `AND OR XOR` | **one level, right-associative** |
//!
//! The last row is the grammar's `<assoc=right> expression (AND | OR | XOR) expression`, and the
//! Go SDK's behaviour: `a AND b OR c` is `a AND (b OR c)`, not SQL's `(a AND b) OR c`. The spec's
//! prose (3.6: "left to right when the precedence is equal") would read it the other way; we
//! follow the grammar so that an expression means the same here as in Knative and the other
//! engines built on it. Chains of one operator (`a AND b AND c`) mean the same either way and are
//! flattened into one n-ary node, so long generated chains cost no depth. Write parentheses when
//! mixing `AND` and `OR`.
//!
//! Integer signs: the reference lexer makes `-5` one token, which also makes `5-3` a syntax error
//! there (`5` then `-3`). Here `-`/`+` are always operators, and a sign written directly before
//! digits in operand position is folded into the literal, so `-2147483648` is a valid literal and
//! `5-3` is a subtraction. `+` is only accepted that way (`+5`); CESQL has no unary plus.
//!
//! Function names are case-insensitive (`[A-Za-z][A-Za-z_]*`, a name followed by `(`); attribute
//! names are `[A-Za-z0-9]+`, lowered (so `EXISTS SOURCE` names `source`). A name with `_` that is
//! not followed by `(` is an error: attribute names cannot contain `_`.
//!
//! Literal sub-expressions are folded at compile time when they evaluate without error (errors
//! such as `1 / 0` stay evaluation errors, as the TCK expects). Nesting deeper than
//! [`MAX_DEPTH`] is a parse error, which bounds the recursion of parsing and evaluation.

use std::sync::Arc;

use serde_json::Value;

use super::MissingFunction;
use super::ast::{ArithOp, AttrRef, LogicOp, Node, OrdOp};
use super::error::{CesqlParseError, line_column};
use super::eval::Evaluator;
use super::functions::Func;
use super::lexer::{Tok, Token, tokenize};
use super::like::LikePattern;
use super::value::CesqlValue;

/// The deepest an expression may nest (operators inside operators, parentheses included).
pub const MAX_DEPTH: usize = 128;

const LOGIC: u8 = 1;
const CMP: u8 = 2;
const ADD: u8 = 3;
const MUL: u8 = 4;
const IN: u8 = 5;
const LIKE: u8 = 6;
const NEG: u8 = 7;
const NOT: u8 = 8;

/// A compiled expression and what compiling it noticed.
pub(crate) struct Parsed {
    pub(crate) root: Node,
    pub(crate) missing_functions: Vec<MissingFunction>,
}

/// Parses a whole expression.
pub(crate) fn parse(text: &str) -> Result<Parsed, CesqlParseError> {
    let tokens = tokenize(text)?;
    let mut p = Parser {
        text,
        tokens,
        pos: 0,
        nesting: 0,
        missing_functions: Vec::new(),
    };
    if p.peek().tok == Tok::Eof {
        return Err(p.error(p.peek(), "the expression is empty"));
    }
    let root = p.expr(0)?;
    let end = p.peek();
    if end.tok != Tok::Eof {
        let reason = format!(
            "expected an operator or the end of the expression, found {}",
            end.tok.describe()
        );
        return Err(p.error(end, reason));
    }
    Ok(Parsed {
        root: root.node,
        missing_functions: p.missing_functions,
    })
}

/// A node and the depth of the tree under it.
struct Sub {
    node: Node,
    depth: usize,
}

struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    pos: usize,
    nesting: usize,
    missing_functions: Vec<MissingFunction>,
}

/// What an operator token after an operand does.
enum Infix {
    Logic,
    Binary(fn(Box<Node>, Box<Node>) -> Node),
    Like(bool),
    In(bool),
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    fn peek_at(&self, k: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + k).min(last)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn error(&self, at: &Token, reason: impl Into<String>) -> CesqlParseError {
        CesqlParseError::at(self.text, at.start, reason)
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<Token, CesqlParseError> {
        let t = self.bump();
        if &t.tok == tok {
            Ok(t)
        } else {
            Err(self.error(&t, format!("expected {what}, found {}", t.tok.describe())))
        }
    }

    /// Wraps a node built at token `at`, folding it if it is constant and checking the depth.
    fn node(&self, node: Node, depth: usize, at: &Token) -> Result<Sub, CesqlParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error(
                at,
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(Sub {
            node: fold(node),
            depth,
        })
    }

    fn expr(&mut self, min: u8) -> Result<Sub, CesqlParseError> {
        self.nesting += 1;
        let result = if self.nesting > MAX_DEPTH {
            Err(self.error(
                self.peek(),
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ))
        } else {
            self.expr_from(min)
        };
        self.nesting -= 1;
        result
    }

    fn expr_from(&mut self, min: u8) -> Result<Sub, CesqlParseError> {
        let mut lhs = self.prefix()?;
        loop {
            let at = self.peek().clone();
            let (prec, infix) = match at.tok {
                Tok::And | Tok::Or | Tok::Xor => (LOGIC, Infix::Logic),
                Tok::Eq => (CMP, Infix::Binary(|l, r| eq(false, l, r))),
                Tok::NotEq => (CMP, Infix::Binary(|l, r| eq(true, l, r))),
                Tok::Lt => (CMP, Infix::Binary(|l, r| Node::Ord(OrdOp::Lt, l, r))),
                Tok::Le => (CMP, Infix::Binary(|l, r| Node::Ord(OrdOp::Le, l, r))),
                Tok::Gt => (CMP, Infix::Binary(|l, r| Node::Ord(OrdOp::Gt, l, r))),
                Tok::Ge => (CMP, Infix::Binary(|l, r| Node::Ord(OrdOp::Ge, l, r))),
                Tok::Plus => (ADD, Infix::Binary(|l, r| Node::Arith(ArithOp::Add, l, r))),
                Tok::Minus => (ADD, Infix::Binary(|l, r| Node::Arith(ArithOp::Sub, l, r))),
                Tok::Star => (MUL, Infix::Binary(|l, r| Node::Arith(ArithOp::Mul, l, r))),
                Tok::Slash => (MUL, Infix::Binary(|l, r| Node::Arith(ArithOp::Div, l, r))),
                Tok::Percent => (MUL, Infix::Binary(|l, r| Node::Arith(ArithOp::Rem, l, r))),
                Tok::Like => (LIKE, Infix::Like(false)),
                Tok::In => (IN, Infix::In(false)),
                Tok::Not => match self.peek_at(1).tok {
                    Tok::Like => (LIKE, Infix::Like(true)),
                    Tok::In => (IN, Infix::In(true)),
                    _ => break,
                },
                _ => break,
            };
            if prec < min {
                break;
            }
            lhs = match infix {
                Infix::Logic => self.logic_chain(lhs)?,
                Infix::Binary(make) => {
                    self.bump();
                    let rhs = self.expr(prec + 1)?;
                    let depth = 1 + lhs.depth.max(rhs.depth);
                    self.node(make(Box::new(lhs.node), Box::new(rhs.node)), depth, &at)?
                }
                Infix::Like(negated) => {
                    if negated {
                        self.bump();
                    }
                    self.bump();
                    let t = self.bump();
                    let Tok::Str(pattern) = &t.tok else {
                        let reason = format!(
                            "the pattern of LIKE must be a string literal, found {}",
                            t.tok.describe()
                        );
                        return Err(self.error(&t, reason));
                    };
                    let node = Node::Like {
                        negated,
                        value: Box::new(lhs.node),
                        pattern: LikePattern::compile(pattern),
                    };
                    self.node(node, lhs.depth + 1, &at)?
                }
                Infix::In(negated) => {
                    if negated {
                        self.bump();
                    }
                    self.bump();
                    let (set, depth) = self.list("IN", true)?;
                    let node = Node::In {
                        negated,
                        value: Box::new(lhs.node),
                        set: set.into_boxed_slice(),
                    };
                    self.node(node, 1 + lhs.depth.max(depth), &at)?
                }
            };
        }
        Ok(lhs)
    }

    /// `a op b op c …` for the logic operators: one level, right-associative, with runs of the
    /// same operator flattened.
    fn logic_chain(&mut self, first: Sub) -> Result<Sub, CesqlParseError> {
        let mut operands = vec![first];
        let mut ops = Vec::new();
        loop {
            let at = self.peek().clone();
            let op = match at.tok {
                Tok::And => LogicOp::And,
                Tok::Or => LogicOp::Or,
                Tok::Xor => LogicOp::Xor,
                _ => break,
            };
            self.bump();
            ops.push((op, at));
            operands.push(self.expr(LOGIC + 1)?);
        }
        let mut acc = operands
            .pop()
            .ok_or_else(|| self.error(self.peek(), "internal"))?;
        while let (Some((op, at)), Some(left)) = (ops.pop(), operands.pop()) {
            let (node, depth) = match acc.node {
                Node::Logic(o, items) if o == op => {
                    let mut all = Vec::with_capacity(items.len() + 1);
                    all.push(left.node);
                    all.extend(items.into_vec());
                    let depth = acc.depth.max(left.depth + 1);
                    (Node::Logic(op, all.into_boxed_slice()), depth)
                }
                other => {
                    let depth = 1 + acc.depth.max(left.depth);
                    (Node::Logic(op, Box::new([left.node, other])), depth)
                }
            };
            acc = self.node(node, depth, &at)?;
        }
        Ok(acc)
    }

    /// `( expr, … )` after a function name or `IN`; the opening parenthesis is next.
    fn list(
        &mut self,
        owner: &str,
        non_empty: bool,
    ) -> Result<(Vec<Node>, usize), CesqlParseError> {
        self.expect(&Tok::LParen, &format!("'(' after {owner}"))?;
        let mut items = Vec::new();
        let mut depth = 0;
        if self.peek().tok == Tok::RParen {
            let t = self.bump();
            if non_empty {
                return Err(self.error(&t, format!("{owner} needs at least one value")));
            }
            return Ok((items, depth));
        }
        loop {
            let item = self.expr(0)?;
            depth = depth.max(item.depth);
            items.push(item.node);
            let t = self.bump();
            match t.tok {
                Tok::Comma => {}
                Tok::RParen => return Ok((items, depth)),
                _ => {
                    let reason = format!(
                        "expected ',' or ')' in the list of {owner}, found {}",
                        t.tok.describe()
                    );
                    return Err(self.error(&t, reason));
                }
            }
        }
    }

    fn prefix(&mut self) -> Result<Sub, CesqlParseError> {
        let t = self.bump();
        match &t.tok {
            Tok::Not => {
                let x = self.expr(NOT)?;
                self.node(Node::Not(Box::new(x.node)), x.depth + 1, &t)
            }
            Tok::Minus | Tok::Plus => {
                let next = self.peek();
                let digits = match &next.tok {
                    Tok::Int(d) if next.start == t.end => Some(d.clone()),
                    _ => None,
                };
                if let Some(digits) = digits {
                    let sign = if t.tok == Tok::Minus { "-" } else { "+" };
                    self.bump();
                    return self.int_literal(&format!("{sign}{digits}"), &t);
                }
                if t.tok == Tok::Plus {
                    return Err(self.error(
                        &t,
                        "CESQL has no unary '+': a '+' sign must be written directly before digits",
                    ));
                }
                let x = self.expr(NEG)?;
                self.node(Node::Neg(Box::new(x.node)), x.depth + 1, &t)
            }
            Tok::Exists => {
                let n = self.bump();
                let Tok::Name(name) = &n.tok else {
                    let reason = format!(
                        "EXISTS must be followed by an attribute name, found {}",
                        n.tok.describe()
                    );
                    return Err(self.error(&n, reason));
                };
                let attr = self.attribute(name, &n)?;
                self.node(Node::Exists(attr), 1, &t)
            }
            Tok::LParen => {
                let inner = self.expr(0)?;
                let (line, column) = line_column(self.text, t.start);
                self.expect(
                    &Tok::RParen,
                    &format!("')' to close the '(' at {line}:{column}"),
                )?;
                Ok(inner)
            }
            Tok::Int(digits) => self.int_literal(digits, &t),
            Tok::Str(s) => self.node(Node::Lit(CesqlValue::String(s.clone())), 1, &t),
            Tok::True => self.node(Node::Lit(CesqlValue::Boolean(true)), 1, &t),
            Tok::False => self.node(Node::Lit(CesqlValue::Boolean(false)), 1, &t),
            Tok::Name(name) => {
                if self.peek().tok == Tok::LParen {
                    self.call(name, &t)
                } else {
                    let attr = self.attribute(name, &t)?;
                    self.node(Node::Attr(attr), 1, &t)
                }
            }
            other => {
                let reason = format!("expected an expression, found {}", other.describe());
                Err(self.error(&t, reason))
            }
        }
    }

    fn int_literal(&self, literal: &str, at: &Token) -> Result<Sub, CesqlParseError> {
        match literal.parse::<i32>() {
            Ok(i) => self.node(Node::Lit(CesqlValue::Integer(i)), 1, at),
            Err(e) => {
                let mut err = self.error(
                    at,
                    format!(
                        "the integer literal {literal} is outside the 32-bit range \
                         -2147483648..=2147483647"
                    ),
                );
                err.source = Some(e);
                Err(err)
            }
        }
    }

    fn attribute(&self, name: &str, at: &Token) -> Result<AttrRef, CesqlParseError> {
        if name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(AttrRef::Attribute(Arc::from(name.to_ascii_lowercase())));
        }
        Err(self.error(
            at,
            format!(
                "{name:?} is not an attribute name (letters and digits only); \
                 a name with '_' can only be a function, followed by '('"
            ),
        ))
    }

    fn call(&mut self, name: &str, at: &Token) -> Result<Sub, CesqlParseError> {
        let mut bytes = name.bytes();
        let valid = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphabetic() || b == b'_');
        if !valid {
            return Err(self.error(
                at,
                format!("{name:?} is not a function name (a letter, then letters and '_')"),
            ));
        }
        let upper = name.to_ascii_uppercase();
        let (args, depth) = self.list(&upper, false)?;
        let node = match Func::resolve(&upper, args.len()) {
            Some(f) => Node::Call(f, args.into_boxed_slice()),
            None => {
                let (line, column) = line_column(self.text, at.start);
                self.missing_functions.push(MissingFunction {
                    name: upper.clone(),
                    arity: args.len(),
                    line,
                    column,
                });
                Node::MissingFunction(Arc::from(upper), args.len())
            }
        };
        self.node(node, depth + 1, at)
    }
}

fn eq(negated: bool, left: Box<Node>, right: Box<Node>) -> Node {
    Node::Eq {
        negated,
        left,
        right,
    }
}

/// Replaces a node that does not read the event and whose operands are literals by its value,
/// unless evaluating it reports an error (which must then surface at evaluation).
fn fold(node: Node) -> Node {
    static NO_EVENT: Value = Value::Null;
    if node.reads_event()
        || matches!(node, Node::Lit(_))
        || !node.children().all(|c| matches!(c, Node::Lit(_)))
    {
        return node;
    }
    let mut ev = Evaluator::new(&NO_EVENT);
    let value = ev.eval(&node).into_owned();
    if ev.errors.is_empty() {
        Node::Lit(value)
    } else {
        node
    }
}
