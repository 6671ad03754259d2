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
//! - a value of the wrong type never matches (validate() reports the obvious cases first).

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::datetime;
use super::error::{ScimError, quote};
use super::path::{self, AttrPath, flatten, is_attr_name, resolve_sub};
use super::schema::{AttrDef, AttrType, ResourceType, Returned};

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
    Compare { path: AttrPath, op: CompareOp, value: CompValue },
    Present(AttrPath),
    /// `attr[filter]`: the inner filter's attribute names are sub-attributes of `attr`.
    ValuePath { attr: AttrPath, filter: Box<Filter> },
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
    let expr = format!("'{path} {}'", op.as_str());
    let type_name = def.ty.as_str();
    if *value == CompValue::Null {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => Err(ScimError::invalid_filter(format!(
                "{expr} null: null can only be compared with eq or ne"
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
            "{expr}: operator '{}' cannot be used on {} attribute {}",
            op.as_str(),
            type_name,
            quote(&path.to_string())
        )));
    }
    let value_ok = match def.ty {
        AttrType::Boolean => value_bool(value).is_some(),
        AttrType::Integer | AttrType::Decimal => value_number(value).is_some(),
        AttrType::DateTime => matches!(value, CompValue::Str(s) if datetime::parse(s).is_some()),
        _ => true,
    };
    if !value_ok {
        let expected = match def.ty {
            AttrType::Boolean => "true or false",
            AttrType::DateTime => "a date and time such as \"2011-05-13T04:42:34Z\"",
            _ => "a number",
        };
        return Err(ScimError::invalid_filter(format!(
            "{expr}: {} is {}, so compare it with {expected}",
            quote(&path.to_string()),
            if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                format!("an {type_name}")
            } else {
                format!("a {type_name}")
            }
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
            resolved.attr_value(json).map(flatten).unwrap_or_default().into_iter().any(|element| {
                element.is_object() && eval(filter, element, Scope::Element(def))
            })
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

fn compare_values(def: &'static AttrDef, vals: &[&Value], op: CompareOp, value: &CompValue) -> bool {
    if op == CompareOp::Ne {
        return !compare_values(def, vals, CompareOp::Eq, value);
    }
    if *value == CompValue::Null {
        return op == CompareOp::Eq && !vals.iter().any(|v| is_present(v));
    }
    match comparable(def) {
        // A complex attribute: compare each element's `value`.
        Some(leaf) if !std::ptr::eq(leaf, def) => vals
            .iter()
            .filter_map(|v| v.get(leaf.name))
            .any(|v| compare_one(leaf, v, op, value)),
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
                compare_text(&a.to_lowercase(), &b.to_lowercase(), op)
            }
        }
        AttrType::Boolean => {
            op == CompareOp::Eq && v.as_bool().is_some_and(|a| Some(a) == value_bool(value))
        }
        AttrType::Integer | AttrType::Decimal => match (v, value_number(value)) {
            (Value::Number(a), Some(b)) => compare_numbers(a, &b).is_some_and(|o| ordering_holds(o, op)),
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
