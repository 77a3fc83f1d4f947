//! `#[derive(Contract)]`: one Rust declaration of a DTO becomes its contract.
//!
//! For a struct the derive emits a static `TypeInfo` (CLR name, namespace,
//! base class, fields with CLR types and descriptions, and the operation for
//! request DTOs) plus the conversions to and from the reflective `Value` tree.
//! For a fieldless enum it emits the members with their integer values.
//!
//! Descriptions come from doc comments, so they are written exactly once.
//! The generated code refers to `::evo_core::contract`, so the derive is only
//! meant for evo-core and crates that depend on it.
//!
//! Attributes:
//! - on the type: `#[contract(namespace = "Voice.Api.Sessions")]`, and on
//!   request DTOs `route(path = "/sessions/active", verbs = "GET")` (repeatable),
//!   `returns = ResponseType`, `authenticate`, `roles("User")`, `tags("Sessions")`,
//!   `name = "ClrName"` to override the type name, `declared_order` when the
//!   members carry `[DataMember(Order=n)]` (XML keeps declaration order);
//! - on a field: `#[contract(base)]` marks the inherited base class part,
//!   `#[contract(name = "ClrName")]` overrides the member name.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Expr, Fields, Lit, LitStr, Meta, Type};

/// Derives `evo_core::contract::Contract` and `Field` for a DTO struct or enum.
#[proc_macro_derive(Contract, attributes(contract))]
pub fn derive_contract(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

#[derive(Default)]
struct TypeAttrs {
    namespace: Option<LitStr>,
    name: Option<LitStr>,
    routes: Vec<(LitStr, Vec<String>)>,
    returns: Option<Type>,
    authenticate: bool,
    roles: Vec<LitStr>,
    tags: Vec<LitStr>,
    declared_order: bool,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let attrs = parse_type_attrs(&input.attrs)?;
    let ident = &input.ident;
    let clr_name = attrs
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new(&ident.to_string(), ident.span()));
    let namespace = attrs.namespace.clone().ok_or_else(|| {
        syn::Error::new_spanned(
            ident,
            "a contract type needs #[contract(namespace = \"...\")]",
        )
    })?;
    let description = option_lit(doc_text(&input.attrs));
    match &input.data {
        Data::Struct(data) => expand_struct(
            input,
            &attrs,
            &clr_name,
            &namespace,
            &description,
            &data.fields,
        ),
        Data::Enum(data) => {
            if attrs.returns.is_some() || !attrs.routes.is_empty() {
                return Err(syn::Error::new_spanned(
                    ident,
                    "an enum cannot be an operation",
                ));
            }
            expand_enum(input, &clr_name, &namespace, &description, data)
        }
        Data::Union(_) => Err(syn::Error::new_spanned(
            ident,
            "unions cannot be contract types",
        )),
    }
}

fn expand_struct(
    input: &DeriveInput,
    attrs: &TypeAttrs,
    clr_name: &LitStr,
    namespace: &LitStr,
    description: &TokenStream2,
    fields: &Fields,
) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let named: Vec<&syn::Field> = match fields {
        Fields::Named(named) => named.named.iter().collect(),
        Fields::Unit => Vec::new(),
        Fields::Unnamed(_) => {
            return Err(syn::Error::new_spanned(
                ident,
                "contract structs need named fields",
            ))
        }
    };

    let mut base: Option<(&syn::Ident, &Type)> = None;
    let mut own = Vec::new();
    for field in &named {
        let field_ident = field.ident.as_ref().expect("named field");
        let (is_base, rename) = parse_field_attrs(&field.attrs)?;
        if is_base {
            if base.is_some() {
                return Err(syn::Error::new_spanned(
                    field,
                    "only one base class is allowed",
                ));
            }
            base = Some((field_ident, &field.ty));
        } else {
            let clr = rename.unwrap_or_else(|| pascal_case(&field_ident.to_string()));
            own.push((field_ident, &field.ty, clr, doc_text(&field.attrs)));
        }
    }

    let field_infos = own.iter().map(|(_, ty, clr, doc)| {
        let json = camel_case(clr);
        let doc = option_lit(doc.clone());
        quote! {
            ::evo_core::contract::FieldInfo {
                name: #clr,
                json_name: #json,
                description: #doc,
                ty: <#ty as ::evo_core::contract::Field>::FIELD_TYPE,
            }
        }
    });
    let base_ref = match base {
        Some((_, ty)) => quote! { Some(<#ty as ::evo_core::contract::Contract>::type_info) },
        None => quote! { None },
    };
    let operation = operation_tokens(attrs);
    let declared_order = attrs.declared_order;

    let to_fields = own.iter().map(|(field_ident, ty, _, _)| {
        quote! { <#ty as ::evo_core::contract::Field>::to_value(&self.#field_ident) }
    });
    let to_base = match base {
        Some((field_ident, ty)) => quote! {
            match <#ty as ::evo_core::contract::Field>::to_value(&self.#field_ident) {
                ::evo_core::contract::Value::Object(object) => Some(Box::new(object)),
                _ => None,
            }
        },
        None => quote! { None },
    };
    let from_fields = own.iter().enumerate().map(|(index, (field_ident, ty, clr, _))| {
        quote! {
            #field_ident: match object.fields.get(#index) {
                // A null (or absent) member takes the CLR default, as ServiceStack binds it.
                Some(::evo_core::contract::Value::Null) | None => <#ty as ::evo_core::contract::Field>::missing(),
                Some(value) => <#ty as ::evo_core::contract::Field>::from_value(value).map_err(|source| {
                    ::evo_core::contract::ContractError::Field { field: #clr, source: Box::new(source) }
                })?,
            }
        }
    });
    let from_base = base.map(|(field_ident, ty)| {
        quote! {
            #field_ident: match &object.base {
                Some(base) => <#ty as ::evo_core::contract::Field>::from_value(
                    &::evo_core::contract::Value::Object((**base).clone()),
                )?,
                None => <#ty as ::evo_core::contract::Field>::missing(),
            },
        }
    });
    let missing_fields = named.iter().map(|field| {
        let field_ident = &field.ident;
        let ty = &field.ty;
        quote! { #field_ident: <#ty as ::evo_core::contract::Field>::missing() }
    });

    Ok(quote! {
        impl ::evo_core::contract::Contract for #ident {
            fn type_info() -> &'static ::evo_core::contract::TypeInfo {
                static FIELDS: &[::evo_core::contract::FieldInfo] = &[#(#field_infos),*];
                static INFO: ::evo_core::contract::TypeInfo = ::evo_core::contract::TypeInfo {
                    name: #clr_name,
                    namespace: #namespace,
                    description: #description,
                    declared_order: #declared_order,
                    kind: ::evo_core::contract::TypeKind::Class(::evo_core::contract::ClassInfo {
                        base: #base_ref,
                        fields: FIELDS,
                        operation: #operation,
                    }),
                };
                &INFO
            }
        }

        impl ::evo_core::contract::Field for #ident {
            const FIELD_TYPE: &'static ::evo_core::contract::FieldType =
                &::evo_core::contract::FieldType::Class(<#ident as ::evo_core::contract::Contract>::type_info);

            fn to_value(&self) -> ::evo_core::contract::Value {
                ::evo_core::contract::Value::Object(::evo_core::contract::Object {
                    ty: <#ident as ::evo_core::contract::Contract>::type_info(),
                    fields: vec![#(#to_fields),*],
                    base: #to_base,
                })
            }

            fn from_value(value: &::evo_core::contract::Value) -> ::core::result::Result<Self, ::evo_core::contract::ContractError> {
                match value {
                    ::evo_core::contract::Value::Object(object) => Ok(#ident {
                        #from_base
                        #(#from_fields),*
                    }),
                    ::evo_core::contract::Value::Null => Ok(<#ident as ::evo_core::contract::Field>::missing()),
                    other => Err(::evo_core::contract::ContractError::mismatch("an object", other)),
                }
            }

            fn missing() -> Self {
                #ident { #(#missing_fields),* }
            }
        }
    })
}

fn operation_tokens(attrs: &TypeAttrs) -> TokenStream2 {
    let is_operation = !attrs.routes.is_empty() || attrs.returns.is_some() || attrs.authenticate;
    if !is_operation {
        return quote! { None };
    }
    let routes = attrs.routes.iter().map(|(path, verbs)| {
        quote! { ::evo_core::contract::RouteInfo { path: #path, verbs: &[#(#verbs),*] } }
    });
    let response = match &attrs.returns {
        Some(ty) => quote! { Some(<#ty as ::evo_core::contract::Contract>::type_info) },
        None => quote! { None },
    };
    let requires_auth = attrs.authenticate || !attrs.roles.is_empty();
    let roles = &attrs.roles;
    let tags = &attrs.tags;
    quote! {
        Some(::evo_core::contract::OperationInfo {
            routes: &[#(#routes),*],
            response: #response,
            requires_auth: #requires_auth,
            required_roles: &[#(#roles),*],
            tags: &[#(#tags),*],
        })
    }
}

fn expand_enum(
    input: &DeriveInput,
    clr_name: &LitStr,
    namespace: &LitStr,
    description: &TokenStream2,
    data: &syn::DataEnum,
) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let mut members = Vec::new();
    let mut next_value: i64 = 0;
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                variant,
                "contract enums must be fieldless",
            ));
        }
        if let Some((_, expr)) = &variant.discriminant {
            next_value = literal_integer(expr)?;
        }
        members.push((&variant.ident, variant.ident.to_string(), next_value));
        next_value += 1;
    }
    if members.is_empty() {
        return Err(syn::Error::new_spanned(
            ident,
            "a contract enum needs members",
        ));
    }
    let member_infos = members
        .iter()
        .map(|(_, name, value)| quote! { (#name, #value) });
    let to_names = members
        .iter()
        .map(|(variant, name, _)| quote! { #ident::#variant => #name });
    let from_names = members.iter().map(|(variant, name, _)| {
        quote! { if text.eq_ignore_ascii_case(#name) { return Ok(#ident::#variant); } }
    });
    let from_ints = members
        .iter()
        .map(|(variant, _, value)| quote! { #value => Ok(#ident::#variant) });
    let first = members[0].0;

    Ok(quote! {
        impl ::evo_core::contract::Contract for #ident {
            fn type_info() -> &'static ::evo_core::contract::TypeInfo {
                static INFO: ::evo_core::contract::TypeInfo = ::evo_core::contract::TypeInfo {
                    name: #clr_name,
                    namespace: #namespace,
                    description: #description,
                    declared_order: false,
                    kind: ::evo_core::contract::TypeKind::Enum(::evo_core::contract::EnumInfo {
                        members: &[#(#member_infos),*],
                    }),
                };
                &INFO
            }
        }

        impl #ident {
            /// The member's name as it appears on the wire.
            pub fn name(&self) -> &'static str {
                match self { #(#to_names),* }
            }

            /// Parses a member name (case-insensitive) as ServiceStack does.
            pub fn from_name(text: &str) -> ::core::result::Result<Self, ::evo_core::contract::ContractError> {
                #(#from_names)*
                Err(::evo_core::contract::ContractError::UnknownEnumMember {
                    enum_name: #clr_name,
                    value: text.to_string(),
                })
            }
        }

        impl ::evo_core::contract::Field for #ident {
            const FIELD_TYPE: &'static ::evo_core::contract::FieldType =
                &::evo_core::contract::FieldType::Enum(<#ident as ::evo_core::contract::Contract>::type_info);

            fn to_value(&self) -> ::evo_core::contract::Value {
                ::evo_core::contract::Value::Enum(self.name())
            }

            fn from_value(value: &::evo_core::contract::Value) -> ::core::result::Result<Self, ::evo_core::contract::ContractError> {
                let text: &str = match value {
                    ::evo_core::contract::Value::Enum(text) => text,
                    ::evo_core::contract::Value::Str(text) => text.trim(),
                    ::evo_core::contract::Value::Int(number) => {
                        return match *number {
                            #(#from_ints,)*
                            _ => Err(::evo_core::contract::ContractError::UnknownEnumMember {
                                enum_name: #clr_name,
                                value: number.to_string(),
                            }),
                        };
                    }
                    ::evo_core::contract::Value::Null => return Ok(<#ident as ::evo_core::contract::Field>::missing()),
                    other => return Err(::evo_core::contract::ContractError::mismatch("an enum member name", other)),
                };
                match text.parse::<i64>() {
                    Ok(number) => Self::from_value(&::evo_core::contract::Value::Int(number)),
                    Err(_) => Self::from_name(text),
                }
            }

            fn missing() -> Self {
                #ident::#first
            }
        }
    })
}

fn parse_type_attrs(attrs: &[syn::Attribute]) -> syn::Result<TypeAttrs> {
    let mut parsed = TypeAttrs::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("contract")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("namespace") {
                parsed.namespace = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("name") {
                parsed.name = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("returns") {
                parsed.returns = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("authenticate") {
                parsed.authenticate = true;
            } else if meta.path.is_ident("declared_order") {
                parsed.declared_order = true;
            } else if meta.path.is_ident("roles") || meta.path.is_ident("tags") {
                let content;
                syn::parenthesized!(content in meta.input);
                let items =
                    syn::punctuated::Punctuated::<LitStr, syn::Token![,]>::parse_terminated(
                        &content,
                    )?;
                if meta.path.is_ident("roles") {
                    parsed.roles.extend(items);
                } else {
                    parsed.tags.extend(items);
                }
            } else if meta.path.is_ident("route") {
                let mut path = None;
                let mut verbs = Vec::new();
                meta.parse_nested_meta(|inner| {
                    if inner.path.is_ident("path") {
                        path = Some(inner.value()?.parse::<LitStr>()?);
                    } else if inner.path.is_ident("verbs") {
                        let text: LitStr = inner.value()?.parse()?;
                        verbs = text
                            .value()
                            .split(',')
                            .map(|verb| verb.trim().to_ascii_uppercase())
                            .filter(|verb| !verb.is_empty())
                            .collect();
                    } else {
                        return Err(inner.error("expected `path` or `verbs`"));
                    }
                    Ok(())
                })?;
                let path = path.ok_or_else(|| meta.error("a route needs a path"))?;
                parsed.routes.push((path, verbs));
            } else {
                return Err(meta.error("unknown contract attribute"));
            }
            Ok(())
        })?;
    }
    Ok(parsed)
}

fn parse_field_attrs(attrs: &[syn::Attribute]) -> syn::Result<(bool, Option<String>)> {
    let mut is_base = false;
    let mut rename = None;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("contract")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("base") {
                is_base = true;
            } else if meta.path.is_ident("name") {
                rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else {
                return Err(meta.error("expected `base` or `name`"));
            }
            Ok(())
        })?;
    }
    Ok((is_base, rename))
}

/// The doc comment of an item as one string (lines joined with spaces), or
/// `None` when there is none.
fn doc_text(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(expr) => match &expr.lit {
                    Lit::Str(text) => Some(text.value().trim().to_string()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .filter(|line| !line.is_empty())
        .collect();
    if lines.is_empty() {
        None
    } else {
        Some(lines.join(" "))
    }
}

fn option_lit(text: Option<String>) -> TokenStream2 {
    match text {
        Some(text) => quote! { Some(#text) },
        None => quote! { None },
    }
}

fn literal_integer(expr: &Expr) -> syn::Result<i64> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Int(int) => int.base10_parse(),
            _ => Err(syn::Error::new_spanned(
                expr,
                "expected an integer discriminant",
            )),
        },
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => {
            Ok(-literal_integer(&unary.expr)?)
        }
        _ => Err(syn::Error::new_spanned(
            expr,
            "expected an integer discriminant",
        )),
    }
}

/// `dial_state` → `DialState`.
fn pascal_case(snake: &str) -> String {
    snake
        .trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `DialState` → `dialState`, as ServiceStack's camelCase does.
fn camel_case(pascal: &str) -> String {
    let mut chars = pascal.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}
