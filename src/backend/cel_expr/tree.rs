//! A typed CEL expression tree, rendered with the parentheses CEL's grammar requires (issue
//! #17 §2.3): expressions are composed as trees, never by pasting strings, so an operator can
//! never bind to less than what it was applied to (`!` to a string, `&&` to half a ternary).
//!
//! [`Expr::check`] infers each node's type (literals, relations yield `bool`, macros, …) and
//! refuses what the API server's type checker refuses: `!`, `&&`, `||` and a ternary's
//! condition on a non-`bool`, `+` on different types, `has()` on anything but a field
//! selection, ternary arms of different types. Every expression written out goes through
//! [`Expr::render_bool`] or [`Expr::render`], which check the tree in debug builds (the tests).
//!
//! Rendering: the precedence levels of CEL, loosest first, are `?:`, `||`, `&&`, relations
//! (`==`, `!=`, `<`, `<=`, `>`, `>=`, `in`), `+`, unary `!`/`-`, then members (selection,
//! call, index, literals). An operand is parenthesised when it binds more loosely than its
//! place allows; besides, an `&&` operand of `||` is parenthesised for readers. String
//! literals are escaped by [`super::cel_string`].

use std::fmt;

/// A macro over a list (or a map's keys): `recv.<kind>(var, body)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroKind {
    All,
    Exists,
    Filter,
    Map,
}

impl MacroKind {
    fn name(self) -> &'static str {
        match self {
            MacroKind::All => "all",
            MacroKind::Exists => "exists",
            MacroKind::Filter => "filter",
            MacroKind::Map => "map",
        }
    }
}

/// A binary operator other than `&&`/`||`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
        }
    }
}

/// A CEL expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Bool(bool),
    Int(i64),
    /// A string literal (escaped when rendered).
    Str(String),
    /// A variable: `object`, `variables`, a macro's variable (`c`, `v`, …).
    Ident(String),
    /// `recv.name`.
    Field(Box<Expr>, String),
    /// `has(recv.name)`: only over a [`Expr::Field`].
    Has(Box<Expr>),
    /// `recv[key]`.
    Index(Box<Expr>, Box<Expr>),
    /// A global function: `size(x)`, `string(x)`, `jsonpatch.escapeKey(x)`.
    Call(String, Vec<Expr>),
    /// A receiver-style function: `s.startsWith(p)`, `l.indexOf(x)`.
    Method(Box<Expr>, String, Vec<Expr>),
    /// `recv.all(var, body)` and the other macros.
    Macro(Box<Expr>, MacroKind, String, Box<Expr>),
    /// `!x`, `x` a `bool`.
    Not(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `a && b && …` (at least two operands; see [`and`]).
    And(Vec<Expr>),
    /// `a || b || …` (at least two operands; see [`or`]).
    Or(Vec<Expr>),
    /// `c ? t : e`.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    /// A map literal `{k: v, …}`.
    Map(Vec<(Expr, Expr)>),
    /// A typed object literal `Type{field: v, …}` (`Object.spec{…}`, `JSONPatch{…}`).
    Struct(String, Vec<(String, Expr)>),
}

/// The type [`Expr::check`] infers: concrete where the tree says, `Dyn` for what is read from
/// the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int,
    String,
    List,
    Map,
    Object,
    Dyn,
}

impl Ty {
    fn is(self, want: Ty) -> bool {
        self == want || self == Ty::Dyn
    }
}

/// A type error in a tree: what is wrong, and the expression it is wrong in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    pub message: String,
    pub at: String,
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in `{}`", self.message, self.at)
    }
}

impl std::error::Error for TypeError {}

// Precedence levels (loosest first).
const COND: u8 = 0;
const OR: u8 = 1;
const AND: u8 = 2;
const REL: u8 = 3;
const ADD: u8 = 4;
const UNARY: u8 = 5;
const MEMBER: u8 = 6;

/// An identifier (`object`, `c`).
pub fn ident(name: &str) -> Expr {
    Expr::Ident(name.to_string())
}

/// A string literal.
pub fn str_lit(s: &str) -> Expr {
    Expr::Str(s.to_string())
}

/// A list of string literals.
pub fn str_list<S: AsRef<str>>(items: &[S]) -> Expr {
    Expr::List(items.iter().map(|s| str_lit(s.as_ref())).collect())
}

/// `a && b && …`: nested conjunctions flattened, `true` operands dropped (`true` when none is
/// left).
pub fn and(parts: Vec<Expr>) -> Expr {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Expr::Bool(true) => {}
            Expr::And(inner) => out.extend(inner),
            p => out.push(p),
        }
    }
    match out.len() {
        0 => Expr::Bool(true),
        1 => out.pop().unwrap_or(Expr::Bool(true)),
        _ => Expr::And(out),
    }
}

/// `a || b || …`: nested disjunctions flattened (`false` when there is no operand).
pub fn or(parts: Vec<Expr>) -> Expr {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Expr::Or(inner) => out.extend(inner),
            p => out.push(p),
        }
    }
    match out.len() {
        0 => Expr::Bool(false),
        1 => out.pop().unwrap_or(Expr::Bool(false)),
        _ => Expr::Or(out),
    }
}

/// `c ? t : e`.
pub fn cond(c: Expr, t: Expr, e: Expr) -> Expr {
    Expr::Cond(Box::new(c), Box::new(t), Box::new(e))
}

/// A global function call.
pub fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call(name.to_string(), args)
}

/// A typed object literal.
pub fn object(ty: &str, fields: Vec<(&str, Expr)>) -> Expr {
    Expr::Struct(
        ty.to_string(),
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// `x1 + x2 + …` (left to right).
pub fn sum(parts: Vec<Expr>) -> Expr {
    let mut it = parts.into_iter();
    let first = it.next().unwrap_or(Expr::List(vec![]));
    it.fold(first, |acc, p| acc.add(p))
}

impl From<bool> for Expr {
    fn from(b: bool) -> Expr {
        Expr::Bool(b)
    }
}

impl From<i64> for Expr {
    fn from(i: i64) -> Expr {
        Expr::Int(i)
    }
}

impl Expr {
    /// `self.name`.
    pub fn field(self, name: &str) -> Expr {
        Expr::Field(Box::new(self), name.to_string())
    }

    /// `self.a.b.…`.
    pub fn path(self, path: &[&str]) -> Expr {
        path.iter().fold(self, |e, p| e.field(p))
    }

    /// `has(self)`; `self` is a field selection.
    pub fn has(self) -> Expr {
        debug_assert!(
            matches!(self, Expr::Field(..)),
            "has() over a non-selection: {self}"
        );
        Expr::Has(Box::new(self))
    }

    /// `self[key]`.
    pub fn index(self, key: Expr) -> Expr {
        Expr::Index(Box::new(self), Box::new(key))
    }

    pub fn method(self, name: &str, args: Vec<Expr>) -> Expr {
        Expr::Method(Box::new(self), name.to_string(), args)
    }

    pub fn starts_with(self, prefix: Expr) -> Expr {
        self.method("startsWith", vec![prefix])
    }

    fn macro_(self, kind: MacroKind, var: &str, body: Expr) -> Expr {
        Expr::Macro(Box::new(self), kind, var.to_string(), Box::new(body))
    }

    pub fn all(self, var: &str, body: Expr) -> Expr {
        self.macro_(MacroKind::All, var, body)
    }

    pub fn exists(self, var: &str, body: Expr) -> Expr {
        self.macro_(MacroKind::Exists, var, body)
    }

    pub fn filter(self, var: &str, body: Expr) -> Expr {
        self.macro_(MacroKind::Filter, var, body)
    }

    pub fn map(self, var: &str, body: Expr) -> Expr {
        self.macro_(MacroKind::Map, var, body)
    }

    /// `!self` (`true`/`false` literals folded); `self` is a `bool` expression (checked in
    /// debug builds; see [`Expr::try_not`]).
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        if cfg!(debug_assertions) {
            return self
                .try_not()
                .unwrap_or_else(|e| panic!("`!` over a non-bool expression: {e}"));
        }
        Expr::negate(self)
    }

    /// `!self`, or the type error when `self` is not a `bool` expression.
    pub fn try_not(self) -> Result<Expr, TypeError> {
        match self.check()? {
            Ty::Bool | Ty::Dyn => Ok(Expr::negate(self)),
            t => Err(TypeError {
                message: format!("`!` needs a bool, not {t:?}"),
                at: self.to_string(),
            }),
        }
    }

    fn negate(self) -> Expr {
        match self {
            Expr::Bool(b) => Expr::Bool(!b),
            e => Expr::Not(Box::new(e)),
        }
    }

    fn bin(self, op: BinOp, other: Expr) -> Expr {
        Expr::Binary(op, Box::new(self), Box::new(other))
    }

    pub fn eq(self, other: impl Into<Expr>) -> Expr {
        self.bin(BinOp::Eq, other.into())
    }

    pub fn ne(self, other: impl Into<Expr>) -> Expr {
        self.bin(BinOp::Ne, other.into())
    }

    pub fn lt(self, other: impl Into<Expr>) -> Expr {
        self.bin(BinOp::Lt, other.into())
    }

    pub fn le(self, other: impl Into<Expr>) -> Expr {
        self.bin(BinOp::Le, other.into())
    }

    pub fn gt(self, other: impl Into<Expr>) -> Expr {
        self.bin(BinOp::Gt, other.into())
    }

    pub fn ge(self, other: impl Into<Expr>) -> Expr {
        self.bin(BinOp::Ge, other.into())
    }

    /// `self in other`.
    pub fn in_(self, other: Expr) -> Expr {
        self.bin(BinOp::In, other)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Expr) -> Expr {
        self.bin(BinOp::Add, other)
    }

    /// `self`, with every `from` subtree replaced by `to`.
    pub fn replace(&self, from: &Expr, to: &Expr) -> Expr {
        if self == from {
            return to.clone();
        }
        let r = |e: &Expr| Box::new(e.replace(from, to));
        let all = |v: &[Expr]| v.iter().map(|e| e.replace(from, to)).collect();
        match self {
            Expr::Bool(_) | Expr::Int(_) | Expr::Str(_) | Expr::Ident(_) => self.clone(),
            Expr::Field(e, n) => Expr::Field(r(e), n.clone()),
            Expr::Has(e) => Expr::Has(r(e)),
            Expr::Index(e, k) => Expr::Index(r(e), r(k)),
            Expr::Call(n, a) => Expr::Call(n.clone(), all(a)),
            Expr::Method(e, n, a) => Expr::Method(r(e), n.clone(), all(a)),
            Expr::Macro(e, k, v, b) => Expr::Macro(r(e), *k, v.clone(), r(b)),
            Expr::Not(e) => Expr::Not(r(e)),
            Expr::Binary(op, a, b) => Expr::Binary(*op, r(a), r(b)),
            Expr::And(v) => Expr::And(all(v)),
            Expr::Or(v) => Expr::Or(all(v)),
            Expr::Cond(c, t, e) => Expr::Cond(r(c), r(t), r(e)),
            Expr::List(v) => Expr::List(all(v)),
            Expr::Map(v) => Expr::Map(
                v.iter()
                    .map(|(k, x)| (k.replace(from, to), x.replace(from, to)))
                    .collect(),
            ),
            Expr::Struct(n, v) => Expr::Struct(
                n.clone(),
                v.iter()
                    .map(|(k, x)| (k.clone(), x.replace(from, to)))
                    .collect(),
            ),
        }
    }

    /// How tightly the node binds (its precedence level).
    fn level(&self) -> u8 {
        match self {
            Expr::Cond(..) => COND,
            Expr::Or(_) => OR,
            Expr::And(_) => AND,
            Expr::Binary(BinOp::Add, ..) => ADD,
            Expr::Binary(..) => REL,
            Expr::Not(_) => UNARY,
            Expr::Int(i) if *i < 0 => UNARY,
            _ => MEMBER,
        }
    }

    fn write(&self, out: &mut String, min: u8) {
        let paren = self.level() < min;
        if paren {
            out.push('(');
        }
        let list = |out: &mut String, items: &[Expr]| {
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                e.write(out, COND);
            }
        };
        match self {
            Expr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Expr::Int(i) => out.push_str(&i.to_string()),
            Expr::Str(s) => out.push_str(&super::cel_string(s)),
            Expr::Ident(n) => out.push_str(n),
            Expr::Field(e, n) => {
                e.write(out, MEMBER);
                out.push('.');
                out.push_str(n);
            }
            Expr::Has(e) => {
                out.push_str("has(");
                e.write(out, COND);
                out.push(')');
            }
            Expr::Index(e, k) => {
                e.write(out, MEMBER);
                out.push('[');
                k.write(out, COND);
                out.push(']');
            }
            Expr::Call(n, args) => {
                out.push_str(n);
                out.push('(');
                list(out, args);
                out.push(')');
            }
            Expr::Method(e, n, args) => {
                e.write(out, MEMBER);
                out.push('.');
                out.push_str(n);
                out.push('(');
                list(out, args);
                out.push(')');
            }
            Expr::Macro(e, k, v, body) => {
                e.write(out, MEMBER);
                out.push('.');
                out.push_str(k.name());
                out.push('(');
                out.push_str(v);
                out.push_str(", ");
                body.write(out, COND);
                out.push(')');
            }
            Expr::Not(e) => {
                out.push('!');
                e.write(out, MEMBER);
            }
            Expr::Binary(op, a, b) => {
                let (l, r) = if *op == BinOp::Add {
                    (ADD, UNARY)
                } else {
                    (ADD, ADD)
                };
                a.write(out, l);
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
                b.write(out, r);
            }
            Expr::And(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" && ");
                    }
                    e.write(out, REL);
                }
            }
            Expr::Or(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" || ");
                    }
                    // `&&` binds tighter, but readers should not have to know.
                    e.write(out, REL);
                }
            }
            Expr::Cond(c, t, e) => {
                c.write(out, OR);
                out.push_str(" ? ");
                t.write(out, OR);
                out.push_str(" : ");
                e.write(out, COND);
            }
            Expr::List(v) => {
                out.push('[');
                list(out, v);
                out.push(']');
            }
            Expr::Map(v) => {
                out.push('{');
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write(out, COND);
                    out.push_str(": ");
                    x.write(out, COND);
                }
                out.push('}');
            }
            Expr::Struct(n, v) => {
                out.push_str(n);
                out.push('{');
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    x.write(out, COND);
                }
                out.push('}');
            }
        }
        if paren {
            out.push(')');
        }
    }

    /// The expression's type, or the first type error in it.
    pub fn check(&self) -> Result<Ty, TypeError> {
        let err = |m: String| TypeError {
            message: m,
            at: self.to_string(),
        };
        let want_bool = |e: &Expr, what: &str| -> Result<(), TypeError> {
            let t = e.check()?;
            if t.is(Ty::Bool) {
                Ok(())
            } else {
                Err(err(format!("{what} needs a bool, not {t:?} (`{e}`)")))
            }
        };
        Ok(match self {
            Expr::Bool(_) => Ty::Bool,
            Expr::Int(_) => Ty::Int,
            Expr::Str(_) => Ty::String,
            Expr::Ident(_) => Ty::Dyn,
            Expr::Field(e, _) => match e.check()? {
                Ty::Dyn | Ty::Map | Ty::Object => Ty::Dyn,
                t => return Err(err(format!("field selection on {t:?}"))),
            },
            Expr::Has(e) => {
                if !matches!(**e, Expr::Field(..)) {
                    return Err(err("has() needs a field selection".into()));
                }
                e.check()?;
                Ty::Bool
            }
            Expr::Index(e, k) => {
                k.check()?;
                match e.check()? {
                    Ty::Dyn | Ty::Map | Ty::List => Ty::Dyn,
                    t => return Err(err(format!("index on {t:?}"))),
                }
            }
            Expr::Call(n, args) => {
                let ts = args
                    .iter()
                    .map(Expr::check)
                    .collect::<Result<Vec<_>, _>>()?;
                match (n.as_str(), ts.as_slice()) {
                    ("size", [Ty::Dyn | Ty::List | Ty::Map | Ty::String]) => Ty::Int,
                    ("string", [_]) => Ty::String,
                    ("jsonpatch.escapeKey", [t]) if t.is(Ty::String) => Ty::String,
                    // A Kubewarden policy group's member (`psp0_privileged()`).
                    (n, []) if !matches!(n, "size" | "string" | "jsonpatch.escapeKey") => Ty::Dyn,
                    _ => return Err(err(format!("no overload {n}({ts:?})"))),
                }
            }
            Expr::Method(e, n, args) => {
                let r = e.check()?;
                let ts = args
                    .iter()
                    .map(Expr::check)
                    .collect::<Result<Vec<_>, _>>()?;
                match (n.as_str(), ts.as_slice()) {
                    ("startsWith" | "endsWith" | "contains", [t])
                        if r.is(Ty::String) && t.is(Ty::String) =>
                    {
                        Ty::Bool
                    }
                    ("indexOf", [_]) if r.is(Ty::List) => Ty::Int,
                    _ => return Err(err(format!("no overload {r:?}.{n}({ts:?})"))),
                }
            }
            Expr::Macro(e, k, _, body) => {
                let r = e.check()?;
                if !matches!(r, Ty::Dyn | Ty::List | Ty::Map) {
                    return Err(err(format!("{} over {r:?}", k.name())));
                }
                match k {
                    MacroKind::All | MacroKind::Exists => {
                        want_bool(body, k.name())?;
                        Ty::Bool
                    }
                    MacroKind::Filter => {
                        want_bool(body, "filter")?;
                        Ty::List
                    }
                    MacroKind::Map => {
                        body.check()?;
                        Ty::List
                    }
                }
            }
            Expr::Not(e) => {
                want_bool(e, "`!`")?;
                Ty::Bool
            }
            Expr::And(v) | Expr::Or(v) => {
                for e in v {
                    want_bool(e, "`&&`/`||`")?;
                }
                Ty::Bool
            }
            Expr::Binary(op, a, b) => {
                let (ta, tb) = (a.check()?, b.check()?);
                let same = ta == tb || ta == Ty::Dyn || tb == Ty::Dyn;
                match op {
                    BinOp::Eq | BinOp::Ne if same => Ty::Bool,
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
                        if same && ta != Ty::Bool && tb != Ty::Bool =>
                    {
                        Ty::Bool
                    }
                    BinOp::In if matches!(tb, Ty::Dyn | Ty::List | Ty::Map) => Ty::Bool,
                    BinOp::Add
                        if same && matches!(ta, Ty::Dyn | Ty::Int | Ty::String | Ty::List) =>
                    {
                        if ta == Ty::Dyn { tb } else { ta }
                    }
                    _ => return Err(err(format!("no overload {ta:?} {} {tb:?}", op.symbol()))),
                }
            }
            Expr::Cond(c, t, e) => {
                want_bool(c, "a ternary's condition")?;
                let (tt, te) = (t.check()?, e.check()?);
                match (tt, te) {
                    (a, b) if a == b => a,
                    (Ty::Dyn, b) => b,
                    (a, Ty::Dyn) => a,
                    (a, b) => {
                        return Err(err(format!("ternary arms of different types {a:?}, {b:?}")));
                    }
                }
            }
            Expr::List(v) => {
                for e in v {
                    e.check()?;
                }
                Ty::List
            }
            Expr::Map(v) => {
                for (k, x) in v {
                    k.check()?;
                    x.check()?;
                }
                Ty::Map
            }
            Expr::Struct(_, v) => {
                for (_, x) in v {
                    x.check()?;
                }
                Ty::Object
            }
        })
    }

    /// The CEL text (checked in debug builds).
    pub fn render(&self) -> String {
        debug_assert!(self.check().is_ok(), "{:?}", self.check());
        self.to_string()
    }

    /// The CEL text of a `bool` expression (a validation, a condition; checked in debug
    /// builds).
    pub fn render_bool(&self) -> String {
        debug_assert!(
            self.check().is_ok_and(|t| t.is(Ty::Bool)),
            "not a bool expression: {:?} ({self})",
            self.check()
        );
        self.to_string()
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s, COND);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> Expr {
        ident("c")
    }

    #[test]
    fn parenthesises_by_precedence() {
        let a = c().field("a").has();
        let b = c().field("b").eq(1);
        let x = c().field("x").eq(str_lit("y"));
        assert_eq!(
            or(vec![and(vec![a.clone(), b.clone()]), x.clone()]).to_string(),
            "(has(c.a) && c.b == 1) || c.x == 'y'"
        );
        assert_eq!(
            and(vec![or(vec![a.clone(), b.clone()]), x.clone()]).to_string(),
            "(has(c.a) || c.b == 1) && c.x == 'y'"
        );
        assert_eq!(
            and(vec![a.clone(), b.clone()]).not().to_string(),
            "!(has(c.a) && c.b == 1)"
        );
        assert_eq!(a.clone().not().to_string(), "!has(c.a)");
        assert_eq!(
            cond(a.clone(), b.clone(), x.clone()).not().to_string(),
            "!(has(c.a) ? c.b == 1 : c.x == 'y')"
        );
        // Ternaries: the else arm chains, the condition and the then arm do not.
        let t = cond(
            a.clone(),
            cond(b.clone(), true.into(), false.into()),
            cond(x.clone(), true.into(), false.into()),
        );
        assert_eq!(
            t.to_string(),
            "has(c.a) ? (c.b == 1 ? true : false) : c.x == 'y' ? true : false"
        );
        assert_eq!(
            and(vec![t.clone(), a.clone()]).to_string(),
            "(has(c.a) ? (c.b == 1 ? true : false) : c.x == 'y' ? true : false) && has(c.a)"
        );
        // `+` is left-associative; a relation as an operand of a relation is grouped.
        let s = str_lit("p").add(str_lit("q").add(c().field("name")));
        assert_eq!(s.to_string(), "'p' + ('q' + c.name)");
        assert_eq!(
            cond(a.clone(), str_lit("u"), str_lit("v"))
                .eq(str_lit("u"))
                .to_string(),
            "(has(c.a) ? 'u' : 'v') == 'u'"
        );
        assert_eq!(b.clone().eq(true).to_string(), "(c.b == 1) == true");
        // Members bind tightest.
        assert_eq!(
            s.starts_with(str_lit("x")).to_string(),
            "('p' + ('q' + c.name)).startsWith('x')"
        );
        assert_eq!(
            and(vec![
                true.into(),
                a.clone(),
                and(vec![b.clone(), x.clone()])
            ])
            .to_string(),
            "has(c.a) && c.b == 1 && c.x == 'y'"
        );
        assert_eq!(and(vec![]).to_string(), "true");
        assert_eq!(or(vec![]).to_string(), "false");
        assert_eq!(str_lit("it's").to_string(), "'it\\'s'");
    }

    /// Issue #17 §2.3: `add.all(a, !a == 'ALL')` applied `!` to a string. In a tree `!` is
    /// over the whole comparison, and a `!` over a string is a type error.
    #[test]
    fn not_over_a_string_is_refused() {
        let good = c()
            .field("add")
            .all("a", ident("a").eq(str_lit("ALL")).not());
        assert_eq!(good.to_string(), "c.add.all(a, !(a == 'ALL'))");
        assert_eq!(good.check(), Ok(Ty::Bool));
        let bad = Expr::Not(Box::new(str_lit("ALL"))).eq(str_lit("ALL"));
        let e = bad.check().unwrap_err();
        assert!(e.message.contains("`!` needs a bool"), "{e}");
        let bad = c().field("add").all("a", bad);
        assert!(bad.check().is_err());
        // Built through the constructor, it does not get that far.
        let e = str_lit("ALL").try_not().unwrap_err();
        assert!(e.message.contains("`!` needs a bool"), "{e}");
    }

    #[test]
    fn type_errors() {
        let bad = [
            and(vec![c().field("a").has(), str_lit("x")]),
            cond(Expr::Int(1), true.into(), false.into()),
            cond(c().field("a").has(), Expr::Int(1), str_lit("x")),
            Expr::Int(1).add(str_lit("x")),
            Expr::Has(Box::new(ident("c"))),
            Expr::Int(1).in_(str_lit("x")),
            str_lit("x").starts_with(Expr::Int(1)),
            str_list(&["a"]).all("x", str_lit("y")),
        ];
        for b in bad {
            assert!(b.check().is_err(), "{b}");
        }
        let good = cond(c().field("t").has(), c().field("t"), str_lit("")).eq(str_lit("x"));
        assert_eq!(good.check(), Ok(Ty::Bool));
    }
}
