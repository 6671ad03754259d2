//! The PATCH engine (RFC 7644 §3.5.2): applies strict operations, in order, to a resource's
//! stored attributes and returns the new attributes, or the first error with nothing applied.
//!
//! Owns the semantics of `add`, `replace` and `remove` on simple, complex and multi-valued
//! attributes, sub-attributes, extension attributes and value-path filters, `primary` kept
//! unique, and mutability. It takes operations the tolerance layer (`tolerance.rs`) has
//! already normalised (resolved paths, no pathless operations), so no IdP quirk is handled
//! here. It works on a copy: the caller stores the result only if every operation succeeded.
//!
//! A group's `members` are rows in the store, not part of the stored attributes, so member
//! operations are returned as [`MemberChange`]s for the service to apply in the same order and
//! transaction; the engine never sees a group's member list.
//!
//! One deliberate extension of the RFC, for Entra ID: an `add` or `replace` whose value filter
//! matches nothing creates the element from the filter's `eq` terms
//! (`emails[type eq "work"].value` on a user without emails yields one work email) where
//! RFC 7644 §3.5.2.3 would answer `noTarget`.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use super::error::{ScimError, quote};
use super::filter::{self, CompValue, CompareOp, Filter};
use super::path::ResolvedPath;
use super::resource::{self, canonical_element, canonical_value};
use super::schema::{AttrDef, AttrType, Mutability, ResourceType, SchemaDef};

/// `add`, `replace` or `remove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }
}

/// One strict operation: a resolved target and the value as the client sent it (None when
/// absent). Built by the tolerance layer.
#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OpKind,
    pub target: Target,
    pub value: Option<Value>,
}

/// Where an operation applies: an attribute (and sub-attribute), optionally narrowed by a
/// value filter relative to the attribute.
#[derive(Debug, Clone)]
pub struct Target {
    pub path: ResolvedPath,
    pub filter: Option<Filter>,
    /// The path as the client wrote it, for error messages.
    pub text: String,
}

/// A change to a group's member rows, in request order.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberChange {
    /// Add these member ids (existing members are left alone).
    Add(Vec<String>),
    /// Remove these member ids (absent ones are ignored).
    Remove(Vec<String>),
    /// Remove every member whose rendered element (`value`, `type`, `display`, `$ref`)
    /// matches the filter.
    RemoveMatching(Filter),
    /// Remove every member.
    RemoveAll,
}

/// The result of a successful patch.
#[derive(Debug, Clone, PartialEq)]
pub struct Patched {
    /// The new stored attributes, canonical, without `schemas`.
    pub attributes: Value,
    /// Member changes for the store, in order (groups only).
    pub members: Vec<MemberChange>,
    /// The top-level attributes whose value changed, canonical names, in schema order.
    pub changed: Vec<&'static str>,
}

/// Applies `ops` in order to `current` (stored attributes: core ones at the top level,
/// extension ones under their URN key). All or nothing: the first failing operation's error
/// is returned and `current` is untouched.
pub fn apply(rt: &ResourceType, current: &Value, ops: &[Operation]) -> Result<Patched, ScimError> {
    let mut doc = Doc::from_value(rt, current);
    let mut members = Vec::new();
    // Consecutive `add`s to one list (Entra sends one operation per email, per phone number)
    // share one index of that list, so each costs its own elements, not the list's length.
    for run in ops.chunk_by(|a, b| same_list_add(rt, a, b)) {
        match run {
            [op] if is_group_members(rt, op.target.path.attr) => {
                member_op(rt, op, &mut members)?;
            }
            // One operation alone takes the plain path (the property tests check that a
            // run gives what its operations give one at a time).
            [op] => apply_op(rt, &mut doc, op)?,
            run => add_run(rt, &mut doc, run)?,
        }
    }
    let mut patched = doc.into_value();
    if let Value::Object(fields) = &mut patched {
        fields.insert("schemas".into(), Value::Array(Vec::new()));
    }
    // The same checks a POST body gets: types, required attributes, empties dropped.
    let mut attributes = resource::canonicalize(rt, patched)?;
    if let Value::Object(fields) = &mut attributes {
        fields.remove("schemas");
    }
    let changed = changed_attributes(rt, current, &attributes);
    Ok(Patched { attributes, members, changed })
}

/// The stored attributes split by schema, so an extension attribute's container is found
/// without re-walking JSON.
struct Doc {
    core: Map<String, Value>,
    extensions: Vec<(&'static SchemaDef, Map<String, Value>)>,
}

impl Doc {
    fn from_value(rt: &ResourceType, value: &Value) -> Doc {
        let mut core = value.as_object().cloned().unwrap_or_default();
        let extensions = rt
            .extensions
            .iter()
            .map(|&ext| {
                let attrs = match core.remove(ext.id) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                (ext, attrs)
            })
            .collect();
        Doc { core, extensions }
    }

    fn container(&mut self, schema: &SchemaDef) -> &mut Map<String, Value> {
        match self.extensions.iter_mut().find(|(e, _)| std::ptr::eq(*e, schema)) {
            Some((_, m)) => m,
            None => &mut self.core,
        }
    }

    fn into_value(self) -> Value {
        let mut out = self.core;
        for (ext, attrs) in self.extensions {
            if !attrs.is_empty() {
                out.insert(ext.id.to_string(), Value::Object(attrs));
            }
        }
        Value::Object(out)
    }
}

fn is_group_members(rt: &ResourceType, attr: &AttrDef) -> bool {
    rt.name == "Group" && attr.name == "members"
}

fn apply_op(rt: &ResourceType, doc: &mut Doc, op: &Operation) -> Result<(), ScimError> {
    let path = op.target.path;
    check_mutability(op, path.attr)?;
    if let Some(sub) = path.sub {
        check_mutability(op, sub)?;
    }
    let container = doc.container(path.schema);
    // Only an immutable attribute needs its old value (a copy of a long list per operation
    // would make a PATCH quadratic).
    let before = match path.attr.mutability {
        Mutability::Immutable => container.get(path.attr.name).cloned(),
        _ => None,
    };
    if before.is_some() && op.kind == OpKind::Remove {
        // Immutable: may be set once; changing or removing a value is refused.
        return Err(immutable(&op.target));
    }
    match (&op.target.filter, path.sub) {
        (None, None) => whole_attribute(rt, container, op)?,
        (None, Some(sub)) => sub_attribute(rt, container, op, sub)?,
        (Some(f), sub) => filtered(rt, container, op, f, sub)?,
    }
    if path.attr.mutability == Mutability::Immutable
        && let Some(old) = before
        && container.get(path.attr.name) != Some(&old)
    {
        return Err(immutable(&op.target));
    }
    Ok(())
}

fn immutable(target: &Target) -> ScimError {
    ScimError::mutability(format!(
        "{} is immutable: it can be set once but not changed or removed",
        quote(&target.text)
    ))
}

/// Refuses writes to what scimd maintains itself (`id`, `meta`, `groups`, sub-attributes
/// such as `manager.displayName`). Echoes of unchanged values are dropped earlier, by the
/// tolerance layer.
fn check_mutability(op: &Operation, def: &AttrDef) -> Result<(), ScimError> {
    if def.mutability == Mutability::ReadOnly {
        return Err(ScimError::mutability(format!(
            "{} is read-only: scimd maintains it, so it cannot be {}",
            quote(&op.target.text),
            match op.kind {
                OpKind::Remove => "removed",
                OpKind::Add => "added",
                OpKind::Replace => "replaced",
            }
        )));
    }
    Ok(())
}

/// `path: "title"`, `path: "emails"`, `path: "name"`.
fn whole_attribute(
    rt: &ResourceType,
    container: &mut Map<String, Value>,
    op: &Operation,
) -> Result<(), ScimError> {
    let def = op.target.path.attr;
    let label = op.target.text.as_str();
    if op.kind == OpKind::Remove {
        if def.required {
            return Err(ScimError::invalid_value(format!(
                "{} is required: it can be replaced but not removed",
                quote(def.name)
            )));
        }
        container.remove(def.name);
        return Ok(());
    }
    let raw = op.value.clone().unwrap_or(Value::Null);
    if def.ty == AttrType::Complex && !def.multi_valued {
        let merged = merge_element(rt, def, label, container.get(def.name), raw)?;
        set_or_remove(container, def.name, merged);
        return Ok(());
    }
    let value = canonical_value(rt, def, label, raw)?;
    match (def.multi_valued, op.kind, value) {
        // Adding nothing to a list changes nothing.
        (true, OpKind::Add, None) => {}
        (true, OpKind::Add, Some(Value::Array(new))) => {
            let mut list = take_list(container, def.name);
            let mut written = Vec::new();
            for element in new {
                written.push(add_unique(&mut list, element));
            }
            keep_one_primary(def, &mut list, &written);
            set_list(container, def.name, list);
        }
        (true, _, Some(Value::Array(mut list))) => {
            let written: Vec<usize> = (0..list.len()).collect();
            keep_one_primary(def, &mut list, &written);
            set_list(container, def.name, list);
        }
        (_, _, value) => set_or_remove(container, def.name, value),
    }
    Ok(())
}

/// `path: "name.givenName"`, `path: "manager.value"`, `path: "emails.value"` (every element).
fn sub_attribute(
    rt: &ResourceType,
    container: &mut Map<String, Value>,
    op: &Operation,
    sub: &'static AttrDef,
) -> Result<(), ScimError> {
    let def = op.target.path.attr;
    let value = match op.kind {
        OpKind::Remove => None,
        _ => canonical_value(rt, sub, &op.target.text, op.value.clone().unwrap_or(Value::Null))?,
    };
    if !def.multi_valued {
        let mut element = match container.remove(def.name) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        match value {
            Some(v) => element.insert(sub.name.to_string(), v),
            None => element.remove(sub.name),
        };
        set_or_remove(container, def.name, Some(Value::Object(element)));
        return Ok(());
    }
    let mut list = take_list(container, def.name);
    match value {
        Some(v) if list.is_empty() => list.push(single_field(sub.name, v)),
        Some(v) => {
            for element in &mut list {
                set_field(element, sub.name, Some(v.clone()));
            }
        }
        None => {
            for element in &mut list {
                set_field(element, sub.name, None);
            }
        }
    }
    if sub.name == "primary" {
        let written: Vec<usize> = (0..list.len()).collect();
        keep_one_primary(def, &mut list, &written);
    }
    set_list(container, def.name, list);
    Ok(())
}

/// `path: "emails[type eq \"work\"]"`, with or without a trailing `.value`.
fn filtered(
    rt: &ResourceType,
    container: &mut Map<String, Value>,
    op: &Operation,
    f: &Filter,
    sub: Option<&'static AttrDef>,
) -> Result<(), ScimError> {
    let def = op.target.path.attr;
    let label = op.target.text.as_str();
    let mut list = take_list(container, def.name);
    let matched: Vec<usize> = list
        .iter()
        .enumerate()
        .filter(|(_, e)| filter::matches_value_filter(f, e, def))
        .map(|(i, _)| i)
        .collect();
    let mut written = Vec::new();
    match (op.kind, sub) {
        (OpKind::Remove, Some(sub)) => {
            for &i in &matched {
                if let Some(element) = list.get_mut(i) {
                    set_field(element, sub.name, None);
                }
            }
        }
        (OpKind::Remove, None) => {
            let mut gone = vec![false; list.len()];
            for &i in &matched {
                if let Some(flag) = gone.get_mut(i) {
                    *flag = true;
                }
            }
            let mut flags = gone.into_iter();
            list.retain(|_| !flags.next().unwrap_or(false));
        }
        (_, Some(sub)) => {
            let raw = op.value.clone().unwrap_or(Value::Null);
            let value = canonical_value(rt, sub, label, raw)?;
            if matched.is_empty() {
                if let Some(v) = value {
                    let mut element = element_from_filter(rt, def, f, &op.target)?;
                    set_field(&mut element, sub.name, Some(v));
                    list.push(element);
                    written.push(list.len() - 1);
                }
            } else {
                for &i in &matched {
                    if let Some(element) = list.get_mut(i) {
                        set_field(element, sub.name, value.clone());
                        written.push(i);
                    }
                }
            }
        }
        (_, None) => {
            let raw = op.value.clone().unwrap_or(Value::Null);
            if matched.is_empty() {
                let base = element_from_filter(rt, def, f, &op.target)?;
                if let Some(element) = merge_element(rt, def, label, Some(&base), raw)? {
                    list.push(element);
                    written.push(list.len() - 1);
                }
            } else {
                for &i in &matched {
                    if let Some(element) = list.get_mut(i) {
                        let merged = merge_element(rt, def, label, Some(element), raw.clone())?;
                        *element = merged.unwrap_or(Value::Null);
                        written.push(i);
                    }
                }
            }
        }
    }
    list.retain(|e| e.as_object().is_some_and(|m| !m.is_empty()));
    keep_one_primary(def, &mut list, &written);
    if def.multi_valued {
        set_list(container, def.name, list);
    } else {
        // A filter on a single-valued complex attribute (`manager[value eq "x"]`) selects
        // its one value.
        set_or_remove(container, def.name, list.into_iter().next());
    }
    Ok(())
}

/// Merges the sub-attributes of `raw` into `existing` (RFC 7644 §3.5.2.3: sub-attributes
/// not named are left unchanged). A sub-attribute sent as `null` or `""` is removed. None
/// when nothing is left.
fn merge_element(
    rt: &ResourceType,
    def: &AttrDef,
    label: &str,
    existing: Option<&Value>,
    raw: Value,
) -> Result<Option<Value>, ScimError> {
    // Entra's `"manager": [{"$ref": ..., "value": ...}]`: a one-element list for one value.
    let raw = match raw {
        Value::Array(items) if !def.multi_valued && items.len() == 1 => {
            items.into_iter().next().unwrap_or(Value::Null)
        }
        other => other,
    };
    let cleared: Vec<&'static str> = match &raw {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| is_blank(v))
            .filter_map(|(k, _)| def.sub_attribute(k))
            .map(|s| s.name)
            .collect(),
        _ => Vec::new(),
    };
    let blank = is_blank(&raw);
    let new = canonical_element(rt, def, label, raw)?;
    if blank {
        return Ok(None);
    }
    let mut out = existing.and_then(Value::as_object).cloned().unwrap_or_default();
    for name in cleared {
        out.remove(name);
    }
    if let Some(Value::Object(fields)) = new {
        out.extend(fields);
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The element an add-or-create makes from a filter's `eq` terms: `type eq "work"` gives
/// `{"type": "work"}`, `primary eq "True"` gives `{"primary": true}`. Filters that do not
/// describe one element (`or`, `co`, ...) cannot create it: `noTarget`.
fn element_from_filter(
    rt: &ResourceType,
    def: &AttrDef,
    f: &Filter,
    target: &Target,
) -> Result<Value, ScimError> {
    let mut fields = Map::new();
    let mut pending = vec![f];
    while let Some(term) = pending.pop() {
        match term {
            Filter::And(a, b) => {
                pending.push(a);
                pending.push(b);
            }
            Filter::Compare { path, op: CompareOp::Eq, value } if path.sub.is_none() => {
                let sub = def.sub_attribute(&path.attr).ok_or_else(|| no_target(target))?;
                let literal = match value {
                    CompValue::Str(s) => Value::from(s.clone()),
                    CompValue::Num(n) => Value::Number(n.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Null => continue,
                };
                if let Some(v) = canonical_value(rt, sub, &target.text, literal)? {
                    fields.insert(sub.name.to_string(), v);
                }
            }
            _ => return Err(no_target(target)),
        }
    }
    Ok(Value::Object(fields))
}

fn no_target(target: &Target) -> ScimError {
    ScimError::no_target(format!(
        "no value matches {}, and its filter does not describe one value to create \
         (only 'eq' terms joined by 'and' do)",
        quote(&target.text)
    ))
}

/// Whether `op` is an `add` of values to a whole multi-valued attribute (not a group's
/// `members`, not immutable), the kind [`add_run`] applies.
fn is_list_add(rt: &ResourceType, op: &Operation) -> bool {
    let attr = op.target.path.attr;
    op.kind == OpKind::Add
        && op.target.filter.is_none()
        && op.target.path.sub.is_none()
        && attr.multi_valued
        && attr.mutability != Mutability::Immutable
        && !is_group_members(rt, attr)
}

/// Whether `b` continues `a`'s run of `add`s to the same list.
fn same_list_add(rt: &ResourceType, a: &Operation, b: &Operation) -> bool {
    is_list_add(rt, a)
        && is_list_add(rt, b)
        && std::ptr::eq(a.target.path.attr, b.target.path.attr)
        && std::ptr::eq(a.target.path.schema, b.target.path.schema)
}

/// Applies a run of [`is_list_add`] operations on one attribute, in order, with the same
/// result as applying each alone (`add_unique` then `keep_one_primary`), through one index of
/// the list: linear in the run's elements instead of their product with the list's length.
fn add_run(rt: &ResourceType, doc: &mut Doc, run: &[Operation]) -> Result<(), ScimError> {
    let Some(first) = run.first() else {
        return Ok(());
    };
    let def = first.target.path.attr;
    let container = doc.container(first.target.path.schema);
    let mut list = IndexedList::new(def, take_list(container, def.name));
    let mut failed = None;
    for op in run {
        let value = check_mutability(op, def).and_then(|()| {
            canonical_value(rt, def, &op.target.text, op.value.clone().unwrap_or(Value::Null))
        });
        match value {
            // Adding nothing to a list changes nothing.
            Ok(None) => {}
            Ok(Some(Value::Array(new))) => list.add_all(new),
            Ok(Some(single)) => list.add_all(vec![single]),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    set_list(container, def.name, list.items);
    failed.map_or(Ok(()), Err)
}

/// A list being added to, with what `add_unique` and `keep_one_primary` search for kept in
/// maps: the first element of each (`value`, `type`), the elements without `value` by their
/// whole content, and which elements are `primary`.
struct IndexedList<'d> {
    def: &'d AttrDef,
    items: Vec<Value>,
    by_value: HashMap<String, usize>,
    by_content: HashMap<String, BTreeSet<usize>>,
    primaries: BTreeSet<usize>,
}

impl<'d> IndexedList<'d> {
    fn new(def: &'d AttrDef, items: Vec<Value>) -> IndexedList<'d> {
        // What `set_list` would drop after the first operation.
        let items: Vec<Value> =
            items.into_iter().filter(|e| e.as_object().is_none_or(|m| !m.is_empty())).collect();
        let mut list = IndexedList {
            def,
            items: Vec::with_capacity(items.len()),
            by_value: HashMap::new(),
            by_content: HashMap::new(),
            primaries: BTreeSet::new(),
        };
        for element in items {
            list.push(element);
        }
        list
    }

    fn push(&mut self, element: Value) -> usize {
        let i = self.items.len();
        match value_key(&element) {
            Some(key) => {
                self.by_value.entry(key).or_insert(i);
            }
            None => {
                self.by_content.entry(content_key(&element)).or_default().insert(i);
            }
        }
        if is_primary(&element) {
            self.primaries.insert(i);
        }
        self.items.push(element);
        i
    }

    /// One operation's values: `add_unique` each, then `keep_one_primary`.
    fn add_all(&mut self, new: Vec<Value>) {
        let mut written = Vec::with_capacity(new.len());
        for element in new {
            written.push(self.add(element));
        }
        if self.def.sub_attribute("primary").is_none() {
            return;
        }
        let winner =
            written.iter().rev().copied().find(|i| self.primaries.contains(i)).or_else(|| {
                (self.primaries.len() > 1).then(|| self.primaries.last().copied()).flatten()
            });
        if let Some(winner) = winner {
            let losers: Vec<usize> =
                self.primaries.iter().copied().filter(|&i| i != winner).collect();
            for i in losers {
                self.update(i, |element| set_field(element, "primary", None));
            }
        }
    }

    /// `add_unique`: the first element with the same `value` and `type` (or, without a
    /// `value`, the same content) is updated in place; otherwise `element` is appended.
    fn add(&mut self, element: Value) -> usize {
        let found = match value_key(&element) {
            Some(key) => self.by_value.get(&key).copied(),
            None => self.by_content.get(&content_key(&element)).and_then(|at| at.first().copied()),
        };
        match found {
            Some(i) => {
                self.update(i, |existing| {
                    if let (Value::Object(existing), Value::Object(new)) = (existing, element) {
                        existing.extend(new);
                    }
                });
                i
            }
            None => self.push(element),
        }
    }

    /// Changes element `i` and keeps the maps true of it (its `value` and `type` never
    /// change: an update either merges an element with the same ones or drops `primary`).
    fn update(&mut self, i: usize, change: impl FnOnce(&mut Value)) {
        let Some(element) = self.items.get_mut(i) else {
            return;
        };
        let old_content = value_key(element).is_none().then(|| content_key(element));
        change(element);
        if let Some(old) = old_content {
            let new = content_key(element);
            if new != old {
                if let Some(at) = self.by_content.get_mut(&old) {
                    at.remove(&i);
                }
                self.by_content.entry(new).or_default().insert(i);
            }
        }
        if is_primary(element) {
            self.primaries.insert(i);
        } else {
            self.primaries.remove(&i);
        }
    }
}

fn is_primary(element: &Value) -> bool {
    element.get("primary") == Some(&Value::Bool(true))
}

/// The key `add_unique` matches an element with a `value` by: its `value` and `type`.
fn value_key(element: &Value) -> Option<String> {
    let value = element.get("value")?;
    let kind = element.get("type").map_or_else(String::new, content_key);
    Some(format!("{}\u{0}{kind}", content_key(value)))
}

/// A text equal for equal JSON values: objects' keys sorted (they compare regardless of
/// order).
fn content_key(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    out.push_str(&Value::from(k.as_str()).to_string());
                    out.push(':');
                    if let Some(v) = m.get(k) {
                        write(v, out);
                    }
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for item in items {
                    write(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// Appends `element` unless an equal one is there; an element with the same `value` and
/// `type` is updated in place instead. Returns the element's index.
fn add_unique(list: &mut Vec<Value>, element: Value) -> usize {
    let same = |e: &Value| {
        *e == element
            || (e.get("value").is_some()
                && e.get("value") == element.get("value")
                && e.get("type") == element.get("type"))
    };
    match list.iter().position(same) {
        Some(i) => {
            if let (Some(Value::Object(existing)), Value::Object(new)) = (list.get_mut(i), element)
            {
                existing.extend(new);
            }
            i
        }
        None => {
            list.push(element);
            list.len() - 1
        }
    }
}

/// RFC 7643 §2.4: at most one element is `primary`. When an operation wrote an element with
/// `primary: true`, the others lose it; the last one written wins.
fn keep_one_primary(def: &AttrDef, list: &mut [Value], written: &[usize]) {
    if def.sub_attribute("primary").is_none() {
        return;
    }
    let is_primary = |e: &Value| e.get("primary") == Some(&Value::Bool(true));
    let winner =
        written.iter().rev().copied().find(|&i| list.get(i).is_some_and(is_primary)).or_else(
            || {
                let primaries = list.iter().filter(|e| is_primary(e)).count();
                (primaries > 1).then(|| list.iter().rposition(is_primary)).flatten()
            },
        );
    if let Some(winner) = winner {
        for (i, element) in list.iter_mut().enumerate() {
            if i != winner && is_primary(element) {
                set_field(element, "primary", None);
            }
        }
    }
}

fn take_list(container: &mut Map<String, Value>, name: &str) -> Vec<Value> {
    match container.remove(name) {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(single) => vec![single],
    }
}

fn set_list(container: &mut Map<String, Value>, name: &str, list: Vec<Value>) {
    let list: Vec<Value> =
        list.into_iter().filter(|e| e.as_object().is_none_or(|m| !m.is_empty())).collect();
    if !list.is_empty() {
        container.insert(name.to_string(), Value::Array(list));
    }
}

fn set_or_remove(container: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    match value {
        Some(Value::Object(m)) if m.is_empty() => {
            container.remove(name);
        }
        Some(v) => {
            container.insert(name.to_string(), v);
        }
        None => {
            container.remove(name);
        }
    }
}

fn set_field(element: &mut Value, name: &str, value: Option<Value>) {
    if let Value::Object(m) = element {
        match value {
            Some(v) => m.insert(name.to_string(), v),
            None => m.remove(name),
        };
    }
}

fn single_field(name: &str, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(name.to_string(), value);
    Value::Object(m)
}

/// Translates an operation on a group's `members` into member-row changes.
fn member_op(
    rt: &ResourceType,
    op: &Operation,
    out: &mut Vec<MemberChange>,
) -> Result<(), ScimError> {
    let target = &op.target;
    if target.path.sub.is_some() {
        return Err(ScimError::invalid_path(format!(
            "{}: a member is added or removed whole; its sub-attributes cannot be changed",
            quote(&target.text)
        )));
    }
    let ids = || member_ids(rt, target, op.value.clone());
    match (op.kind, &target.filter) {
        (OpKind::Add, None) => {
            let ids = ids()?;
            if !ids.is_empty() {
                out.push(MemberChange::Add(ids));
            }
        }
        (OpKind::Replace, None) => {
            out.push(MemberChange::RemoveAll);
            let ids = ids()?;
            if !ids.is_empty() {
                out.push(MemberChange::Add(ids));
            }
        }
        (OpKind::Remove, None) => out.push(MemberChange::RemoveAll),
        (OpKind::Remove, Some(f)) => out.push(remove_matching(f)),
        (OpKind::Replace, Some(f)) => {
            out.push(remove_matching(f));
            let ids = ids()?;
            if !ids.is_empty() {
                out.push(MemberChange::Add(ids));
            }
        }
        (OpKind::Add, Some(_)) => {
            // `add` to `members[...]`: the value names the members to add.
            let ids = ids()?;
            if ids.is_empty() {
                return Err(no_target(target));
            }
            out.push(MemberChange::Add(ids));
        }
    }
    Ok(())
}

/// A removal filter that only names ids (`value eq "a" or value eq "b"`) becomes a removal
/// by id, so the store touches only those rows.
fn remove_matching(f: &Filter) -> MemberChange {
    match value_eq_ids(f) {
        Some(ids) => MemberChange::Remove(ids),
        None => MemberChange::RemoveMatching(f.clone()),
    }
}

/// The ids of a filter that only names ids (`value eq "a" or value eq "b"`).
pub(super) fn value_eq_ids(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(id) }
            if path.sub.is_none() && path.attr.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = value_eq_ids(a)?;
            ids.extend(value_eq_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// The ids in a `members` value: `[{"value": id, ...}]`, a lone object, or bare id strings.
fn member_ids(
    rt: &ResourceType,
    target: &Target,
    value: Option<Value>,
) -> Result<Vec<String>, ScimError> {
    let def = target.path.attr;
    let Some(Value::Array(items)) =
        canonical_value(rt, def, &target.text, value.unwrap_or(Value::Null))?
    else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    let mut seen = HashSet::with_capacity(items.len());
    for item in items {
        let id = item.get("value").and_then(Value::as_str).unwrap_or("").to_string();
        if id.is_empty() {
            return Err(ScimError::invalid_value(
                "every element of 'members' needs a 'value' holding a user or group id",
            ));
        }
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Names of the top-level attributes (core, then each extension's) that differ.
fn changed_attributes(rt: &ResourceType, before: &Value, after: &Value) -> Vec<&'static str> {
    let mut out = Vec::new();
    let schemas = std::iter::once(rt.schema).chain(rt.extensions.iter().copied());
    for schema in schemas {
        let (b, a) = if rt.is_extension(schema) {
            (before.get(schema.id), after.get(schema.id))
        } else {
            (Some(before), Some(after))
        };
        for attr in schema.attributes {
            let (was, is) = (b.and_then(|v| v.get(attr.name)), a.and_then(|v| v.get(attr.name)));
            if was != is {
                out.push(attr.name);
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "patch_tests.rs"]
mod tests;
