//! The evaluator: walks the compiled tree against one event, collecting errors.
//!
//! Error propagation: a node whose operand produced an error returns the zero value of its own
//! return type (an operator never computes on a value that came with an error), and the errors are
//! kept. The value of the whole expression is therefore exactly the one of the spec's "fail fast"
//! mode (section 4.1), which is what the TCK expects (`true AND (1 != 1 / 0)` is `false` with a
//! math error), while the error list is the one of "complete evaluation": operands that can still
//! matter keep being evaluated and their errors are reported too (`missing1 + missing2` reports
//! both attributes). Where the result is already decided the rest is not evaluated: the right
//! operand of `AND`/`OR` after a decided left operand (short-circuit, spec 3.4.2), the set of `IN`
//! after its value or a member failed, and the arguments of a function that does not exist.
//!
//! Decimals (`Val::Num`, SQL rules only): when either operand of a comparison, `=`, `IN` or an
//! arithmetic operator is a decimal, both are compared or computed as f64 (the other operand cast
//! with `Val::to_f64`); division by zero and a result beyond f64 are math errors. An evaluator made
//! with [`Evaluator::sql`] also widens: integer arithmetic that overflows 32 bits gives a decimal
//! instead of wrapping around. CESQL expressions never hold decimals and never widen, so none of
//! this changes what they mean.
//!
//! Nothing on the path of a comparison between an attribute and a literal allocates: attribute
//! strings are borrowed from the event and literals from the tree.

use std::borrow::Cow;

use serde_json::Value;

use super::ast::{ArithOp, AttrRef, LogicOp, Node, OrdOp};
use super::error::{ErrorKind, EvalError};
use super::functions::{Func, MAX_FIXED_ARITY};
use super::resolve;
use super::value::{CesqlType, Val};

/// One evaluation: the event and the errors met so far.
pub(crate) struct Evaluator<'a> {
    event: &'a Value,
    pub(crate) errors: Vec<EvalError>,
    /// Integer overflow gives a decimal (SQL rules) rather than wrapping (CESQL).
    widen: bool,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(event: &'a Value) -> Evaluator<'a> {
        Evaluator {
            event,
            errors: Vec::new(),
            widen: false,
        }
    }

    /// An evaluator for SQL rules: integer overflow widens to a decimal.
    pub(crate) fn sql(event: &'a Value) -> Evaluator<'a> {
        Evaluator {
            widen: true,
            ..Evaluator::new(event)
        }
    }

    fn mark(&self) -> usize {
        self.errors.len()
    }

    fn failed(&self, mark: usize) -> bool {
        self.errors.len() != mark
    }

    fn fail(&mut self, error: EvalError, value: Val<'a>) -> Val<'a> {
        self.errors.push(error);
        value
    }

    /// Evaluates `node`.
    pub(crate) fn eval(&mut self, node: &'a Node) -> Val<'a> {
        match node {
            Node::Lit(v) => Val::from_owned(v),
            Node::Num(f) => Val::Num(*f),
            Node::Attr(r) => self.attr(r),
            Node::Exists(r) => Val::Bool(resolve::exists(self.event, r)),
            Node::Not(x) => {
                let mark = self.mark();
                let v = self.eval(x);
                if self.failed(mark) {
                    return Val::Bool(false);
                }
                match v.to_bool() {
                    Ok(b) => Val::Bool(!b),
                    Err(e) => self.fail(e, Val::Bool(false)),
                }
            }
            Node::Neg(x) => {
                let mark = self.mark();
                let v = self.eval(x);
                if self.failed(mark) {
                    return Val::Int(0);
                }
                if let Val::Num(f) = v {
                    return Val::Num(-f);
                }
                match v.to_int() {
                    // -(-2147483648) wraps to itself, as int32 negation does in the Go SDK.
                    Ok(i32::MIN) if self.widen => Val::Num(-f64::from(i32::MIN)),
                    Ok(i) => Val::Int(i.wrapping_neg()),
                    Err(e) => self.fail(e, Val::Int(0)),
                }
            }
            Node::Arith(op, l, r) => match self.two_vals(l, r) {
                Some((x, y)) if x.is_num() || y.is_num() => match self.two_f64(&x, &y) {
                    Some((x, y)) => self.arith_f64(*op, x, y),
                    None => Val::Int(0),
                },
                Some((x, y)) => match self.two_ints(&x, &y) {
                    Some((x, y)) => self.arith(*op, x, y),
                    None => Val::Int(0),
                },
                None => Val::Int(0),
            },
            Node::Ord(op, l, r) => match self.two_vals(l, r) {
                Some((x, y)) if x.is_num() || y.is_num() => match self.two_f64(&x, &y) {
                    Some((x, y)) => Val::Bool(ord(*op, x, y)),
                    None => Val::Bool(false),
                },
                Some((x, y)) => match self.two_ints(&x, &y) {
                    Some((x, y)) => Val::Bool(ord(*op, x, y)),
                    None => Val::Bool(false),
                },
                None => Val::Bool(false),
            },
            Node::Eq {
                negated,
                left,
                right,
            } => {
                let mark = self.mark();
                let l = self.eval(left);
                let r = self.eval(right);
                if self.failed(mark) {
                    return Val::Bool(false);
                }
                if l.is_num() || r.is_num() {
                    return match self.two_f64(&l, &r) {
                        Some((x, y)) => Val::Bool((x == y) != *negated),
                        None => Val::Bool(false),
                    };
                }
                // `=` is ambiguous (spec 3.7): the right operand's type decides.
                match l.cast(r.ty()) {
                    Ok(l) => Val::Bool((l == r) != *negated),
                    Err(e) => self.fail(e, Val::Bool(false)),
                }
            }
            Node::Logic(op, items) => self.logic(*op, items),
            Node::Like {
                negated,
                value,
                pattern,
            } => {
                let mark = self.mark();
                let v = self.eval(value);
                if self.failed(mark) {
                    return Val::Bool(false);
                }
                Val::Bool(pattern.matches(&v.into_str()) != *negated)
            }
            Node::In {
                negated,
                value,
                set,
            } => {
                let mark = self.mark();
                let v = self.eval(value);
                if self.failed(mark) {
                    return Val::Bool(false);
                }
                let ty = v.ty();
                for member in set.iter() {
                    let m = self.eval(member);
                    if self.failed(mark) {
                        return Val::Bool(false);
                    }
                    if v.is_num() || m.is_num() {
                        match self.two_f64(&v, &m) {
                            Some((x, y)) if x == y => return Val::Bool(!*negated),
                            Some(_) => continue,
                            None => return Val::Bool(false),
                        }
                    }
                    // The left operand's type is the target type (spec 3.4.5).
                    match m.cast(ty) {
                        Ok(m) if m == v => return Val::Bool(!*negated),
                        Ok(_) => {}
                        Err(e) => return self.fail(e, Val::Bool(false)),
                    }
                }
                Val::Bool(*negated)
            }
            Node::Call(f, args) => self.call(*f, args),
            Node::MissingFunction(name, arity) => {
                let plural = if *arity == 1 { "" } else { "s" };
                self.fail(
                    EvalError::new(
                        ErrorKind::MissingFunction,
                        format!("no function {name} takes {arity} argument{plural}"),
                    ),
                    Val::Bool(false),
                )
            }
        }
    }

    fn attr(&mut self, r: &'a AttrRef) -> Val<'a> {
        match resolve::value(self.event, r) {
            Some(v) => v,
            // The type of a lone attribute cannot be known: the spec says assume Boolean.
            None => self.fail(
                EvalError::missing_attribute(r.display_name()),
                Val::Bool(false),
            ),
        }
    }

    /// Evaluates both operands; `None` if either failed.
    fn two_vals(&mut self, l: &'a Node, r: &'a Node) -> Option<(Val<'a>, Val<'a>)> {
        let mark = self.mark();
        let l = self.eval(l);
        let r = self.eval(r);
        (!self.failed(mark)).then_some((l, r))
    }

    /// Casts both operands to Integer; `None` (with the errors kept) if either cast failed.
    fn two_ints(&mut self, l: &Val<'a>, r: &Val<'a>) -> Option<(i32, i32)> {
        let l = l.to_int().map_err(|e| self.errors.push(e));
        let r = r.to_int().map_err(|e| self.errors.push(e));
        Some((l.ok()?, r.ok()?))
    }

    /// Casts both operands to decimals; `None` (with the errors kept) if either cast failed.
    fn two_f64(&mut self, l: &Val<'a>, r: &Val<'a>) -> Option<(f64, f64)> {
        let l = l.to_f64().map_err(|e| self.errors.push(e));
        let r = r.to_f64().map_err(|e| self.errors.push(e));
        Some((l.ok()?, r.ok()?))
    }

    /// Decimal arithmetic; division or modulo by zero and results beyond f64 are math errors.
    fn arith_f64(&mut self, op: ArithOp, x: f64, y: f64) -> Val<'a> {
        if matches!(op, ArithOp::Div | ArithOp::Rem) && y == 0.0 {
            return self.fail(
                EvalError::new(ErrorKind::Math, format!("division by zero ({x} by 0)")),
                Val::Int(0),
            );
        }
        let v = match op {
            ArithOp::Add => x + y,
            ArithOp::Sub => x - y,
            ArithOp::Mul => x * y,
            ArithOp::Div => x / y,
            ArithOp::Rem => x % y,
        };
        if v.is_finite() {
            Val::Num(v)
        } else {
            self.fail(
                EvalError::new(
                    ErrorKind::Math,
                    format!("{x} {} {y} overflows", op.symbol()),
                ),
                Val::Int(0),
            )
        }
    }

    /// Integer arithmetic wraps around on overflow, as the Go SDK's int32 arithmetic does (a SQL
    /// evaluator widens to a decimal instead); only division and modulo by zero are errors.
    fn arith(&mut self, op: ArithOp, x: i32, y: i32) -> Val<'a> {
        if self.widen {
            let exact = match op {
                ArithOp::Add => x.checked_add(y),
                ArithOp::Sub => x.checked_sub(y),
                ArithOp::Mul => x.checked_mul(y),
                ArithOp::Div | ArithOp::Rem => Some(0),
            };
            if exact.is_none() {
                return self.arith_f64(op, f64::from(x), f64::from(y));
            }
        }
        let v = match op {
            ArithOp::Add => x.wrapping_add(y),
            ArithOp::Sub => x.wrapping_sub(y),
            ArithOp::Mul => x.wrapping_mul(y),
            ArithOp::Div | ArithOp::Rem if y == 0 => {
                let what = if op == ArithOp::Div {
                    "division"
                } else {
                    "modulo"
                };
                return self.fail(
                    EvalError::new(ErrorKind::Math, format!("{what} by zero ({x} by 0)")),
                    Val::Int(0),
                );
            }
            // Truncating, remainder with the dividend's sign; -2147483648 / -1 wraps.
            ArithOp::Div => x.wrapping_div(y),
            ArithOp::Rem => x.wrapping_rem(y),
        };
        Val::Int(v)
    }

    /// `AND`/`OR` short-circuit from the left; an operand with an error decides the result
    /// (`false`) and stops the evaluation.
    fn logic(&mut self, op: LogicOp, items: &'a [Node]) -> Val<'a> {
        let mark = self.mark();
        let mut acc = false;
        for item in items {
            let v = self.eval(item);
            if self.failed(mark) {
                return Val::Bool(false);
            }
            let b = match v.to_bool() {
                Ok(b) => b,
                Err(e) => return self.fail(e, Val::Bool(false)),
            };
            match (op, b) {
                (LogicOp::And, false) => return Val::Bool(false),
                (LogicOp::Or, true) => return Val::Bool(true),
                (LogicOp::Xor, _) => acc ^= b,
                _ => {}
            }
        }
        Val::Bool(match op {
            LogicOp::And => true,
            LogicOp::Or => false,
            LogicOp::Xor => acc,
        })
    }

    fn call(&mut self, f: Func, args: &'a [Node]) -> Val<'a> {
        let mark = self.mark();
        if f.is_variadic() {
            return self.concat(f, args, mark);
        }
        if let [arg] = args {
            // One argument, the common case: no argument array.
            let v = self.eval(arg);
            if self.failed(mark) {
                return f.returns().zero();
            }
            let v = match f.param(0) {
                None => v,
                Some(ty) => match v.cast(ty) {
                    Ok(v) => v,
                    Err(e) => return self.fail(e, f.returns().zero()),
                },
            };
            return match f.apply1(v) {
                Ok(v) => v,
                Err((v, e)) => self.fail(e, v),
            };
        }
        let mut vals = [Val::Bool(false), Val::Bool(false), Val::Bool(false)];
        for (i, (arg, slot)) in args.iter().zip(vals.iter_mut()).enumerate() {
            let v = self.eval(arg);
            if self.failed(mark) {
                continue;
            }
            *slot = match f.param(i) {
                None => v,
                Some(ty) => match v.cast(ty) {
                    Ok(v) => v,
                    Err(e) => {
                        self.errors.push(e);
                        continue;
                    }
                },
            };
        }
        debug_assert!(args.len() <= MAX_FIXED_ARITY);
        if self.failed(mark) {
            return f.returns().zero();
        }
        match f.apply(vals) {
            Ok(v) => v,
            Err((v, e)) => self.fail(e, v),
        }
    }

    /// `CONCAT(x…)` and `CONCAT_WS(sep, x…)`, built as the arguments are read.
    fn concat(&mut self, f: Func, args: &'a [Node], mark: usize) -> Val<'a> {
        let (sep, items) = match (f, args.split_first()) {
            (Func::ConcatWs, Some((sep, items))) => (Some(self.eval(sep).into_str()), items),
            _ => (None, args),
        };
        if let ([only], false) = (items, self.failed(mark)) {
            let v = self.eval(only);
            return if self.failed(mark) {
                CesqlType::String.zero()
            } else {
                Val::Str(v.into_str())
            };
        }
        let mut out = String::new();
        for (i, item) in items.iter().enumerate() {
            let v = self.eval(item);
            if self.failed(mark) {
                continue;
            }
            if let (Some(sep), true) = (&sep, i > 0) {
                out.push_str(sep);
            }
            out.push_str(&v.into_str());
        }
        if self.failed(mark) {
            return CesqlType::String.zero();
        }
        Val::Str(Cow::Owned(out))
    }
}

fn ord<T: PartialOrd>(op: OrdOp, x: T, y: T) -> bool {
    match op {
        OrdOp::Lt => x < y,
        OrdOp::Le => x <= y,
        OrdOp::Gt => x > y,
        OrdOp::Ge => x >= y,
    }
}
