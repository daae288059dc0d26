//! The parser: text to [`Module`]s and [`Func`]s, driven by the op table.
//!
//! Ops and attribute names are looked up in [`OP_DEFS`]; attribute values are
//! read by syntax and then checked against the kind the table gives; result
//! types are inferred with [`Func::push_at`] and compared with the written
//! ones. Every error is a [`ParseError`] located at the token that caused it.

use super::lexer::{Lexer, Tok, Token};
use super::ParseError;
use crate::attr::{Attr, AttrKind, Attrs};
use crate::dtype::DType;
use crate::func::{Func, Loc, Module, Value};
use crate::literal::Literal;
use crate::ops::{attr_name, OpDef, Opcode, OP_DEFS};
use crate::types::TensorType;
use half::{bf16, f16};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Deepest nesting of `[` accepted (a guard against stack exhaustion).
const MAX_NESTING: usize = 64;
/// Largest splat literal (`dense<0.0> : tensor<...>`) the parser materializes.
const MAX_SPLAT_BYTES: usize = 1 << 30;

/// Parses a whole file: either one `module [attributes {...}] { func... }` or
/// any number of bare functions.
pub fn parse_module(src: &str) -> Result<Module, ParseError> {
    let mut p = Parser::new(src);
    let mut m = Module::default();
    if p.peek_is_word("module")? {
        p.bump()?;
        if p.peek_is_word("attributes")? {
            p.bump()?;
            m.attrs = p.named_attr_dict()?;
        }
        p.expect(&Tok::LBrace, "expected `{` to open the module body")?;
        loop {
            if p.peek()?.tok == Tok::RBrace {
                p.bump()?;
                break;
            }
            m.funcs.push(p.func()?);
        }
        p.expect(&Tok::Eof, "expected end of input after the module")?;
    } else {
        loop {
            let t = p.peek()?;
            match &t.tok {
                Tok::Eof => break,
                Tok::Ident(w) if w == "func" => m.funcs.push(p.func()?),
                other => {
                    let msg = format!("expected `func` or `module`, found {}", other.describe());
                    return Err(err_at(t, msg));
                }
            }
        }
    }
    Ok(m)
}

/// Parses exactly one function.
pub fn parse_func(src: &str) -> Result<Func, ParseError> {
    let mut p = Parser::new(src);
    let f = p.func()?;
    p.expect(&Tok::Eof, "expected end of input after the function")?;
    Ok(f)
}

/// Op lookup by name through an index of [`crate::ops::OP_DEFS`], built once.
fn lookup_op(name: &str) -> Option<Opcode> {
    static INDEX: OnceLock<HashMap<&'static str, Opcode>> = OnceLock::new();
    INDEX
        .get_or_init(|| OP_DEFS.iter().map(|d| (d.name, d.opcode)).collect())
        .get(name)
        .copied()
}

fn err_at(t: &Token, message: impl Into<String>) -> ParseError {
    ParseError::new(t.line, t.col, message)
}

fn loc_of(t: &Token) -> Loc {
    Loc::new(t.line, t.col)
}

/// An attribute value as written, before its kind is checked.
#[derive(Debug)]
enum Raw {
    Bool(bool),
    Int(String),
    Float(String),
    Str(String),
    Word(String),
    List(Vec<(Raw, Token)>),
    Dense(Literal),
}

impl Raw {
    fn describe(&self) -> String {
        match self {
            Raw::Bool(_) => "a bool".into(),
            Raw::Int(_) => "an int".into(),
            Raw::Float(_) => "a float".into(),
            Raw::Str(_) => "a string".into(),
            Raw::Word(w) if DType::from_name(w).is_some() => "a dtype".into(),
            Raw::Word(w) => format!("the word `{w}`"),
            Raw::List(items) if items.iter().all(|(r, _)| matches!(r, Raw::Int(_))) => {
                "an int list".into()
            }
            Raw::List(_) => "a list of non-integers".into(),
            Raw::Dense(_) => "a dense tensor".into(),
        }
    }
}

/// One element of a dense literal as written: a leaf token or a bracketed list.
enum Elem {
    Leaf(Token),
    List(Vec<Elem>, Token),
}

struct Parser {
    lex: Lexer,
    peeked: Option<Token>,
}

impl Parser {
    fn new(src: &str) -> Self {
        Parser {
            lex: Lexer::new(src),
            peeked: None,
        }
    }

    fn peek(&mut self) -> Result<&Token, ParseError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lex.next_token()?);
        }
        match &self.peeked {
            Some(t) => Ok(t),
            None => Err(ParseError::new(0, 0, "internal: no token")),
        }
    }

    fn bump(&mut self) -> Result<Token, ParseError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex.next_token(),
        }
    }

    fn peek_is_word(&mut self, w: &str) -> Result<bool, ParseError> {
        Ok(matches!(&self.peek()?.tok, Tok::Ident(s) if s == w))
    }

    /// Consumes `want` or fails with "`expected`, found X".
    fn expect(&mut self, want: &Tok, expected: &str) -> Result<Token, ParseError> {
        let t = self.bump()?;
        if &t.tok == want {
            Ok(t)
        } else {
            Err(err_at(
                &t,
                format!("{expected}, found {}", t.tok.describe()),
            ))
        }
    }

    fn expect_word(&mut self, w: &str, expected: &str) -> Result<Token, ParseError> {
        let t = self.bump()?;
        match &t.tok {
            Tok::Ident(s) if s == w => Ok(t),
            other => Err(err_at(
                &t,
                format!("{expected}, found {}", other.describe()),
            )),
        }
    }

    // ---- types ----

    /// `tensor<2x?x3xf32>`
    fn tensor_type(&mut self) -> Result<(TensorType, Token), ParseError> {
        let t = self.expect_word("tensor", "expected a tensor type (`tensor<...>`)")?;
        if self.lex.peek_char() != Some('<') {
            let (line, col) = self.lex.loc();
            return Err(ParseError::new(
                line,
                col,
                "expected `<` right after `tensor`",
            ));
        }
        self.lex.bump_char();
        let body = self.lex.lex_type_body()?;
        let (dims, dtype_name, (line, col)) = (body.dims, body.dtype, body.dtype_loc);
        let dtype = DType::from_name(&dtype_name).ok_or_else(|| {
            ParseError::new(
                line,
                col,
                format!(
                    "unknown dtype `{dtype_name}`: expected one of {}",
                    DType::ALL.map(DType::name).join(", ")
                ),
            )
        })?;
        Ok((TensorType::new(dtype, dims), t))
    }

    // ---- functions ----

    fn func(&mut self) -> Result<Func, ParseError> {
        self.expect_word("func", "expected `func`")?;
        let t = self.bump()?;
        let name = match &t.tok {
            Tok::Symbol(s) => s,
            other => {
                return Err(err_at(
                    &t,
                    format!(
                        "expected a function name (`@name`), found {}",
                        other.describe()
                    ),
                ))
            }
        };
        let mut f = Func::new(name, Vec::new());
        let mut scope: HashMap<String, Value> = HashMap::new();

        self.expect(&Tok::LParen, "expected `(` to open the parameter list")?;
        if self.peek()?.tok == Tok::RParen {
            self.bump()?;
        } else {
            loop {
                let t = self.bump()?;
                let Tok::Value(pname) = &t.tok else {
                    return Err(err_at(
                        &t,
                        format!("expected a parameter (`%name`), found {}", t.tok.describe()),
                    ));
                };
                if scope.contains_key(pname) {
                    return Err(err_at(&t, format!("redefinition of value %{pname}")));
                }
                self.expect(
                    &Tok::Colon,
                    "expected `:` and a type after the parameter name",
                )?;
                let (ty, _) = self.tensor_type()?;
                let v = f.add_param(ty);
                scope.insert(pname.clone(), v);
                let t = self.bump()?;
                match &t.tok {
                    Tok::Comma => {}
                    Tok::RParen => break,
                    other => {
                        return Err(err_at(
                            &t,
                            format!(
                                "expected `,` or `)` in the parameter list, found {}",
                                other.describe()
                            ),
                        ))
                    }
                }
            }
        }

        self.expect(
            &Tok::Arrow,
            "expected `->` and result types after the parameters",
        )?;
        let mut sig_results = Vec::new();
        if self.peek()?.tok == Tok::LParen {
            self.bump()?;
            if self.peek()?.tok == Tok::RParen {
                self.bump()?;
            } else {
                loop {
                    sig_results.push(self.tensor_type()?.0);
                    let t = self.bump()?;
                    match &t.tok {
                        Tok::Comma => {}
                        Tok::RParen => break,
                        other => {
                            return Err(err_at(
                                &t,
                                format!(
                                    "expected `,` or `)` in the result types, found {}",
                                    other.describe()
                                ),
                            ))
                        }
                    }
                }
            }
        } else {
            sig_results.push(self.tensor_type()?.0);
        }

        if self.peek_is_word("attributes")? {
            self.bump()?;
            f.attrs = self.named_attr_dict()?;
        }
        self.expect(&Tok::LBrace, "expected `{` to open the function body")?;

        loop {
            let t = self.peek()?.clone();
            match &t.tok {
                Tok::Ident(w) if w == "return" => {
                    self.bump()?;
                    self.ret(&mut f, &scope, &sig_results, &t)?;
                    break;
                }
                Tok::Value(_) => self.op(&mut f, &mut scope)?,
                other => {
                    return Err(err_at(
                        &t,
                        format!(
                            "expected an op (`%name = ...`) or `return`, found {}",
                            other.describe()
                        ),
                    ))
                }
            }
        }
        self.expect(&Tok::RBrace, "expected `}` after `return`")?;
        Ok(f)
    }

    fn use_value(&self, t: &Token, scope: &HashMap<String, Value>) -> Result<Value, ParseError> {
        match &t.tok {
            Tok::Value(n) => scope
                .get(n)
                .copied()
                .ok_or_else(|| err_at(t, format!("use of undefined value %{n}"))),
            other => Err(err_at(
                t,
                format!("expected a value (`%name`), found {}", other.describe()),
            )),
        }
    }

    fn ret(
        &mut self,
        f: &mut Func,
        scope: &HashMap<String, Value>,
        sig: &[TensorType],
        ret_tok: &Token,
    ) -> Result<(), ParseError> {
        let mut vals = Vec::new();
        if matches!(self.peek()?.tok, Tok::Value(_)) {
            loop {
                let t = self.bump()?;
                vals.push((self.use_value(&t, scope)?, t));
                if self.peek()?.tok != Tok::Comma {
                    break;
                }
                self.bump()?;
            }
        }
        if vals.len() != sig.len() {
            return Err(err_at(
                ret_tok,
                format!(
                    "`return` gives {} values, but the signature of @{} declares {}",
                    vals.len(),
                    f.name,
                    sig.len()
                ),
            ));
        }
        for (i, ((v, t), want)) in vals.iter().zip(sig).enumerate() {
            let got = f.ty(*v);
            if got != want {
                return Err(err_at(
                    t,
                    format!("result {i} has type {got}, but the signature declares {want}"),
                ));
            }
        }
        f.results = vals.into_iter().map(|(v, _)| v).collect();
        Ok(())
    }

    /// `%a, %b = tensor.op %x, %y {attrs} : type, type`
    fn op(&mut self, f: &mut Func, scope: &mut HashMap<String, Value>) -> Result<(), ParseError> {
        let mut names: Vec<(String, Token)> = Vec::new();
        loop {
            let t = self.bump()?;
            let Tok::Value(n) = &t.tok else {
                return Err(err_at(
                    &t,
                    format!(
                        "expected a result name (`%name`), found {}",
                        t.tok.describe()
                    ),
                ));
            };
            if scope.contains_key(n) || names.iter().any(|(m, _)| m == n) {
                return Err(err_at(&t, format!("redefinition of value %{n}")));
            }
            names.push((n.clone(), t.clone()));
            let t = self.bump()?;
            match &t.tok {
                Tok::Comma => {}
                Tok::Equal => break,
                other => {
                    return Err(err_at(
                        &t,
                        format!(
                            "expected `,` or `=` after a result name, found {}",
                            other.describe()
                        ),
                    ))
                }
            }
        }

        let op_tok = self.bump()?;
        let opcode = match &op_tok.tok {
            Tok::Ident(n) => {
                lookup_op(n).ok_or_else(|| err_at(&op_tok, format!("unknown op `{n}`")))?
            }
            other => {
                return Err(err_at(
                    &op_tok,
                    format!(
                        "expected an op name (`tensor.add`), found {}",
                        other.describe()
                    ),
                ))
            }
        };
        let def = opcode.def();

        let mut operands = Vec::new();
        if matches!(self.peek()?.tok, Tok::Value(_)) {
            loop {
                let t = self.bump()?;
                operands.push(self.use_value(&t, scope)?);
                if self.peek()?.tok != Tok::Comma {
                    break;
                }
                self.bump()?;
            }
        }

        let mut attrs = Attrs::new();
        let had_attrs = self.peek()?.tok == Tok::LBrace;
        if had_attrs {
            attrs = self.op_attr_dict(def)?;
        }
        self.expect(
            &Tok::Colon,
            if had_attrs {
                "expected `:` after attributes"
            } else {
                "expected `:` after operands"
            },
        )?;
        let mut types = Vec::new();
        loop {
            types.push(self.tensor_type()?);
            if self.peek()?.tok != Tok::Comma {
                break;
            }
            self.bump()?;
        }
        if types.len() != names.len() {
            return Err(err_at(
                &types[0].1,
                format!(
                    "{} result names but {} result types written",
                    names.len(),
                    types.len()
                ),
            ));
        }

        let results = f
            .push_at(opcode, &operands, attrs, loc_of(&op_tok))
            .map_err(|e| err_at(&op_tok, e.message))?;
        if results.len() != names.len() {
            return Err(err_at(
                &names[0].1,
                format!(
                    "`{}` gives {} results here, but {} are named",
                    def.name,
                    results.len(),
                    names.len()
                ),
            ));
        }
        for (i, (&r, (want, t))) in results.iter().zip(&types).enumerate() {
            let got = f.ty(r);
            if got != want {
                return Err(err_at(
                    t,
                    format!(
                        "result {i} of `{}` has type {got}, but {want} is written",
                        def.name
                    ),
                ));
            }
        }
        for ((n, _), r) in names.into_iter().zip(results) {
            scope.insert(n, r);
        }
        Ok(())
    }

    // ---- attributes ----

    /// `{name = value, ...}` of an op, checked against its definition.
    fn op_attr_dict(&mut self, def: &'static OpDef) -> Result<Attrs, ParseError> {
        self.expect(&Tok::LBrace, "expected `{`")?;
        let mut attrs = Attrs::new();
        if self.peek()?.tok == Tok::RBrace {
            self.bump()?;
            return Ok(attrs);
        }
        loop {
            let t = self.bump()?;
            let Tok::Ident(n) = &t.tok else {
                return Err(err_at(
                    &t,
                    format!("expected an attribute name, found {}", t.tok.describe()),
                ));
            };
            let Some(name) = attr_name(def, n) else {
                let known: Vec<&str> = def.attrs.iter().map(|s| s.name).collect();
                let takes = if known.is_empty() {
                    "it takes none".to_string()
                } else {
                    format!("it takes {}", known.join(", "))
                };
                return Err(err_at(
                    &t,
                    format!("`{}` has no attribute `{n}` ({takes})", def.name),
                ));
            };
            if attrs.get(name).is_some() {
                return Err(err_at(&t, format!("duplicate attribute `{name}`")));
            }
            self.expect(&Tok::Equal, "expected `=` after the attribute name")?;
            let (raw, vt) = self.raw_value(0)?;
            let kind = def
                .attrs
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.kind)
                .unwrap_or(AttrKind::Int);
            let value = raw_to_kind(raw, kind, &vt, |found| {
                format!(
                    "attribute `{name}` of `{}` must be {}, found {found}",
                    def.name,
                    kind_article(kind)
                )
            })?;
            attrs.set(name, value);
            let t = self.bump()?;
            match &t.tok {
                Tok::Comma => {}
                Tok::RBrace => return Ok(attrs),
                other => {
                    return Err(err_at(
                        &t,
                        format!(
                            "expected `,` or `}}` in the attributes, found {}",
                            other.describe()
                        ),
                    ))
                }
            }
        }
    }

    /// `{name = value, ...}` of a function or module: kinds come from the syntax.
    fn named_attr_dict(&mut self) -> Result<Vec<(String, Attr)>, ParseError> {
        self.expect(&Tok::LBrace, "expected `{` to open the attributes")?;
        let mut out: Vec<(String, Attr)> = Vec::new();
        if self.peek()?.tok == Tok::RBrace {
            self.bump()?;
            return Ok(out);
        }
        loop {
            let t = self.bump()?;
            let name = match &t.tok {
                Tok::Ident(n) | Tok::Str(n) => n.clone(),
                other => {
                    return Err(err_at(
                        &t,
                        format!("expected an attribute name, found {}", other.describe()),
                    ))
                }
            };
            self.expect(&Tok::Equal, "expected `=` after the attribute name")?;
            let (raw, vt) = self.raw_value(0)?;
            let value = raw_to_any(raw, &vt)?;
            match out.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
                Ok(_) => return Err(err_at(&t, format!("duplicate attribute `{name}`"))),
                Err(i) => out.insert(i, (name, value)),
            }
            let t = self.bump()?;
            match &t.tok {
                Tok::Comma => {}
                Tok::RBrace => return Ok(out),
                other => {
                    return Err(err_at(
                        &t,
                        format!(
                            "expected `,` or `}}` in the attributes, found {}",
                            other.describe()
                        ),
                    ))
                }
            }
        }
    }

    /// An attribute value as written, with the token where it starts.
    fn raw_value(&mut self, depth: usize) -> Result<(Raw, Token), ParseError> {
        let t = self.bump()?;
        let raw = match &t.tok {
            Tok::Ident(w) if w == "true" => Raw::Bool(true),
            Tok::Ident(w) if w == "false" => Raw::Bool(false),
            Tok::Ident(w) if w == "nan" || w == "inf" => Raw::Float(w.clone()),
            Tok::Ident(w) if w == "dense" => Raw::Dense(self.dense_literal()?),
            Tok::Ident(w) => Raw::Word(w.clone()),
            Tok::Int(s) => Raw::Int(s.clone()),
            Tok::Float(s) => Raw::Float(s.clone()),
            Tok::Str(s) => Raw::Str(s.clone()),
            Tok::LBracket => {
                if depth >= MAX_NESTING {
                    return Err(err_at(&t, "lists are nested too deeply"));
                }
                let mut items = Vec::new();
                if self.peek()?.tok == Tok::RBracket {
                    self.bump()?;
                } else {
                    loop {
                        items.push(self.raw_value(depth + 1)?);
                        let c = self.bump()?;
                        match &c.tok {
                            Tok::Comma => {}
                            Tok::RBracket => break,
                            other => {
                                return Err(err_at(
                                    &c,
                                    format!(
                                        "expected `,` or `]` in a list, found {}",
                                        other.describe()
                                    ),
                                ))
                            }
                        }
                    }
                }
                Raw::List(items)
            }
            other => {
                return Err(err_at(
                    &t,
                    format!("expected an attribute value, found {}", other.describe()),
                ))
            }
        };
        Ok((raw, t))
    }

    // ---- dense literals ----

    /// After `dense`: `<[...]> : tensor<...>` or `<"0x..."> : tensor<...>`.
    fn dense_literal(&mut self) -> Result<Literal, ParseError> {
        self.expect(&Tok::Less, "expected `<` after `dense`")?;
        let body = if let Tok::Str(_) = self.peek()?.tok {
            let t = self.bump()?;
            Err(t)
        } else {
            Ok(self.elem(0)?)
        };
        self.expect(&Tok::Greater, "expected `>` to close the dense literal")?;
        self.expect(
            &Tok::Colon,
            "expected `:` and a tensor type after the dense literal",
        )?;
        let (ty, tt) = self.tensor_type()?;
        let Some(shape) = ty.static_shape() else {
            return Err(err_at(
                &tt,
                format!("a dense literal needs a static type, found {ty}"),
            ));
        };
        let Some(nbytes) = ty.num_bytes() else {
            return Err(err_at(&tt, format!("{ty} is too large")));
        };
        let dtype = ty.dtype;
        match body {
            Err(hex_tok) => {
                let Tok::Str(s) = &hex_tok.tok else {
                    return Err(err_at(&hex_tok, "expected a hex string"));
                };
                let bytes = parse_hex(s).map_err(|m| err_at(&hex_tok, m))?;
                if bytes.len() != nbytes {
                    return Err(err_at(
                        &hex_tok,
                        format!(
                            "hex literal has {} bytes, but {ty} needs {nbytes}",
                            bytes.len()
                        ),
                    ));
                }
                Literal::from_bytes(dtype, shape, bytes).map_err(|e| err_at(&hex_tok, e.0))
            }
            Ok(elem) => {
                let mut bytes = Vec::new();
                if let Elem::Leaf(t) = &elem {
                    if !shape.is_empty() {
                        // A splat: one element repeated to fill the type.
                        if nbytes > MAX_SPLAT_BYTES {
                            return Err(err_at(
                                t,
                                format!("splat literal of {ty} is too large to materialize"),
                            ));
                        }
                        push_leaf(&mut bytes, dtype, t)?;
                        let one = bytes.clone();
                        let n = ty.num_elements().unwrap_or(0);
                        bytes = one.repeat(n);
                        return Literal::from_bytes(dtype, shape, bytes)
                            .map_err(|e| err_at(t, e.0));
                    }
                }
                fill(&elem, &shape, 0, dtype, &mut bytes)?;
                Literal::from_bytes(dtype, shape, bytes).map_err(|e| err_at(&tt, e.0))
            }
        }
    }

    fn elem(&mut self, depth: usize) -> Result<Elem, ParseError> {
        let t = self.bump()?;
        match &t.tok {
            Tok::LBracket => {
                if depth >= MAX_NESTING {
                    return Err(err_at(&t, "dense literal is nested too deeply"));
                }
                let mut items = Vec::new();
                if self.peek()?.tok == Tok::RBracket {
                    self.bump()?;
                } else {
                    loop {
                        items.push(self.elem(depth + 1)?);
                        let c = self.bump()?;
                        match &c.tok {
                            Tok::Comma => {}
                            Tok::RBracket => break,
                            other => {
                                return Err(err_at(
                                    &c,
                                    format!(
                                        "expected `,` or `]` in a dense literal, found {}",
                                        other.describe()
                                    ),
                                ))
                            }
                        }
                    }
                }
                Ok(Elem::List(items, t))
            }
            Tok::Int(_) | Tok::Float(_) | Tok::Ident(_) => Ok(Elem::Leaf(t)),
            other => Err(err_at(
                &t,
                format!(
                    "expected a number, `true`, `false` or `[` in a dense literal, found {}",
                    other.describe()
                ),
            )),
        }
    }
}

fn kind_article(k: AttrKind) -> String {
    match k {
        AttrKind::Int => "an int".into(),
        AttrKind::Ints => "an int list".into(),
        other => format!("a {}", other.name()),
    }
}

/// Converts a written value to `kind`. A value of another kind gives the
/// message `wrong_kind` builds from a description of what was found.
fn raw_to_kind(
    raw: Raw,
    kind: AttrKind,
    t: &Token,
    wrong_kind: impl FnOnce(String) -> String,
) -> Result<Attr, ParseError> {
    match (kind, raw) {
        (AttrKind::Bool, Raw::Bool(b)) => Ok(Attr::Bool(b)),
        (AttrKind::Int, Raw::Int(s)) => parse_i64(&s, t).map(Attr::Int),
        (AttrKind::Float, Raw::Int(s) | Raw::Float(s)) => parse_f64(&s, t).map(Attr::Float),
        (AttrKind::Ints, Raw::List(items))
            if items.iter().all(|(r, _)| matches!(r, Raw::Int(_))) =>
        {
            let mut v = Vec::with_capacity(items.len());
            for (r, it) in &items {
                if let Raw::Int(s) = r {
                    v.push(parse_i64(s, it)?);
                }
            }
            Ok(Attr::Ints(v))
        }
        (AttrKind::Str, Raw::Str(s)) => Ok(Attr::Str(s)),
        (AttrKind::DType, Raw::Word(w)) => match DType::from_name(&w) {
            Some(d) => Ok(Attr::DType(d)),
            None => Err(err_at(t, format!("unknown dtype `{w}`"))),
        },
        (AttrKind::Dense, Raw::Dense(l)) => Ok(Attr::Dense(l)),
        (_, raw) => Err(err_at(t, wrong_kind(raw.describe()))),
    }
}

/// Converts a written value to the attribute its syntax names.
fn raw_to_any(raw: Raw, t: &Token) -> Result<Attr, ParseError> {
    let kind = match &raw {
        Raw::Bool(_) => AttrKind::Bool,
        Raw::Int(_) => AttrKind::Int,
        Raw::Float(_) => AttrKind::Float,
        Raw::Str(_) => AttrKind::Str,
        Raw::Word(_) => AttrKind::DType,
        Raw::List(_) => AttrKind::Ints,
        Raw::Dense(_) => AttrKind::Dense,
    };
    raw_to_kind(raw, kind, t, |found| {
        format!("expected an attribute value (bool, int, float, int list, string, dtype or dense tensor), found {found}")
    })
}

fn parse_i64(s: &str, t: &Token) -> Result<i64, ParseError> {
    s.parse::<i64>()
        .map_err(|_| err_at(t, format!("integer {s} does not fit in 64 bits")))
}

fn parse_f64(s: &str, t: &Token) -> Result<f64, ParseError> {
    s.parse::<f64>()
        .map_err(|_| err_at(t, format!("`{s}` is not a number")))
}

fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let body = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or("a hex literal starts with `0x`")?;
    if body.len() % 2 != 0 {
        return Err("a hex literal needs an even number of digits".into());
    }
    let digits: Vec<u8> = body.bytes().collect();
    digits
        .chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16);
            let lo = (p[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(format!(
                    "`{}` is not a hex byte",
                    String::from_utf8_lossy(p)
                )),
            }
        })
        .collect()
}

/// Appends the bytes of `elem` (which must have shape `shape[axis..]`).
fn fill(
    elem: &Elem,
    shape: &[usize],
    axis: usize,
    dtype: DType,
    out: &mut Vec<u8>,
) -> Result<(), ParseError> {
    match (shape.get(axis), elem) {
        (None, Elem::Leaf(t)) => push_leaf(out, dtype, t),
        (None, Elem::List(_, t)) => Err(err_at(
            t,
            format!(
                "expected a single element (the type has rank {}), found a list",
                shape.len()
            ),
        )),
        (Some(_), Elem::Leaf(t)) => Err(err_at(
            t,
            format!("expected a list for axis {axis}, found a single element"),
        )),
        (Some(&n), Elem::List(items, t)) => {
            if items.len() != n {
                return Err(err_at(
                    t,
                    format!(
                        "dense literal has {} elements along axis {axis}, but the type says {n}",
                        items.len()
                    ),
                ));
            }
            for it in items {
                fill(it, shape, axis + 1, dtype, out)?;
            }
            Ok(())
        }
    }
}

/// Appends one element written as `t`, converted to `dtype` exactly.
fn push_leaf(out: &mut Vec<u8>, dtype: DType, t: &Token) -> Result<(), ParseError> {
    let text = match &t.tok {
        Tok::Int(s) | Tok::Float(s) | Tok::Ident(s) => s.as_str(),
        other => {
            return Err(err_at(
                t,
                format!("expected an element, found {}", other.describe()),
            ))
        }
    };
    let is_int = matches!(t.tok, Tok::Int(_));
    let is_number = is_int
        || matches!(t.tok, Tok::Float(_))
        || matches!(&t.tok, Tok::Ident(w) if w == "nan" || w == "inf");
    match dtype {
        DType::Bool => match text {
            "true" => out.push(1),
            "false" => out.push(0),
            _ => {
                return Err(err_at(
                    t,
                    format!("expected `true` or `false` for a bool element, found `{text}`"),
                ))
            }
        },
        DType::C64 => {
            return Err(err_at(
                t,
                "c64 literals are written as hex bytes: dense<\"0x...\">",
            ))
        }
        d if d.is_integer() => {
            if !is_int {
                return Err(err_at(
                    t,
                    format!("expected an integer for an element of type {d}, found `{text}`"),
                ));
            }
            let v: i128 = text
                .parse()
                .map_err(|_| err_at(t, format!("integer {text} is out of range for {d}")))?;
            let (lo, hi): (i128, i128) = match d {
                DType::U8 => (0, u8::MAX as i128),
                DType::U16 => (0, u16::MAX as i128),
                DType::U32 => (0, u32::MAX as i128),
                DType::U64 => (0, u64::MAX as i128),
                DType::I8 => (i8::MIN as i128, i8::MAX as i128),
                DType::I16 => (i16::MIN as i128, i16::MAX as i128),
                DType::I32 => (i32::MIN as i128, i32::MAX as i128),
                _ => (i64::MIN as i128, i64::MAX as i128),
            };
            if v < lo || v > hi {
                return Err(err_at(t, format!("integer {text} is out of range for {d}")));
            }
            let le = v.to_le_bytes();
            out.extend_from_slice(&le[..d.size()]);
        }
        d => {
            if !is_number {
                return Err(err_at(
                    t,
                    format!("expected a number for an element of type {d}, found `{text}`"),
                ));
            }
            let bad = || err_at(t, format!("`{text}` is not a number"));
            match d {
                DType::F32 => out.extend(text.parse::<f32>().map_err(|_| bad())?.to_le_bytes()),
                DType::F64 => out.extend(text.parse::<f64>().map_err(|_| bad())?.to_le_bytes()),
                DType::F16 => {
                    out.extend(f16::from_f64(text.parse::<f64>().map_err(|_| bad())?).to_le_bytes())
                }
                _ => out
                    .extend(bf16::from_f64(text.parse::<f64>().map_err(|_| bad())?).to_le_bytes()),
            }
        }
    }
    Ok(())
}
