//! XML as .NET's DataContractSerializer writes it (ServiceStack's XML
//! format), derived from the contract registry.
//!
//! The rules, as the spec's sample shows them:
//! - the root element is the type name, declaring `xmlns:i` (schema
//!   instance) and the root type's namespace as the default namespace;
//! - base-class members come first, then the type's own members, each group
//!   sorted by ordinal (byte) order of member name, unless the type keeps
//!   `[DataMember(Order)]` declaration order (ServiceStack's own DTOs);
//! - a member whose type's namespace is not the default one gets a local
//!   `xmlns="…"` when it is the base class's member; a member whose value
//!   is of a foreign namespace (a nested contract, a list of them,
//!   `Dictionary<string,string>` or a list of strings in the Arrays
//!   namespace) declares a generated prefix `d{depth}p1` on its element,
//!   where depth counts elements from the root (= 1), and the value's
//!   elements use that prefix;
//! - null members are `<Name i:nil="true" />`, booleans `true`/`false`,
//!   enums their member names.

use evo_core::contract::{Contract, FieldInfo, FieldType, Object, TypeInfo, TypeKind, Value};
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::WireError;

const INSTANCE_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const ARRAYS_NS: &str = "http://schemas.microsoft.com/2003/10/Serialization/Arrays";

/// Serializes a DTO to compact XML with the `<?xml …?>` declaration, as
/// ServiceStack responds.
pub fn to_xml<T: Contract>(dto: &T) -> Vec<u8> {
    value_to_xml(&dto.to_value(), T::type_info(), false).into_bytes()
}

/// Serializes a value whose root type is `ty`. `indented` reproduces the
/// 2-space layout of ServiceStack's metadata pages and omits the
/// declaration; compact output carries it.
pub fn value_to_xml(value: &Value, ty: &'static TypeInfo, indented: bool) -> String {
    let mut writer = XmlWriter {
        out: String::with_capacity(1024),
        indented,
    };
    if !indented {
        writer
            .out
            .push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    }
    let name = ty.name;
    let namespace = ty.xml_namespace();
    match value {
        Value::Object(object) => {
            writer.open(
                0,
                name,
                &format!(
                    " xmlns:i=\"{INSTANCE_NS}\" xmlns=\"{}\"",
                    escape(&namespace)
                ),
            );
            let scope = Scope {
                default_ns: namespace,
                prefix: None,
            };
            writer.members(object, 1, &scope);
            writer.close(0, name);
        }
        other => {
            // A non-object root (not produced by the API) as a single element.
            writer.line(
                0,
                &format!(
                    "<{name} xmlns:i=\"{INSTANCE_NS}\">{}</{name}>",
                    escape(&scalar_text(other))
                ),
            );
        }
    }
    writer.out
}

/// The namespaces in force where an element is written.
#[derive(Clone)]
struct Scope {
    default_ns: String,
    /// A declared prefix and its namespace.
    prefix: Option<(String, String)>,
}

impl Scope {
    /// The qualified name of an element in namespace `ns`, and the local
    /// `xmlns` attribute it needs when no prefix covers it.
    fn name(&self, local: &str, ns: &str) -> (String, String) {
        if ns == self.default_ns {
            return (local.to_string(), String::new());
        }
        if let Some((prefix, prefixed_ns)) = &self.prefix {
            if prefixed_ns == ns {
                return (format!("{prefix}:{local}"), String::new());
            }
        }
        (local.to_string(), format!(" xmlns=\"{}\"", escape(ns)))
    }
}

struct XmlWriter {
    out: String,
    indented: bool,
}

impl XmlWriter {
    fn indent(&mut self, depth: usize) {
        if self.indented {
            if !self.out.is_empty() {
                self.out.push('\n');
            }
            for _ in 0..depth {
                self.out.push_str("  ");
            }
        }
    }

    fn line(&mut self, depth: usize, text: &str) {
        self.indent(depth);
        self.out.push_str(text);
    }

    fn open(&mut self, depth: usize, name: &str, attributes: &str) {
        self.line(depth, &format!("<{name}{attributes}>"));
    }

    fn close(&mut self, depth: usize, name: &str) {
        self.line(depth, &format!("</{name}>"));
    }

    /// Writes an object's members: base first, then own, each sorted.
    fn members(&mut self, object: &Object, depth: usize, scope: &Scope) {
        if let Some(base) = &object.base {
            self.members(base, depth, scope);
        }
        let ty = object.ty;
        let namespace = ty.xml_namespace();
        let mut entries: Vec<(&FieldInfo, &Value)> =
            ty.fields().iter().zip(object.fields.iter()).collect();
        if !ty.declared_order {
            entries.sort_by(|a, b| a.0.name.as_bytes().cmp(b.0.name.as_bytes()));
        }
        for (field, value) in entries {
            self.member(field.name, &namespace, field.ty, value, depth, scope);
        }
    }

    fn member(
        &mut self,
        local: &str,
        ns: &str,
        field_type: &'static FieldType,
        value: &Value,
        depth: usize,
        scope: &Scope,
    ) {
        let (name, xmlns) = scope.name(local, ns);
        if matches!(value, Value::Null) {
            self.line(depth, &format!("<{name}{xmlns} i:nil=\"true\" />"));
            return;
        }
        // The namespace of the value's own elements, when it has any.
        let inner_ns = value_namespace(field_type, value);
        let mut inner_scope = scope.clone();
        let mut declaration = String::new();
        if let Some(inner_ns) = &inner_ns {
            if !xmlns.is_empty() {
                // The member element resets the default namespace.
                inner_scope.default_ns = ns.to_string();
            }
            if *inner_ns != inner_scope.default_ns {
                let prefix = format!("d{}p1", depth + 1);
                declaration = format!(" xmlns:{prefix}=\"{}\"", escape(inner_ns));
                inner_scope.prefix = Some((prefix, inner_ns.clone()));
            }
        }
        match value {
            Value::Object(object) => {
                self.open(depth, &name, &format!("{xmlns}{declaration}"));
                self.members(object, depth + 1, &inner_scope);
                self.close(depth, &name);
            }
            Value::List(items) => {
                if items.is_empty() {
                    self.line(depth, &format!("<{name}{xmlns}{declaration} />"));
                    return;
                }
                self.open(depth, &name, &format!("{xmlns}{declaration}"));
                let item_type = match field_type {
                    FieldType::List(inner) => inner,
                    other => other,
                };
                for item in items {
                    self.list_item(item_type, item, depth + 1, &inner_scope);
                }
                self.close(depth, &name);
            }
            Value::Map(entries) => {
                if entries.is_empty() {
                    self.line(depth, &format!("<{name}{xmlns}{declaration} />"));
                    return;
                }
                self.open(depth, &name, &format!("{xmlns}{declaration}"));
                let (pair, _) = inner_scope.name("KeyValueOfstringstring", ARRAYS_NS);
                let (key, _) = inner_scope.name("Key", ARRAYS_NS);
                let (val, _) = inner_scope.name("Value", ARRAYS_NS);
                for (k, v) in entries {
                    self.open(depth + 1, &pair, "");
                    self.line(depth + 2, &format!("<{key}>{}</{key}>", escape(k)));
                    self.line(depth + 2, &format!("<{val}>{}</{val}>", escape(v)));
                    self.close(depth + 1, &pair);
                }
                self.close(depth, &name);
            }
            scalar => {
                self.line(
                    depth,
                    &format!("<{name}{xmlns}>{}</{name}>", escape(&scalar_text(scalar))),
                );
            }
        }
    }

    fn list_item(
        &mut self,
        item_type: &'static FieldType,
        item: &Value,
        depth: usize,
        scope: &Scope,
    ) {
        match item {
            Value::Object(object) => {
                let ns = object.ty.xml_namespace();
                let (name, xmlns) = scope.name(object.ty.name, &ns);
                self.open(depth, &name, &xmlns);
                self.members(object, depth + 1, scope);
                self.close(depth, &name);
            }
            other => {
                let local = primitive_name(item_type);
                let ns = match item_type {
                    FieldType::Enum(r) => r().xml_namespace(),
                    _ => ARRAYS_NS.to_string(),
                };
                let (name, xmlns) = scope.name(&local, &ns);
                if matches!(other, Value::Null) {
                    self.line(depth, &format!("<{name}{xmlns} i:nil=\"true\" />"));
                } else {
                    self.line(
                        depth,
                        &format!("<{name}{xmlns}>{}</{name}>", escape(&scalar_text(other))),
                    );
                }
            }
        }
    }
}

/// The namespace of the elements inside a member's value, if it has any.
fn value_namespace(field_type: &'static FieldType, value: &Value) -> Option<String> {
    match (field_type, value) {
        (_, Value::Map(_)) | (FieldType::StringMap, _) => Some(ARRAYS_NS.to_string()),
        (_, Value::Object(object)) => Some(object.ty.xml_namespace()),
        (FieldType::List(inner), _) | (FieldType::Nullable(inner), _) => match inner {
            FieldType::Class(r) | FieldType::Enum(r) => Some(r().xml_namespace()),
            FieldType::List(_) | FieldType::Nullable(_) => value_namespace(inner, value),
            _ => Some(ARRAYS_NS.to_string()),
        },
        _ => None,
    }
}

/// DataContract names of primitive list items.
fn primitive_name(field_type: &FieldType) -> String {
    match field_type {
        FieldType::String => "string".to_string(),
        FieldType::Bool => "boolean".to_string(),
        FieldType::Int32 => "int".to_string(),
        FieldType::Int64 => "long".to_string(),
        FieldType::Double => "double".to_string(),
        FieldType::Nullable(inner) => primitive_name(inner),
        FieldType::Enum(r) | FieldType::Class(r) => r().name.to_string(),
        FieldType::List(_) => "ArrayOfstring".to_string(),
        FieldType::StringMap => "ArrayOfKeyValueOfstringstring".to_string(),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Bool(true) => "true".to_string(),
        Value::Bool(false) => "false".to_string(),
        Value::Int(number) => number.to_string(),
        Value::Double(number) => number.to_string(),
        Value::Str(text) => text.clone(),
        Value::Enum(name) => (*name).to_string(),
        _ => String::new(),
    }
}

/// Escapes text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A parsed element: local name, nil flag, text and children.
#[derive(Debug, Default)]
struct Element {
    name: String,
    nil: bool,
    text: String,
    children: Vec<Element>,
}

fn local_name(qualified: &[u8]) -> String {
    let text = String::from_utf8_lossy(qualified);
    match text.rsplit_once(':') {
        Some((_, local)) => local.to_string(),
        None => text.into_owned(),
    }
}

fn parse_tree(bytes: &[u8]) -> Result<Element, WireError> {
    let syntax = |message: String| WireError::Syntax {
        format: "XML",
        message,
    };
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut buffer = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buffer)
            .map_err(|error| syntax(error.to_string()))?;
        match event {
            Event::Start(start) => {
                stack.push(start_element(&start));
                if stack.len() > 64 {
                    return Err(syntax("the document is nested too deeply".to_string()));
                }
            }
            Event::Empty(start) => {
                let element = start_element(&start);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| syntax("unbalanced end tag".to_string()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    let unescaped = text.unescape().map_err(|error| syntax(error.to_string()))?;
                    current.text.push_str(&unescaped);
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if !stack.is_empty() {
        return Err(syntax("the document ended inside an element".to_string()));
    }
    root.ok_or_else(|| syntax("no root element".to_string()))
}

fn start_element(start: &quick_xml::events::BytesStart<'_>) -> Element {
    let mut element = Element {
        name: local_name(start.name().as_ref()),
        ..Element::default()
    };
    for attribute in start.attributes().flatten() {
        if local_name(attribute.key.as_ref()) == "nil" {
            element.nil = attribute
                .unescape_value()
                .map(|v| v.trim() == "true")
                .unwrap_or(false);
        }
    }
    element
}

/// Parses DataContract XML into a DTO.
pub fn from_xml<T: Contract>(bytes: &[u8]) -> Result<T, WireError> {
    let object = object_from_xml(bytes, T::type_info())?;
    T::from_value(&Value::Object(object)).map_err(WireError::from)
}

/// Parses DataContract XML whose root is of type `ty`.
pub fn object_from_xml(bytes: &[u8], ty: &'static TypeInfo) -> Result<Object, WireError> {
    let root = parse_tree(bytes)?;
    object_from_element(&root, ty)
}

fn object_from_element(element: &Element, ty: &'static TypeInfo) -> Result<Object, WireError> {
    let mut fields = Vec::with_capacity(ty.fields().len());
    for field in ty.fields() {
        let child = element.children.iter().find(|c| c.name == field.name);
        fields.push(match child {
            Some(child) => value_from_element(child, field.ty)?,
            None => Value::Null,
        });
    }
    let base = match ty.base() {
        Some(base) => Some(Box::new(object_from_element(element, base)?)),
        None => None,
    };
    Ok(Object { ty, fields, base })
}

fn value_from_element(
    element: &Element,
    field_type: &'static FieldType,
) -> Result<Value, WireError> {
    if element.nil {
        return Ok(Value::Null);
    }
    Ok(match field_type {
        FieldType::Nullable(inner) => value_from_element(element, inner)?,
        FieldType::String => Value::Str(element.text.clone()),
        FieldType::Bool
        | FieldType::Int32
        | FieldType::Int64
        | FieldType::Double
        | FieldType::Enum(_) => Value::Str(element.text.trim().to_string()),
        FieldType::Class(r) => {
            let ty = r();
            match &ty.kind {
                TypeKind::Class(_) => Value::Object(object_from_element(element, ty)?),
                TypeKind::Enum(_) => Value::Str(element.text.trim().to_string()),
            }
        }
        FieldType::List(inner) => Value::List(
            element
                .children
                .iter()
                .map(|child| value_from_element(child, inner))
                .collect::<Result<_, _>>()?,
        ),
        FieldType::StringMap => Value::Map(
            element
                .children
                .iter()
                .map(|pair| {
                    let text = |name: &str| {
                        pair.children
                            .iter()
                            .find(|c| c.name == name)
                            .map(|c| c.text.clone())
                            .unwrap_or_default()
                    };
                    (text("Key"), text("Value"))
                })
                .collect(),
        ),
    })
}
