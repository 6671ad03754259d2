//! The filter language of RFC 7644 §3.4.2.2: parsing, schema validation and evaluation.
//!
//! Owns the grammar (with the tolerance real clients need: unquoted values from Microsoft's
//! examples, `emails[type eq "work"].value eq "x"`), the limits that keep a hostile filter
//! cheap, and the comparison rules (caseExact, types, dateTime as instants, multi-valued
//! attributes). It must not know how resources are stored or indexed: the service decides
//! which candidates to evaluate; this module only answers "does this resource match".
//!
//! Semantics chosen where the RFC is loose:
//! - a multi-valued attribute matches when any of its values does; a complex attribute
//!   compared without a sub-attribute (`emails co "@x"`, legacy `manager eq "id"`) compares
//!   its `value` sub-attribute;
//! - `ne` is the negation of `eq`, so `title ne "x"` matches a user without a title;
//! - `eq null` means "not present" and `ne null` means "present";
//! - `pr` is false for null, `""`, `[]` and `{}`;
//! - caseExact=false text is compared under `text::fold` (NFKD, full case folding, NFKC: the
//!   key of the name indexes), so `userName eq "STRASSE"` matches `straße` and `sw`/`co`/`ew`
//!   compare the folded forms;
//! - a value of the wrong type never matches (validate() reports the obvious cases first).

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::datetime;
use super::error::{ScimError, quote};
use super::path::{self, AttrPath, flatten, is_attr_name, resolve_sub};
use super::schema::{AttrDef, AttrType, ResourceType, Returned};
use super::text;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and value paths.
pub const MAX_DEPTH: usize = 32;
/// Most comparisons (including `pr`) in one filter.
pub const MAX_TERMS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(&self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn parse(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    fn is_substring(&self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }

    fn is_ordering(&self) -> bool {
        matches!(self, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le)
    }
}

/// The literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    /// `attr[filter]`: the inner filter's attribute names are sub-attributes of `attr`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Every attribute the filter reads, as full paths (`emails[type eq "work"]` reads
    /// `emails.type`), so the service knows whether it must load `members` or `groups`.
    pub fn attributes(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        self.collect_attributes(None, &mut out);
        out
    }

    fn collect_attributes(&self, parent: Option<&AttrPath>, out: &mut Vec<AttrPath>) {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.collect_attributes(parent, out);
                b.collect_attributes(parent, out);
            }
            Filter::Not(a) => a.collect_attributes(parent, out),
            Filter::Compare { path, .. } | Filter::Present(path) => out.push(match parent {
                None => path.clone(),
                Some(p) => AttrPath {
                    schema: p.schema.clone(),
                    attr: p.attr.clone(),
                    sub: Some(path.attr.clone()),
                },
            }),
            Filter::ValuePath { attr, filter } => filter.collect_attributes(Some(attr), out),
        }
    }
}

/// Parses a filter. Every problem is `invalidFilter`; nothing here panics or recurses
/// deeper than [`MAX_DEPTH`].
pub fn parse(s: &str) -> Result<Filter, ScimError> {
    Parser::new(s, false)?.parse_all()
}

/// Parses the filter inside a PATCH path's brackets (`type eq "work"` in
/// `emails[type eq "work"]`): the same grammar without nested value paths.
pub fn parse_value_filter(s: &str) -> Result<Filter, ScimError> {
    Parser::new(s, true)?.parse_all()
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A run of characters up to whitespace, a bracket or a quote: an attribute path, an
    /// operator, a keyword or an unquoted value.
    Word(&'a str),
    /// A JSON string literal, already unescaped.
    Str(String),
}

impl Tok<'_> {
    fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Word(w) => quote(w),
            Tok::Str(s) => format!("the string {}", quote(s)),
        }
    }
}

fn lex(s: &str) -> Result<Vec<Tok<'_>>, ScimError> {
    let mut toks = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                toks.push(match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                });
            }
            '"' => {
                chars.next();
                let mut escaped = false;
                let end = chars.find(|&(_, c)| {
                    let closes = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    closes
                });
                let Some((end, _)) = end else {
                    return Err(ScimError::invalid_filter(format!(
                        "a quoted value starting at {} is never closed with '\"'",
                        quote(s.get(start..).unwrap_or(""))
                    )));
                };
                let literal = s.get(start..=end).unwrap_or("");
                let text: String = serde_json::from_str(literal).map_err(|_| {
                    ScimError::invalid_filter(format!(
                        "{} is not a valid JSON string (check its backslash escapes)",
                        quote(literal)
                    ))
                })?;
                toks.push(Tok::Str(text));
            }
            _ => {
                let mut end = s.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                toks.push(Tok::Word(s.get(start..end).unwrap_or("")));
            }
        }
    }
    Ok(toks)
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    depth: usize,
    terms: usize,
    /// True inside `[...]` (and for a PATCH path's filter): value paths may not nest.
    in_value_path: bool,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str, in_value_path: bool) -> Result<Self, ScimError> {
        if s.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_filter(format!(
                "the filter is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
                s.len()
            )));
        }
        Ok(Parser { toks: lex(s)?, pos: 0, depth: 0, terms: 0, in_value_path })
    }

    fn parse_all(mut self) -> Result<Filter, ScimError> {
        if self.toks.is_empty() {
            return Err(ScimError::invalid_filter("the filter is empty"));
        }
        let f = self.parse_or()?;
        match self.peek() {
            None => Ok(f),
            Some(t) => Err(ScimError::invalid_filter(format!(
                "unexpected {} after a complete filter expression (a missing 'and'/'or', \
                 or an unbalanced ')' or ']'?)",
                t.describe()
            ))),
        }
    }

    fn peek(&self) -> Option<&Tok<'a>> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok<'a>> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn found(t: Option<&Tok<'_>>) -> String {
        t.map_or_else(|| "the end of the filter".to_string(), Tok::describe)
    }

    fn expect(&mut self, want: Tok<'static>, what: &str) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            t => Err(ScimError::invalid_filter(format!(
                "expected {what}, found {}",
                Self::found(t.as_ref())
            ))),
        }
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter(format!(
                "the filter nests parentheses, 'not' or [...] more than {MAX_DEPTH} levels deep"
            )));
        }
        Ok(())
    }

    fn count_term(&mut self) -> Result<(), ScimError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(ScimError::invalid_filter(format!(
                "the filter has more than {MAX_TERMS} comparisons"
            )));
        }
        Ok(())
    }

    // `and` binds tighter than `or`; both are left-associative and parsed by iteration, so
    // long chains do not consume stack.
    fn parse_or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.parse_and()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.parse_unary()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.parse_unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Filter, ScimError> {
        match self.next() {
            Some(Tok::LParen) => {
                self.enter()?;
                let f = self.parse_or()?;
                self.expect(Tok::RParen, "')' to close '('")?;
                self.depth -= 1;
                Ok(f)
            }
            // RFC 7644 writes `not (...)`; a parenthesis-free `not title pr` is accepted too,
            // since it is unambiguous.
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.enter()?;
                let f = self.parse_unary()?;
                self.depth -= 1;
                Ok(Filter::Not(Box::new(f)))
            }
            Some(Tok::Word(w)) => self.parse_attr_expr(w),
            t => Err(ScimError::invalid_filter(format!(
                "expected an attribute name, '(' or 'not', found {}",
                Self::found(t.as_ref())
            ))),
        }
    }

    fn parse_attr_expr(&mut self, word: &str) -> Result<Filter, ScimError> {
        let path = path::parse_attr_path(word).map_err(|e| ScimError::invalid_filter(e.detail))?;
        if self.peek() != Some(&Tok::LBracket) {
            return self.parse_comparison(path);
        }
        self.pos += 1;
        if self.in_value_path {
            return Err(ScimError::invalid_filter(format!(
                "{} opens a second [...] inside a value filter; they cannot be nested",
                quote(word)
            )));
        }
        if path.sub.is_some() {
            return Err(ScimError::invalid_filter(format!(
                "{} is a sub-attribute; [...] filters follow an attribute such as emails",
                quote(word)
            )));
        }
        self.enter()?;
        self.in_value_path = true;
        let mut inner = self.parse_or()?;
        self.expect(Tok::RBracket, "']' to close '['")?;
        self.in_value_path = false;
        self.depth -= 1;
        // Microsoft's matching rules send `emails[type eq "work"].value eq "x"`, meaning
        // `emails[type eq "work" and value eq "x"]`.
        if let Some(Tok::Word(w)) = self.peek()
            && let Some(sub) = w.strip_prefix('.')
        {
            if !is_attr_name(sub) {
                return Err(ScimError::invalid_filter(format!(
                    "{} after ']' is not a sub-attribute name",
                    quote(w)
                )));
            }
            let sub = AttrPath { schema: None, attr: sub.to_string(), sub: None };
            self.pos += 1;
            let term = self.parse_comparison(sub)?;
            inner = Filter::And(Box::new(inner), Box::new(term));
        }
        Ok(Filter::ValuePath { attr: path, filter: Box::new(inner) })
    }

    fn parse_comparison(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        self.count_term()?;
        let op_word = match self.next() {
            Some(Tok::Word(w)) => w,
            t => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an operator after {}, found {}",
                    quote(&path.to_string()),
                    Self::found(t.as_ref())
                )));
            }
        };
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = CompareOp::parse(op_word).ok_or_else(|| {
            ScimError::invalid_filter(format!(
                "unknown operator {} after {}; use eq, ne, co, sw, ew, gt, ge, lt, le or pr",
                quote(op_word),
                quote(&path.to_string())
            ))
        })?;
        let value = match self.next() {
            Some(Tok::Str(s)) => CompValue::Str(s),
            Some(Tok::Word(w)) => bare_value(w),
            t => {
                return Err(ScimError::invalid_filter(format!(
                    "missing value after '{path} {}': expected a quoted string, a number, \
                     true, false or null, found {}",
                    op.as_str(),
                    Self::found(t.as_ref())
                )));
            }
        };
        Ok(Filter::Compare { path, op, value })
    }
}

/// An unquoted value: a JSON literal or number, else (as in Microsoft's own examples,
/// `externalId eq jyoung`) a string.
fn bare_value(w: &str) -> CompValue {
    if w.eq_ignore_ascii_case("true") {
        CompValue::Bool(true)
    } else if w.eq_ignore_ascii_case("false") {
        CompValue::Bool(false)
    } else if w.eq_ignore_ascii_case("null") {
        CompValue::Null
    } else if let Ok(n) = w.parse::<Number>() {
        CompValue::Num(n)
    } else {
        CompValue::Str(w.to_string())
    }
}

/// Where a filter's attribute names are looked up: in a resource type, or (inside `[...]`
/// and in PATCH paths) among the sub-attributes of one complex attribute.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource(&'a ResourceType),
    Element(&'static AttrDef),
}

impl Scope<'_> {
    /// The definition a term's path ends at.
    fn definition(&self, path: &AttrPath) -> Result<&'static AttrDef, ScimError> {
        match self {
            Scope::Resource(rt) => Ok(path.resolve(rt)?.target()),
            Scope::Element(parent) => match (&path.schema, &path.sub) {
                (None, None) => resolve_sub(parent, &path.attr),
                _ => Err(ScimError::invalid_path(format!(
                    "inside {}[...] use a plain sub-attribute name, not {}",
                    parent.name,
                    quote(&path.to_string())
                ))),
            },
        }
    }

    /// The definition and every non-null value a term's path reaches in `json`.
    fn values<'v>(
        &self,
        path: &AttrPath,
        json: &'v Value,
    ) -> Option<(&'static AttrDef, Vec<&'v Value>)> {
        match self {
            Scope::Resource(rt) => {
                let resolved = path.resolve(rt).ok()?;
                Some((resolved.target(), resolved.values(json)))
            }
            Scope::Element(_) => {
                let def = self.definition(path).ok()?;
                Some((def, json.get(def.name).map(flatten).unwrap_or_default()))
            }
        }
    }
}

/// A complex attribute compared as a whole compares its `value` sub-attribute.
fn comparable(def: &'static AttrDef) -> Option<&'static AttrDef> {
    match def.ty {
        AttrType::Complex => def.sub_attribute("value"),
        _ => Some(def),
    }
}

/// Checks a parsed filter against `rt`: attributes exist, operators suit their types,
/// values have the right type. Errors are `invalidFilter`.
pub fn validate(f: &Filter, rt: &ResourceType) -> Result<(), ScimError> {
    check(f, Scope::Resource(rt))
}

/// [`validate`] for a filter whose names are sub-attributes of `parent` (a PATCH path's).
pub fn validate_value_filter(f: &Filter, parent: &'static AttrDef) -> Result<(), ScimError> {
    check(f, Scope::Element(parent))
}

fn check(f: &Filter, scope: Scope<'_>) -> Result<(), ScimError> {
    let as_filter_error = |e: ScimError| ScimError::invalid_filter(e.detail);
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, scope)?;
            check(b, scope)
        }
        Filter::Not(a) => check(a, scope),
        Filter::Present(path) => {
            let def = scope.definition(path).map_err(as_filter_error)?;
            filterable(def, path)
        }
        Filter::Compare { path, op, value } => {
            let def = scope.definition(path).map_err(as_filter_error)?;
            filterable(def, path)?;
            let def = comparable(def).ok_or_else(|| {
                ScimError::invalid_filter(format!(
                    "{} is complex; compare one of its sub-attributes, such as {}.{}",
                    quote(&path.to_string()),
                    path,
                    def.sub_attributes.first().map_or("value", |s| s.name)
                ))
            })?;
            check_comparison(def, path, *op, value)
        }
        Filter::ValuePath { attr, filter } => {
            let Scope::Resource(rt) = scope else {
                return Err(ScimError::invalid_filter("[...] filters cannot be nested"));
            };
            let def = attr.resolve(rt).map_err(as_filter_error)?.attr;
            if def.ty != AttrType::Complex {
                return Err(ScimError::invalid_filter(format!(
                    "{} is not complex, so it cannot be filtered with [...]",
                    quote(&attr.to_string())
                )));
            }
            filterable(def, attr)?;
            check(filter, Scope::Element(def))
        }
    }
}

fn filterable(def: &AttrDef, path: &AttrPath) -> Result<(), ScimError> {
    if def.returned == Returned::Never {
        return Err(ScimError::invalid_filter(format!(
            "{} cannot be used in a filter: scimd never returns or stores it",
            quote(&path.to_string())
        )));
    }
    Ok(())
}

fn check_comparison(
    def: &AttrDef,
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), ScimError> {
    let name = quote(&path.to_string());
    let op_name = op.as_str();
    if *value == CompValue::Null {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => Err(ScimError::invalid_filter(format!(
                "'{path} {op_name} null': null can only be compared with eq or ne"
            ))),
        };
    }
    let op_ok = match def.ty {
        AttrType::String | AttrType::Reference => true,
        AttrType::Binary => !op.is_ordering(),
        AttrType::Integer | AttrType::Decimal | AttrType::DateTime => !op.is_substring(),
        AttrType::Boolean | AttrType::Complex => !op.is_ordering() && !op.is_substring(),
    };
    if !op_ok {
        return Err(ScimError::invalid_filter(format!(
            "operator '{op_name}' cannot be used on {name}, which is of type {}",
            def.ty.as_str()
        )));
    }
    let (value_ok, expected) = match def.ty {
        AttrType::Boolean => (value_bool(value).is_some(), "true or false"),
        AttrType::Integer | AttrType::Decimal => (value_number(value).is_some(), "a number"),
        AttrType::DateTime => (
            matches!(value, CompValue::Str(s) if datetime::parse(s).is_some()),
            "a date and time such as \"2011-05-13T04:42:34Z\"",
        ),
        _ => (true, ""),
    };
    if !value_ok {
        let given = match value {
            CompValue::Str(s) => quote(s),
            CompValue::Num(n) => n.to_string(),
            CompValue::Bool(b) => b.to_string(),
            CompValue::Null => "null".to_string(),
        };
        return Err(ScimError::invalid_filter(format!(
            "{name} is of type {}, so compare it with {expected}, not {given}",
            def.ty.as_str()
        )));
    }
    Ok(())
}

/// Whether `resource` (canonical JSON: canonical key case, extensions under their URN key)
/// matches the filter. Unknown attributes never match; run [`validate`] first to report them.
pub fn matches(f: &Filter, resource: &Value, rt: &ResourceType) -> bool {
    eval(f, resource, Scope::Resource(rt))
}

/// Whether one element of `parent` (for example one of a user's `emails`) matches a value
/// filter such as a PATCH path's `[type eq "work"]`.
pub fn matches_value_filter(f: &Filter, element: &Value, parent: &'static AttrDef) -> bool {
    eval(f, element, Scope::Element(parent))
}

fn eval(f: &Filter, json: &Value, scope: Scope<'_>) -> bool {
    match f {
        Filter::And(a, b) => eval(a, json, scope) && eval(b, json, scope),
        Filter::Or(a, b) => eval(a, json, scope) || eval(b, json, scope),
        Filter::Not(a) => !eval(a, json, scope),
        Filter::Present(path) => {
            scope.values(path, json).is_some_and(|(_, vals)| vals.into_iter().any(is_present))
        }
        Filter::Compare { path, op, value } => match scope.values(path, json) {
            Some((def, vals)) => compare_values(def, &vals, *op, value),
            None => false,
        },
        Filter::ValuePath { attr, filter } => {
            let Scope::Resource(rt) = scope else {
                return false;
            };
            let Ok(resolved) = attr.resolve(rt) else {
                return false;
            };
            let def = resolved.attr;
            resolved
                .attr_value(json)
                .map(flatten)
                .unwrap_or_default()
                .into_iter()
                .any(|element| element.is_object() && eval(filter, element, Scope::Element(def)))
        }
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(m) => m.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_values(
    def: &'static AttrDef,
    vals: &[&Value],
    op: CompareOp,
    value: &CompValue,
) -> bool {
    if op == CompareOp::Ne {
        return !compare_values(def, vals, CompareOp::Eq, value);
    }
    if *value == CompValue::Null {
        return op == CompareOp::Eq && !vals.iter().any(|v| is_present(v));
    }
    match comparable(def) {
        // A complex attribute: compare each element's `value`.
        Some(leaf) if !std::ptr::eq(leaf, def) => {
            vals.iter().filter_map(|v| v.get(leaf.name)).any(|v| compare_one(leaf, v, op, value))
        }
        Some(_) => vals.iter().any(|v| compare_one(def, v, op, value)),
        None => false,
    }
}

fn compare_one(def: &AttrDef, v: &Value, op: CompareOp, value: &CompValue) -> bool {
    match def.ty {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            let (Some(a), Some(b)) = (v.as_str(), value_text(value)) else {
                return false;
            };
            if def.case_exact {
                compare_text(a, &b, op)
            } else {
                // The same key the name indexes use, so an index candidate set and the
                // evaluator agree (`userName eq "STRASSE"` finds `straße`).
                compare_text(&text::fold(a), &text::fold(&b), op)
            }
        }
        AttrType::Boolean => {
            op == CompareOp::Eq && v.as_bool().is_some_and(|a| Some(a) == value_bool(value))
        }
        AttrType::Integer | AttrType::Decimal => match (v, value_number(value)) {
            (Value::Number(a), Some(b)) => {
                compare_numbers(a, &b).is_some_and(|o| ordering_holds(o, op))
            }
            _ => false,
        },
        AttrType::DateTime => {
            let a = v.as_str().and_then(datetime::parse);
            let b = match value {
                CompValue::Str(s) => datetime::parse(s),
                _ => None,
            };
            match (a, b) {
                (Some(a), Some(b)) => ordering_holds(a.cmp(&b), op),
                _ => false,
            }
        }
        AttrType::Complex => false,
    }
}

fn compare_text(a: &str, b: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordering_holds(a.cmp(b), op),
    }
}

/// Eq/ordering operators against an ordering; substring operators never hold for
/// non-text types.
fn ordering_holds(o: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// A value compared as text. An unquoted number or boolean against a string attribute
/// (`externalId eq 1234`) compares as the text the client typed.
fn value_text(value: &CompValue) -> Option<Cow<'_, str>> {
    match value {
        CompValue::Str(s) => Some(Cow::Borrowed(s)),
        CompValue::Num(n) => Some(Cow::Owned(n.to_string())),
        CompValue::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        CompValue::Null => None,
    }
}

/// Entra writes booleans as the strings "True"/"False" (`roles[primary eq "True"]`).
fn value_bool(value: &CompValue) -> Option<bool> {
    match value {
        CompValue::Bool(b) => Some(*b),
        CompValue::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
        CompValue::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn value_number(value: &CompValue) -> Option<Number> {
    match value {
        CompValue::Num(n) => Some(n.clone()),
        CompValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Numeric ordering that stays exact for integers and falls back to f64 otherwise.
pub(super) fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::super::ScimType;
    use super::super::schema::{
        AttrDef, CORE_USER, ENTERPRISE_USER, GROUP, ResourceType, SchemaDef, USER,
    };
    use super::*;
    use serde_json::json;

    /// Found by fuzzing: a number literal is the nearest double, so printing it and parsing
    /// it again gives the same number (and the same as a JSON body's number).
    #[test]
    fn number_literals_are_correctly_rounded() {
        for (text, want) in
            [("1.5e38", 1.5e38_f64), ("444444444444444444444444", 4.444_444_444_444_444_4e23)]
        {
            let Filter::Compare { value: CompValue::Num(n), .. } =
                parse(&format!("x eq {text}")).unwrap()
            else {
                panic!("{text}")
            };
            assert_eq!(n.as_f64(), Some(want), "{text}");
            let again = parse(&format!("x eq {n}")).unwrap();
            assert_eq!(again, parse(&format!("x eq {text}")).unwrap(), "{text} printed as {n}");
        }
    }

    fn user() -> Value {
        json!({
            "schemas": [CORE_USER, ENTERPRISE_USER],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Ext-701984",
            "userName": "bjensen@example.com",
            "name": {"familyName": "O'Malley", "givenName": "Barbara"},
            "displayName": "Babs Jensen",
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [{"value": "someaimhandle", "type": "aim"}],
            "roles": [{"value": "admin", "primary": true}],
            "x509Certificates": [{"value": "TUlJRFF6Q0NB"}],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "version": "W/\"a330bc54f0671c9\""
            },
            ENTERPRISE_USER: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            }
        })
    }

    fn ok(s: &str) -> Filter {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Parses, validates and evaluates against the sample user.
    fn eval_user(s: &str) -> bool {
        let f = ok(s);
        validate(&f, &USER).unwrap_or_else(|e| panic!("{s}: {e}"));
        matches(&f, &user(), &USER)
    }

    fn invalid(s: &str) -> ScimError {
        let e = parse(s).and_then(|f| validate(&f, &USER).map(|_| f));
        let e = e.expect_err(s);
        assert_eq!(e.scim_type, ScimType::InvalidFilter, "{s}: {e}");
        e
    }

    fn path(s: &str) -> AttrPath {
        path::parse_attr_path(s).unwrap()
    }

    fn cmp(p: &str, op: CompareOp, v: CompValue) -> Filter {
        Filter::Compare { path: path(p), op, value: v }
    }

    fn s(v: &str) -> CompValue {
        CompValue::Str(v.into())
    }

    #[test]
    fn rfc_7644_examples_parse_validate_and_match() {
        let cases = [
            (r#"userName eq "bjensen""#, false),
            (r#"userName eq "bjensen@example.com""#, true),
            (r#"name.familyName co "O'Malley""#, true),
            (r#"userName sw "J""#, false),
            (r#"userName sw "B""#, true),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, false),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#, true),
            ("title pr", true),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
            (r#"title pr and userType eq "Employee""#, true),
            (r#"title pr or userType eq "Intern""#, true),
            (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, true),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                true,
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                false,
            ),
            (r#"userType eq "Employee" and (emails.type eq "work")"#, true),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                true,
            ),
        ];
        for (f, expected) in cases {
            assert_eq!(eval_user(f), expected, "{f}");
        }
    }

    #[test]
    fn rfc_examples_have_the_expected_shape() {
        assert_eq!(ok(r#"userName eq "bjensen""#), cmp("userName", CompareOp::Eq, s("bjensen")));
        assert_eq!(ok("title pr"), Filter::Present(path("title")));
        assert_eq!(
            ok(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#),
            cmp("urn:ietf:params:scim:schemas:core:2.0:User:userName", CompareOp::Sw, s("J"))
        );
        assert_eq!(
            ok(r#"userType ne "Employee" and not (emails co "example.com")"#),
            Filter::And(
                Box::new(cmp("userType", CompareOp::Ne, s("Employee"))),
                Box::new(Filter::Not(Box::new(cmp("emails", CompareOp::Co, s("example.com"))))),
            )
        );
        assert_eq!(
            ok(r#"emails[type eq "work" and value co "@example.com"]"#),
            Filter::ValuePath {
                attr: path("emails"),
                filter: Box::new(Filter::And(
                    Box::new(cmp("type", CompareOp::Eq, s("work"))),
                    Box::new(cmp("value", CompareOp::Co, s("@example.com"))),
                )),
            }
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let a = || Box::new(Filter::Present(path("a")));
        let b = || Box::new(Filter::Present(path("b")));
        let c = || Box::new(Filter::Present(path("c")));
        assert_eq!(ok("a pr or b pr and c pr"), Filter::Or(a(), Box::new(Filter::And(b(), c()))));
        assert_eq!(ok("a pr and b pr or c pr"), Filter::Or(Box::new(Filter::And(a(), b())), c()));
        assert_eq!(ok("(a pr or b pr) and c pr"), Filter::And(Box::new(Filter::Or(a(), b())), c()));
        assert_eq!(ok("a pr or b pr or c pr"), Filter::Or(Box::new(Filter::Or(a(), b())), c()));
        // Evaluated: true or (false and false) is true; (true or false) and false is false.
        assert!(eval_user(r#"title pr or nickName pr and nickName eq "x""#));
        assert!(!eval_user(r#"(title pr or nickName pr) and nickName eq "x""#));
        assert!(eval_user(r#"not (nickName pr) and title pr"#));
    }

    #[test]
    fn keywords_operators_and_names_are_case_insensitive() {
        assert!(eval_user(r#"USERNAME EQ "bjensen@example.com" AND Title PR"#));
        assert!(eval_user(r#"NOT (title Eq "x") Or userName Sw "z""#));
        assert!(eval_user(r#"Emails[Type EQ "work"]"#));
        assert!(eval_user(
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:MANAGER.VALUE pr"#
        ));
    }

    #[test]
    fn string_case_follows_case_exact() {
        // userName is caseExact false: Entra and the validator probe with a different case.
        assert!(eval_user(r#"userName eq "BJENSEN@EXAMPLE.COM""#));
        assert!(eval_user(r#"displayName eq "babs jensen""#));
        // externalId and id are caseExact.
        assert!(eval_user(r#"externalId eq "Ext-701984""#));
        assert!(!eval_user(r#"externalId eq "ext-701984""#));
        assert!(!eval_user(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
        assert!(!eval_user(r#"externalId sw "ext""#));
        assert!(eval_user(r#"externalId sw "Ext""#));
        // Unicode case folding, not only ASCII.
        let f = ok(r#"displayName eq "ÉLODIE""#);
        assert!(matches(&f, &json!({"displayName": "élodie"}), &USER));
        // Full folding and normalisation: the uniqueness key.
        let f = ok(r#"userName eq "STRASSE@Ｅｘａｍｐｌｅ.com""#);
        assert!(matches(&f, &json!({"userName": "straße@example.com"}), &USER));
        let f = ok(r#"userName sw "stras""#);
        assert!(matches(&f, &json!({"userName": "Straße"}), &USER));
    }

    #[test]
    fn string_operators() {
        for (f, expected) in [
            (r#"title eq "tour guide""#, true),
            (r#"title ne "tour guide""#, false),
            (r#"title ne "x""#, true),
            (r#"title co "UR G""#, true),
            (r#"title co "xyz""#, false),
            (r#"title sw "tour""#, true),
            (r#"title sw "guide""#, false),
            (r#"title ew "GUIDE""#, true),
            (r#"title ew "tour""#, false),
            (r#"title gt "tour""#, true),
            (r#"title gt "tv""#, false),
            (r#"title ge "tour guide""#, true),
            (r#"title lt "tv""#, true),
            (r#"title lt "TOUR GUIDE""#, false),
            (r#"title le "TOUR GUIDE""#, true),
            (r#"title le "a""#, false),
        ] {
            assert_eq!(eval_user(f), expected, "{f}");
        }
    }

    #[test]
    fn boolean_operators_and_entra_strings() {
        for (f, expected) in [
            ("active eq true", true),
            ("active eq false", false),
            ("active ne false", true),
            ("active ne true", false),
            (r#"active eq "True""#, true),
            (r#"active eq "FALSE""#, false),
            ("active eq TRUE", true),
            ("active pr", true),
            (r#"roles[primary eq "True"]"#, true),
            (r#"emails[primary eq "False"]"#, false),
            (r#"emails[primary ne true]"#, true),
        ] {
            assert_eq!(eval_user(f), expected, "{f}");
        }
        for f in [
            "active gt true",
            "active co true",
            "active sw \"t\"",
            "active eq \"yes\"",
            "active eq 1",
        ] {
            invalid(f);
        }
    }

    #[test]
    fn date_time_operators_compare_instants() {
        for (f, expected) in [
            (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
            (r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#, true),
            (r#"meta.lastModified ne "2011-05-13T04:42:34Z""#, false),
            (r#"meta.lastModified gt "2011-05-13T04:42:33.9Z""#, true),
            (r#"meta.lastModified lt "2011-05-13T04:42:34.1Z""#, true),
            (r#"meta.created lt "2011-05-13T04:42:34Z""#, true),
            // Microsoft's reference collection: unquoted, capitalised, 7 fractional digits.
            ("meta.Created gt 2015-10-10T14:38:21.8617979-07:00", false),
            ("meta.Created lt 2015-10-10T14:38:21.8617979-07:00", true),
        ] {
            assert_eq!(eval_user(f), expected, "{f}");
        }
        invalid(r#"meta.created co "2011""#);
        invalid(r#"meta.created gt "yesterday""#);
        invalid("meta.created gt 2011");
    }

    static NUMERIC_ATTRS: [AttrDef; 3] = [
        AttrDef::new("age", AttrType::Integer, ""),
        AttrDef::new("scores", AttrType::Decimal, "").multi(),
        AttrDef::new("blob", AttrType::Binary, "").case_exact(),
    ];
    static NUMERIC_SCHEMA: SchemaDef = SchemaDef {
        id: "urn:test:Numeric",
        name: "Numeric",
        description: "",
        attributes: &NUMERIC_ATTRS,
    };
    static NUMERIC: ResourceType = ResourceType {
        name: "Numeric",
        endpoint: "/Numerics",
        description: "",
        schema: &NUMERIC_SCHEMA,
        extensions: &[],
    };

    #[test]
    fn integer_decimal_and_binary_operators() {
        let r = json!({"age": 42, "scores": [1.5, 9.25], "blob": "AAEC"});
        let check = |f: &str| {
            let f = ok(f);
            validate(&f, &NUMERIC).unwrap();
            matches(&f, &r, &NUMERIC)
        };
        for (f, expected) in [
            ("age eq 42", true),
            ("age ne 42", false),
            ("age gt 41", true),
            ("age gt 42", false),
            ("age ge 42", true),
            ("age lt 42", false),
            ("age le 42", true),
            ("age lt 42.5", true),
            (r#"age eq "42""#, true),
            ("age eq -1", false),
            ("scores gt 9", true),
            ("scores lt 1.5", false),
            ("scores le 1.5", true),
            ("scores eq 9.25", true),
            ("blob eq \"AAEC\"", true),
            ("blob eq \"aaec\"", false),
            ("blob co \"AE\"", true),
            ("blob sw \"AA\"", true),
            ("blob ew \"EC\"", true),
        ] {
            assert_eq!(check(f), expected, "{f}");
        }
        for f in [
            "age co 4",
            "age sw 4",
            "age ew 4",
            "age eq \"old\"",
            "blob gt \"A\"",
            "scores eq true",
        ] {
            let e = parse(f).and_then(|p| validate(&p, &NUMERIC)).unwrap_err();
            assert_eq!(e.scim_type, ScimType::InvalidFilter, "{f}");
        }
    }

    #[test]
    fn complex_and_multi_valued_attributes() {
        for (f, expected) in [
            // Any element matches.
            (r#"emails.value ew "jensen.org""#, true),
            (r#"emails.type eq "home""#, true),
            (r#"emails.type eq "other""#, false),
            // A complex multi-valued attribute compares its `value`.
            (r#"emails co "@jensen""#, true),
            (r#"emails eq "babs@jensen.org""#, true),
            // Legacy Entra: `manager eq <id>` compares manager.value.
            ("manager eq 26118915-6090-4610-87e4-49d8ca9f808d", true),
            (r#"manager eq "someone-else""#, false),
            // The element filter applies to one element, not across elements.
            (r#"emails[type eq "home" and value co "example.com"]"#, false),
            (r#"emails.type eq "home" and emails.value co "example.com""#, true),
            ("emails pr", true),
            ("name pr", true),
            ("phoneNumbers pr", false),
            ("ims[type eq \"aim\"]", true),
            ("x509Certificates.value pr", true),
        ] {
            assert_eq!(eval_user(f), expected, "{f}");
        }
        let e = invalid(r#"name eq "Barbara""#);
        assert!(e.detail.contains("complex"), "{e}");
        invalid(r#"userName[value eq "x"]"#);
    }

    #[test]
    fn presence_null_and_absent_attributes() {
        let r = json!({"userName": "u", "title": "", "nickName": null, "emails": [], "name": {}});
        let m = |f: &str| matches(&ok(f), &r, &USER);
        assert!(!m("title pr"));
        assert!(!m("nickName pr"));
        assert!(!m("emails pr"));
        assert!(!m("name pr"));
        assert!(!m("profileUrl pr"));
        assert!(m("userName pr"));
        assert!(m("nickName eq null"));
        assert!(m("profileUrl eq null"));
        assert!(!m("userName eq null"));
        assert!(m("userName ne null"));
        // `ne` on an absent attribute matches; other operators do not.
        assert!(m(r#"profileUrl ne "x""#));
        assert!(!m(r#"profileUrl eq "x""#));
        assert!(!m(r#"profileUrl co "x""#));
        assert!(!m(r#"profileUrl gt "a""#));
        assert!(!m(r#"emails[type eq "work"]"#));
        invalid("title gt null");
        invalid("title co null");
    }

    #[test]
    fn entra_and_microsoft_tolerance() {
        // Unquoted bare values are strings.
        assert_eq!(ok("externalId eq jyoung"), cmp("externalId", CompareOp::Eq, s("jyoung")));
        assert!(eval_user("userName sw B"));
        assert!(eval_user("name.FamilyName eq o'malley"));
        assert!(eval_user("externalId eq Ext-701984"));
        assert!(eval_user(
            "name.FamilyName eq o'malley and (emails.Value co example.com or emails.Value co example.org)"
        ));
        // An unquoted number against a string attribute compares as its text.
        assert!(eval_user(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq 701984"
        ));
        // `valuePath.sub op value` means `valuePath[... and sub op value]`.
        let f = ok(r#"emails[type eq "work"].value eq "bjensen@example.com""#);
        assert_eq!(
            f,
            Filter::ValuePath {
                attr: path("emails"),
                filter: Box::new(Filter::And(
                    Box::new(cmp("type", CompareOp::Eq, s("work"))),
                    Box::new(cmp("value", CompareOp::Eq, s("bjensen@example.com"))),
                )),
            }
        );
        assert!(eval_user(r#"emails[type eq "work"].value eq "BJENSEN@example.com""#));
        assert!(!eval_user(r#"emails[type eq "home"].value eq "bjensen@example.com""#));
        assert!(eval_user(r#"emails[type eq "work"].value pr"#));
        // Compound lookup from Entra's legacy flow.
        assert!(eval_user(
            "id eq 2819c223-7f76-453a-919d-413861904646 and manager eq 26118915-6090-4610-87e4-49d8ca9f808d"
        ));
        // Extra whitespace and no space before a quote.
        assert!(eval_user("  userName   eq\"bjensen@example.com\"  "));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(ok(r#"title eq "a\"b""#), cmp("title", CompareOp::Eq, s("a\"b")));
        assert_eq!(ok(r#"title eq "caf\u00e9""#), cmp("title", CompareOp::Eq, s("café")));
        assert_eq!(ok(r#"title eq "back\\slash""#), cmp("title", CompareOp::Eq, s("back\\slash")));
        assert_eq!(
            ok(r#"title eq "(not) [a] filter""#),
            cmp("title", CompareOp::Eq, s("(not) [a] filter"))
        );
        assert_eq!(ok("title eq \"\""), cmp("title", CompareOp::Eq, s("")));
        assert!(parse(r#"title eq "bad \q escape""#).is_err());
    }

    #[test]
    fn literal_values() {
        assert_eq!(ok("title eq null"), cmp("title", CompareOp::Eq, CompValue::Null));
        assert_eq!(ok("active eq false"), cmp("active", CompareOp::Eq, CompValue::Bool(false)));
        let Filter::Compare { value: CompValue::Num(n), .. } = ok("age gt -1.5e3") else {
            panic!("number expected");
        };
        assert_eq!(n.as_f64(), Some(-1500.0));
        assert_eq!(ok("title eq 007"), cmp("title", CompareOp::Eq, s("007")));
    }

    #[test]
    fn malformed_filters_are_invalid_filter() {
        for f in [
            "",
            "   ",
            "userName",
            "userName eq",
            r#"userName eq "x"#,
            r#"userName eqq "x""#,
            r#"userName like "x""#,
            r#"(userName eq "x""#,
            r#"userName eq "x")"#,
            r#"((userName eq "x")"#,
            r#"emails[type eq "work""#,
            r#"emails type eq "work"]"#,
            r#"emails[type eq "work"]]"#,
            r#"userName eq "x" garbage"#,
            r#"userName eq "x" "y""#,
            r#"userName eq "x" and"#,
            r#"or userName eq "x""#,
            r#"userName eq "x" or or title pr"#,
            "not",
            "not ()",
            "()",
            r#"userName eq ("x")"#,
            r#""userName" eq "x""#,
            r#"emails[type eq "work" and emails[value pr]]"#,
            r#"emails[type eq "work"].value.x eq "y""#,
            r#"emails[type eq "work"].value"#,
            r#"emails[type eq "work"] value eq "x""#,
            r#"name.givenName[value eq "x"]"#,
            "user name eq x",
            "userName pr pr",
            "userName eq x y",
            "[",
            "]",
            "\"",
            "\\",
        ] {
            let e = parse(f).unwrap_err();
            assert_eq!(e.scim_type, ScimType::InvalidFilter, "{f}");
            assert!(!e.detail.is_empty());
        }
    }

    #[test]
    fn unknown_attributes_and_password_fail_validation() {
        let e = invalid(r#"fooBar eq "x""#);
        assert_eq!(e.detail, "unknown attribute 'fooBar' for User");
        invalid(r#"name.nickName eq "x""#);
        invalid(r#"emails[foo eq "x"]"#);
        invalid(r#"urn:x:y:userName eq "x""#);
        let e = invalid(r#"password eq "secret""#);
        assert!(e.detail.contains("password"), "{e}");
        invalid("password pr");
        // Group attributes are checked against the Group type.
        let f = ok(r#"displayName eq "Admins" and members[value eq "x"]"#);
        assert!(validate(&f, &GROUP).is_ok());
        assert!(validate(&ok(r#"userName eq "x""#), &GROUP).is_err());
    }

    #[test]
    fn limits_are_enforced_without_panicking() {
        let deep = format!("{}title pr{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(parse(&deep).unwrap_err().scim_type, ScimType::InvalidFilter);
        let deep_in_budget = format!("{}title pr{}", "(".repeat(1000), ")".repeat(1000));
        assert!(parse(&deep_in_budget).unwrap_err().detail.contains("levels"));
        let nots = format!("{}title pr", "not ".repeat(33));
        assert!(parse(&nots).unwrap_err().detail.contains("levels"));
        let ok_depth = format!("{}title pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse(&ok_depth).is_ok());

        let huge = format!(r#"userName eq "{}""#, "x".repeat(1 << 20));
        let e = parse(&huge).unwrap_err();
        assert!(e.detail.contains("4096"), "{e}");
        assert!(e.detail.len() < 200);

        let terms = |n: usize| vec!["title pr"; n].join(" or ");
        assert!(parse(&terms(MAX_TERMS)).is_ok());
        assert!(parse(&terms(MAX_TERMS + 1)).unwrap_err().detail.contains("comparisons"));
    }

    #[test]
    fn details_name_the_culprit() {
        let e = parse(r#"userName eqq "x""#).unwrap_err();
        assert!(e.detail.contains("'eqq'") && e.detail.contains("eq, ne"), "{e}");
        let e = parse(r#"userName eq "x" garbage"#).unwrap_err();
        assert!(e.detail.contains("'garbage'"), "{e}");
        let e = parse("userName eq").unwrap_err();
        assert!(e.detail.contains("missing value after 'userName eq'"), "{e}");
        let e = parse(r#"(userName eq "x""#).unwrap_err();
        assert!(e.detail.contains("')'"), "{e}");
        let e = invalid(r#"active eq "x""#);
        assert_eq!(
            e.detail,
            "'active' is of type boolean, so compare it with true or false, not 'x'"
        );
        let e = invalid(r#"active gt true"#);
        assert_eq!(e.detail, "operator 'gt' cannot be used on 'active', which is of type boolean");
    }

    #[test]
    fn attributes_lists_every_path_read() {
        let f = ok(r#"userName eq "x" or (members[value eq "u1"] and not (emails.type pr))"#);
        let names: Vec<String> = f.attributes().iter().map(ToString::to_string).collect();
        assert_eq!(names, ["userName", "members.value", "emails.type"]);
        let f = ok(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "m"]"#,
        );
        assert_eq!(f.attributes()[0].schema.as_deref(), Some(ENTERPRISE_USER));
        assert_eq!(f.attributes()[0].sub.as_deref(), Some("value"));
    }

    #[test]
    fn value_filters_for_patch_paths() {
        let (_, emails) = USER.attribute(None, "emails").unwrap();
        let f = parse_value_filter(r#"type eq "WORK""#).unwrap();
        validate_value_filter(&f, emails).unwrap();
        assert!(matches_value_filter(&f, &json!({"type": "work", "value": "a"}), emails));
        assert!(!matches_value_filter(&f, &json!({"type": "home"}), emails));
        assert!(parse_value_filter(r#"emails[type eq "work"]"#).is_err());
        assert!(
            validate_value_filter(&parse_value_filter("emails.type pr").unwrap(), emails).is_err()
        );
        assert!(validate_value_filter(&parse_value_filter("nope pr").unwrap(), emails).is_err());
        let (_, members) = GROUP.attribute(None, "members").unwrap();
        let f = parse_value_filter(r#"value eq "7f4b""#).unwrap();
        assert!(matches_value_filter(&f, &json!({"value": "7F4B"}), members));
    }

    /// A deterministic fuzz loop (xorshift, fixed seed) instead of a property-testing crate:
    /// random mixes of grammar fragments and arbitrary characters never make `parse`,
    /// `validate`, `matches` or `attributes` panic.
    #[test]
    fn never_panics_on_generated_input() {
        const FRAGMENTS: [&str; 28] = [
            "(",
            ")",
            "[",
            "]",
            "\"",
            "\\",
            " ",
            "not",
            "and",
            "or",
            "pr",
            "eq",
            "co",
            "gt",
            "userName",
            "emails",
            ".value",
            "type",
            "active",
            "true",
            "null",
            "\"x\"",
            "1.5",
            ":",
            "urn:ietf:params:scim:schemas:core:2.0:User:",
            "meta.lastModified",
            "2011-05-13T04:42:34Z",
            "\u{e9}\u{1F600}\u{0}",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let resource = user();
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..next() % 40 {
                let r = next();
                if r % 4 == 0 {
                    s.extend(char::from_u32((r >> 8) as u32 % 0x11_0000));
                } else {
                    s.push_str(FRAGMENTS[(r >> 8) as usize % FRAGMENTS.len()]);
                }
            }
            if let Ok(f) = parse(&s) {
                let _ = validate(&f, &USER);
                let _ = matches(&f, &resource, &USER);
                let _ = f.attributes();
            }
            let _ = parse_value_filter(&s);
        }
    }
}
