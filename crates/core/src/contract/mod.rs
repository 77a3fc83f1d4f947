//! The contract registry: data about the DTOs that evo-voice exposes.
//!
//! Every DTO is declared once, as a Rust type with `#[derive(Contract)]`. The
//! derive produces a [`TypeInfo`] (name, CLR namespace, base type, fields in
//! declaration order with their CLR type and description, enum members, and for
//! request DTOs the operation: routes, verbs, auth, roles, response type) and a
//! lossless conversion to and from the reflective [`Value`] tree.
//!
//! Every wire format (JSON, XML DataContract, CSV, JSV, HTML), every metadata
//! page, every `/types/{lang}` generator and the OpenAPI document walks these
//! descriptions, so a field added to a DTO shows up everywhere with no other
//! edit.
//!
//! Invariant: nothing in this module knows about a concrete format.

mod field;
mod registry;
mod value;

pub use evo_contract_derive::Contract;
pub use field::Field;
pub use registry::{all_types, operations, type_by_name, types_for_operations};
pub use value::{ContractError, Object, Value};

/// What the contract knows about one DTO or enum.
#[derive(Debug)]
pub struct TypeInfo {
    /// The CLR class name, e.g. `SessionInfo`.
    pub name: &'static str,
    /// The CLR namespace, e.g. `Voice.Api.Sessions`. The DataContract XML
    /// namespace is derived from it.
    pub namespace: &'static str,
    /// The `[Api(Description=...)]` text, from the type's doc comment.
    pub description: Option<&'static str>,
    /// Whether the members carry `[DataMember(Order=n)]` in declaration order
    /// (ServiceStack's own DTOs), which overrides the ordinal XML order.
    pub declared_order: bool,
    /// Class or enum details.
    pub kind: TypeKind,
}

/// Whether a type is a class (with fields) or an enum (with members).
#[derive(Debug)]
pub enum TypeKind {
    /// A class: optional base class, own fields, and (for request DTOs) an operation.
    Class(ClassInfo),
    /// An enum with named integer members.
    Enum(EnumInfo),
}

/// A class DTO.
#[derive(Debug)]
pub struct ClassInfo {
    /// The base class, whose members are inherited (e.g. `EntityInfo`).
    pub base: Option<TypeRef>,
    /// The type's own fields in declaration order (inherited ones excluded).
    pub fields: &'static [FieldInfo],
    /// Present on request DTOs: how the operation is exposed.
    pub operation: Option<OperationInfo>,
}

/// An enum DTO.
#[derive(Debug)]
pub struct EnumInfo {
    /// Members in declaration order with their integer values.
    pub members: &'static [(&'static str, i64)],
}

/// A lazily resolved reference to another type (a function pointer, so that
/// statics can refer to each other in cycles).
pub type TypeRef = fn() -> &'static TypeInfo;

/// One field of a class DTO.
#[derive(Debug)]
pub struct FieldInfo {
    /// The CLR member name, PascalCase (`DialState`).
    pub name: &'static str,
    /// The JSON member name, camelCase (`dialState`).
    pub json_name: &'static str,
    /// The `[ApiMember(Description=...)]` text, from the field's doc comment.
    pub description: Option<&'static str>,
    /// The CLR shape of the field.
    pub ty: &'static FieldType,
}

/// The CLR shape of a field, as far as the wire formats and generators care.
#[derive(Debug)]
pub enum FieldType {
    /// `String` (a reference type: may be null).
    String,
    /// `Boolean`.
    Bool,
    /// `Int32`.
    Int32,
    /// `Int64`.
    Int64,
    /// `Double`.
    Double,
    /// A value type made nullable (`Nullable<T>`).
    Nullable(&'static FieldType),
    /// An enum DTO.
    Enum(TypeRef),
    /// A class DTO.
    Class(TypeRef),
    /// `List<T>` (`ResizeArray<T>` in F#).
    List(&'static FieldType),
    /// `Dictionary<String, String>`.
    StringMap,
}

impl FieldType {
    /// Whether a null value is possible for this CLR type.
    pub fn is_nullable(&self) -> bool {
        !matches!(
            self,
            FieldType::Bool
                | FieldType::Int32
                | FieldType::Int64
                | FieldType::Double
                | FieldType::Enum(_)
        )
    }

    /// The referenced DTO (enum or class), looking through lists and nullables.
    pub fn referenced_type(&self) -> Option<&'static TypeInfo> {
        match self {
            FieldType::Enum(r) | FieldType::Class(r) => Some(r()),
            FieldType::List(inner) | FieldType::Nullable(inner) => inner.referenced_type(),
            _ => None,
        }
    }
}

/// How a request DTO is exposed as an operation.
#[derive(Debug)]
pub struct OperationInfo {
    /// Custom routes (`[Route("/sessions/active", "GET")]`).
    pub routes: &'static [RouteInfo],
    /// The response DTO (`IReturn<T>`), if any.
    pub response: Option<TypeRef>,
    /// Whether the operation requires authentication (`[Authenticate]`).
    pub requires_auth: bool,
    /// Roles that are all required (`[RequiredRole]`).
    pub required_roles: &'static [&'static str],
    /// Tags for grouping in documentation.
    pub tags: &'static [&'static str],
}

impl OperationInfo {
    /// The verb a client uses by default (ServiceStack's `getMethod()`): the
    /// first verb of the first route, else POST.
    pub fn default_verb(&self) -> &'static str {
        self.routes
            .first()
            .and_then(|route| route.verbs.first().copied())
            .unwrap_or("POST")
    }

    /// Whether any route of the operation allows `verb`.
    pub fn allows_verb(&self, verb: &str) -> bool {
        self.routes.is_empty()
            || self.routes.iter().any(|route| {
                route.verbs.is_empty() || route.verbs.iter().any(|v| v.eq_ignore_ascii_case(verb))
            })
    }
}

/// One custom route of an operation.
#[derive(Debug)]
pub struct RouteInfo {
    /// The path template, e.g. `/sessions/{sessionId}`.
    pub path: &'static str,
    /// Allowed verbs, upper-case; empty means any.
    pub verbs: &'static [&'static str],
}

impl TypeInfo {
    /// The XML namespace of the type's DataContract.
    pub fn xml_namespace(&self) -> String {
        xml_namespace_of(self.namespace)
    }

    /// Class details, if the type is a class.
    pub fn class(&self) -> Option<&ClassInfo> {
        match &self.kind {
            TypeKind::Class(class) => Some(class),
            TypeKind::Enum(_) => None,
        }
    }

    /// Enum details, if the type is an enum.
    pub fn enumeration(&self) -> Option<&EnumInfo> {
        match &self.kind {
            TypeKind::Enum(e) => Some(e),
            TypeKind::Class(_) => None,
        }
    }

    /// The base class, if any.
    pub fn base(&self) -> Option<&'static TypeInfo> {
        self.class().and_then(|class| class.base.map(|base| base()))
    }

    /// The operation, if this is a request DTO.
    pub fn operation(&self) -> Option<&OperationInfo> {
        self.class().and_then(|class| class.operation.as_ref())
    }

    /// Own fields (empty for enums).
    pub fn fields(&self) -> &'static [FieldInfo] {
        match &self.kind {
            TypeKind::Class(class) => class.fields,
            TypeKind::Enum(_) => &[],
        }
    }

    /// All fields in JSON order: own fields first, then the base's.
    pub fn json_fields(&self) -> Vec<&'static FieldInfo> {
        let mut fields: Vec<&'static FieldInfo> = self.fields().iter().collect();
        if let Some(base) = self.base() {
            fields.extend(base.json_fields());
        }
        fields
    }
}

/// The XML namespace of a CLR namespace: ServiceStack's own types use
/// `http://schemas.servicestack.net/types` (its `[assembly: ContractNamespace]`),
/// everything else the DataContract default.
pub fn xml_namespace_of(clr_namespace: &str) -> String {
    if clr_namespace == "ServiceStack" {
        "http://schemas.servicestack.net/types".to_string()
    } else {
        format!("http://schemas.datacontract.org/2004/07/{clr_namespace}")
    }
}

/// Implemented by every `#[derive(Contract)]` type.
pub trait Contract: Field {
    /// The type's contract description.
    fn type_info() -> &'static TypeInfo;
}

/// Two type descriptions are the same type when they name the same CLR type.
impl PartialEq for TypeInfo {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other) || (self.name == other.name && self.namespace == other.namespace)
    }
}
