//! The list of operations evo-voice serves, and the types they reach.

use crate::contract::{FieldType, TypeInfo, TypeRef};

/// Every request DTO evo-voice serves, in the order documentation lists them.
pub fn operations() -> Vec<&'static TypeInfo> {
    crate::api::OPERATIONS.iter().map(|op| op()).collect()
}

/// Every type reachable from the served operations, dependencies first.
pub fn all_types() -> Vec<&'static TypeInfo> {
    types_for_operations(crate::api::OPERATIONS)
}

/// The types reachable from `operations` (their requests, responses, bases and
/// field types), each listed after the types it depends on, in the order
/// ServiceStack's generators emit them: for each request, its response's
/// dependencies, the response, the request's own dependencies, the request.
pub fn types_for_operations(operations: &[TypeRef]) -> Vec<&'static TypeInfo> {
    let mut ordered = Vec::new();
    for operation in operations {
        let request = operation();
        if let Some(response) = request.operation().and_then(|op| op.response) {
            visit(response(), &mut ordered);
        }
        visit(request, &mut ordered);
    }
    ordered
}

/// Finds a type among all served types by CLR name.
pub fn type_by_name(name: &str) -> Option<&'static TypeInfo> {
    all_types().into_iter().find(|ty| ty.name == name)
}

fn visit(ty: &'static TypeInfo, ordered: &mut Vec<&'static TypeInfo>) {
    if ordered.iter().any(|seen| std::ptr::eq(*seen, ty)) {
        return;
    }
    if let Some(base) = ty.base() {
        visit(base, ordered);
    }
    for field in ty.fields() {
        visit_field_type(field.ty, ordered);
    }
    if !ordered.iter().any(|seen| std::ptr::eq(*seen, ty)) {
        ordered.push(ty);
    }
}

fn visit_field_type(field_type: &'static FieldType, ordered: &mut Vec<&'static TypeInfo>) {
    match field_type {
        FieldType::Enum(r) | FieldType::Class(r) => visit(r(), ordered),
        FieldType::List(inner) | FieldType::Nullable(inner) => visit_field_type(inner, ordered),
        _ => {}
    }
}
