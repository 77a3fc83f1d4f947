//! The remaining "Add ServiceStack Reference" languages: C#, VB.NET,
//! Kotlin, Java, Swift and Dart, in the shape of ServiceStack's generators
//! (one class per DTO with its base class, `IReturn<T>` and verb markers on
//! request DTOs, `[Route]`s, descriptions as `ApiMember`/doc comments,
//! enums by name). `nullable` emits the language's nullable annotations
//! (ServiceStack's `AddNullableAnnotations`).

use std::fmt::Write;

use evo_core::contract::{FieldType, TypeInfo, TypeKind};

use crate::lang::{Options, Types};

/// A target language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    CSharp,
    VbNet,
    Kotlin,
    Java,
    Swift,
    Dart,
}

impl Lang {
    /// The generator of `language`, when it is one of this module's.
    pub fn of(language: super::Language) -> Option<Lang> {
        use super::Language as L;
        Some(match language {
            L::CSharp => Lang::CSharp,
            L::VbNet => Lang::VbNet,
            L::Kotlin => Lang::Kotlin,
            L::Java => Lang::Java,
            L::Swift => Lang::Swift,
            L::Dart => Lang::Dart,
            L::FSharp | L::TypeScript | L::Mjs | L::Python => return None,
        })
    }
}

fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The language's spelling of a field type.
pub fn type_name(lang: Lang, ty: &FieldType) -> String {
    use FieldType as F;
    match (lang, ty) {
        (_, F::Enum(r) | F::Class(r)) => r().name.to_string(),
        (_, F::Nullable(inner)) => match lang {
            Lang::CSharp | Lang::VbNet => format!("{}?", type_name(lang, inner)),
            _ => type_name(lang, inner),
        },
        (Lang::CSharp, F::String) => "string".into(),
        (Lang::CSharp, F::Bool) => "bool".into(),
        (Lang::CSharp, F::Int32) => "int".into(),
        (Lang::CSharp, F::Int64) => "long".into(),
        (Lang::CSharp, F::Double) => "double".into(),
        (Lang::CSharp, F::List(inner)) => format!("List<{}>", type_name(lang, inner)),
        (Lang::CSharp, F::StringMap) => "Dictionary<string, string>".into(),
        (Lang::VbNet, F::String) => "String".into(),
        (Lang::VbNet, F::Bool) => "Boolean".into(),
        (Lang::VbNet, F::Int32) => "Integer".into(),
        (Lang::VbNet, F::Int64) => "Long".into(),
        (Lang::VbNet, F::Double) => "Double".into(),
        (Lang::VbNet, F::List(inner)) => format!("List(Of {})", type_name(lang, inner)),
        (Lang::VbNet, F::StringMap) => "Dictionary(Of String, String)".into(),
        (Lang::Kotlin, F::String) => "String".into(),
        (Lang::Kotlin, F::Bool) => "Boolean".into(),
        (Lang::Kotlin, F::Int32) => "Int".into(),
        (Lang::Kotlin, F::Int64) => "Long".into(),
        (Lang::Kotlin, F::Double) => "Double".into(),
        (Lang::Kotlin, F::List(inner)) => format!("ArrayList<{}>", type_name(lang, inner)),
        (Lang::Kotlin, F::StringMap) => "HashMap<String,String>".into(),
        (Lang::Java, F::String) => "String".into(),
        (Lang::Java, F::Bool) => "Boolean".into(),
        (Lang::Java, F::Int32) => "Integer".into(),
        (Lang::Java, F::Int64) => "Long".into(),
        (Lang::Java, F::Double) => "Double".into(),
        (Lang::Java, F::List(inner)) => format!("ArrayList<{}>", type_name(lang, inner)),
        (Lang::Java, F::StringMap) => "HashMap<String,String>".into(),
        (Lang::Swift, F::String) => "String".into(),
        (Lang::Swift, F::Bool) => "Bool".into(),
        (Lang::Swift, F::Int32) => "Int".into(),
        (Lang::Swift, F::Int64) => "Int".into(),
        (Lang::Swift, F::Double) => "Double".into(),
        (Lang::Swift, F::List(inner)) => format!("[{}]", type_name(lang, inner)),
        (Lang::Swift, F::StringMap) => "[String:String]".into(),
        (Lang::Dart, F::String) => "String".into(),
        (Lang::Dart, F::Bool) => "bool".into(),
        (Lang::Dart, F::Int32 | F::Int64) => "int".into(),
        (Lang::Dart, F::Double) => "double".into(),
        (Lang::Dart, F::List(inner)) => format!("List<{}>", type_name(lang, inner)),
        (Lang::Dart, F::StringMap) => "Map<String,String?>".into(),
    }
}

/// Generates `types` in `lang`.
pub fn generate(lang: Lang, types: Types<'_>, options: &Options, nullable: bool) -> String {
    let mut out = String::new();
    let ns = &options.global_namespace;
    match lang {
        Lang::CSharp => {
            out.push_str("using System;\nusing System.Collections.Generic;\nusing System.Runtime.Serialization;\nusing ServiceStack;\nusing ServiceStack.DataAnnotations;\n\n");
            if nullable {
                out.push_str("#nullable enable\n\n");
            }
            let _ = writeln!(out, "namespace {ns}\n{{");
        }
        Lang::VbNet => {
            out.push_str("Imports System\nImports System.Collections.Generic\nImports System.Runtime.Serialization\nImports ServiceStack\nImports ServiceStack.DataAnnotations\n\n");
            let _ = writeln!(out, "Namespace Global\n\n    Namespace {ns}\n");
        }
        Lang::Kotlin => out.push_str("import java.util.*\nimport net.servicestack.client.*\n\n"),
        Lang::Java => {
            out.push_str("import java.util.*;\nimport net.servicestack.client.*;\n\n");
            out.push_str("public class dtos\n{\n\n");
        }
        Lang::Swift => out.push_str("import Foundation\nimport ServiceStack\n\n"),
        Lang::Dart => out.push_str("import 'package:servicestack/servicestack.dart';\n\n"),
    }
    for ty in types {
        match &ty.kind {
            TypeKind::Enum(info) => write_enum(&mut out, lang, ty, info.members),
            TypeKind::Class(_) => write_class(&mut out, lang, ty, options, nullable),
        }
    }
    if lang == Lang::Dart {
        write_dart_type_context(&mut out, types, options);
    }
    match lang {
        Lang::CSharp => out.push_str("}\n"),
        Lang::VbNet => out.push_str("    End Namespace\nEnd Namespace\n"),
        Lang::Java => out.push_str("}\n"),
        _ => {}
    }
    out
}

fn write_enum(out: &mut String, lang: Lang, ty: &TypeInfo, members: &[(&str, i64)]) {
    let name = ty.name;
    match lang {
        Lang::CSharp => {
            let _ = writeln!(out, "    public enum {name}\n    {{");
            for (member, value) in members {
                let _ = writeln!(out, "        {member} = {value},");
            }
            out.push_str("    }\n\n");
        }
        Lang::VbNet => {
            let _ = writeln!(out, "        Public Enum {name}");
            for (member, value) in members {
                let _ = writeln!(out, "            {member} = {value}");
            }
            out.push_str("        End Enum\n\n");
        }
        // Evo Voice sends enums by name, so members need no serialized-value
        // annotations.
        Lang::Kotlin => {
            let names: Vec<&str> = members.iter().map(|(m, _)| *m).collect();
            let _ = writeln!(
                out,
                "enum class {name}\n{{\n    {},\n}}\n",
                names.join(",\n    ")
            );
        }
        Lang::Java => {
            let names: Vec<&str> = members.iter().map(|(m, _)| *m).collect();
            let _ = writeln!(
                out,
                "    public static enum {name}\n    {{\n        {};\n    }}\n",
                names.join(",\n        ")
            );
        }
        // Enums without explicit values are `String` enums whose cases keep
        // the C# names (SwiftGenerator.cs:333-350, `CSharpStyleEnums` :40-42),
        // so they decode the names Evo Voice sends.
        Lang::Swift => {
            let _ = writeln!(out, "public enum {name} : String, Codable\n{{");
            for (member, _) in members {
                let _ = writeln!(out, "    case {member}");
            }
            out.push_str("}\n\n");
        }
        Lang::Dart => {
            let values: Vec<String> = members.iter().map(|(m, _)| m.to_string()).collect();
            let _ = writeln!(
                out,
                "enum {name}\n{{\n    {},\n}}\n",
                values.join(",\n    ")
            );
        }
    }
}

fn write_class(out: &mut String, lang: Lang, ty: &TypeInfo, options: &Options, nullable: bool) {
    let name = ty.name;
    let operation = ty.operation();
    let response = operation.and_then(|op| op.response).map(|r| r().name);
    let marker = operation.map(|op| op.default_verb());
    let routes: Vec<(String, String)> = if options.add_routes_and_markers {
        operation
            .map(|op| {
                op.routes
                    .iter()
                    .map(|r| (r.path.to_string(), r.verbs.join(",")))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let base = ty.base().map(|b| b.name);
    let verb_interface = |verb: &str, cs: bool| -> String {
        let v = match verb {
            "GET" => "Get",
            "PUT" => "Put",
            "DELETE" => "Delete",
            "PATCH" => "Patch",
            _ => "Post",
        };
        if cs {
            format!("I{v}")
        } else {
            v.to_string()
        }
    };
    match lang {
        Lang::CSharp => {
            for (path, verbs) in &routes {
                let _ = writeln!(out, "    [Route(\"{path}\", \"{verbs}\")]");
            }
            if let Some(description) = ty.description {
                let _ = writeln!(
                    out,
                    "    [Api(Description=\"{}\")]",
                    description.replace('"', "\\\"")
                );
            }
            let mut supers: Vec<String> = base.map(String::from).into_iter().collect();
            if let (Some(response), true) = (response, options.add_routes_and_markers) {
                supers.push(format!("IReturn<{response}>"));
                supers.push(verb_interface(marker.unwrap_or("POST"), true));
            }
            let _ = write!(out, "    public partial class {name}");
            if !supers.is_empty() {
                let _ = write!(out, "\n        : {}", supers.join(", "));
            }
            out.push_str("\n    {\n");
            for field in ty.fields() {
                if let Some(description) = field.description {
                    let _ = writeln!(
                        out,
                        "        ///<summary>\n        ///{description}\n        ///</summary>"
                    );
                    let _ = writeln!(
                        out,
                        "        [ApiMember(Description=\"{}\")]",
                        description.replace('"', "\\\"")
                    );
                }
                let mut type_name = type_name(lang, field.ty);
                if nullable && field.ty.is_nullable() && !type_name.ends_with('?') {
                    type_name.push('?');
                }
                let _ = writeln!(
                    out,
                    "        public virtual {type_name} {} {{ get; set; }}",
                    field.name
                );
            }
            out.push_str("    }\n\n");
        }
        Lang::VbNet => {
            for (path, verbs) in &routes {
                let _ = writeln!(out, "        <Route(\"{path}\", \"{verbs}\")>");
            }
            let _ = writeln!(out, "        Public Partial Class {name}");
            if let Some(base) = base {
                let _ = writeln!(out, "            Inherits {base}");
            }
            if let (Some(response), true) = (response, options.add_routes_and_markers) {
                let _ = writeln!(out, "            Implements IReturn(Of {response})");
            }
            for field in ty.fields() {
                if let Some(description) = field.description {
                    let _ = writeln!(out, "            '''<Summary>\n            '''{description}\n            '''</Summary>");
                }
                let _ = writeln!(
                    out,
                    "            Public Overridable Property {} As {}",
                    field.name,
                    type_name(lang, field.ty)
                );
            }
            out.push_str("        End Class\n\n");
        }
        Lang::Kotlin | Lang::Java => {
            let java = lang == Lang::Java;
            let indent = if java { "    " } else { "" };
            for (path, verbs) in &routes {
                let _ = writeln!(out, "{indent}@Route(Path=\"{path}\", Verbs=\"{verbs}\")");
            }
            if let Some(description) = ty.description {
                let _ = writeln!(
                    out,
                    "{indent}@Api(Description=\"{}\")",
                    description.replace('"', "\\\"")
                );
            }
            let mut header = if java {
                format!("{indent}public static class {name}")
            } else {
                format!("open class {name}")
            };
            if let Some(base) = base {
                let _ = write!(
                    header,
                    "{}",
                    if java {
                        format!(" extends {base}")
                    } else {
                        format!(" : {base}()")
                    }
                );
            }
            if let (Some(response), true) = (response, options.add_routes_and_markers) {
                let verb = verb_interface(marker.unwrap_or("POST"), true);
                let _ = write!(
                    header,
                    "{}",
                    match (java, base.is_some()) {
                        (true, _) => format!(" implements IReturn<{response}>, {verb}"),
                        (false, true) => format!(", IReturn<{response}>, {verb}"),
                        (false, false) => format!(" : IReturn<{response}>, {verb}"),
                    }
                );
            }
            let _ = writeln!(out, "{header}\n{indent}{{");
            for field in ty.fields() {
                if let Some(description) = field.description {
                    let _ = writeln!(
                        out,
                        "{indent}    /**\n{indent}    * {description}\n{indent}    */"
                    );
                    let _ = writeln!(
                        out,
                        "{indent}    @ApiMember(Description=\"{}\")",
                        description.replace('"', "\\\"")
                    );
                }
                let type_name = type_name(lang, field.ty);
                if java {
                    let _ = writeln!(
                        out,
                        "{indent}    public {type_name} {} = null;",
                        camel(field.name)
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "    open var {}:{type_name}? = null",
                        camel(field.name)
                    );
                }
            }
            if let (Some(response), true, true) = (response, java, options.add_routes_and_markers) {
                let _ = writeln!(
                    out,
                    "{indent}    private static Object responseType = {response}.class;"
                );
                let _ = writeln!(
                    out,
                    "{indent}    public Object getResponseType() {{ return responseType; }}"
                );
            }
            if let (Some(response), false, true) = (response, java, options.add_routes_and_markers)
            {
                let _ = writeln!(
                    out,
                    "    companion object {{ private val responseType = {response}::class.java }}"
                );
                let _ = writeln!(
                    out,
                    "    override fun getResponseType(): Any? = {name}.responseType"
                );
            }
            let _ = writeln!(out, "{indent}}}\n");
        }
        Lang::Swift => {
            for (path, verbs) in &routes {
                let _ = writeln!(out, "// @Route(\"{path}\", \"{verbs}\")");
            }
            // Base class, `IReturn`, the verb marker, then `Codable` when
            // there is no base class (SwiftGenerator.cs:362-403).
            let mut supers: Vec<String> = base.map(String::from).into_iter().collect();
            let returns = response.filter(|_| options.add_routes_and_markers);
            if returns.is_some() {
                supers.push("IReturn".into());
                supers.push(verb_interface(marker.unwrap_or("POST"), true));
            }
            if base.is_none() {
                supers.push("Codable".into());
            }
            if let Some(response) = returns {
                let _ = writeln!(
                    out,
                    "public class {name} : {}\n{{\n    public typealias Return = {response}\n",
                    supers.join(", ")
                );
            } else {
                let _ = writeln!(out, "public class {name} : {}\n{{", supers.join(", "));
            }
            for field in ty.fields() {
                if let Some(description) = field.description {
                    let _ = writeln!(out, "    /**\n    * {description}\n    */");
                }
                let _ = writeln!(
                    out,
                    "    public var {}:{}?",
                    camel(field.name),
                    type_name(lang, field.ty)
                );
            }
            out.push_str(if base.is_some() {
                "\n    required public init(){ super.init() }\n"
            } else {
                "\n    required public init(){}\n"
            });
            // The Swift compiler synthesizes no Codable members for a
            // subclass, so they are written out (SwiftGenerator.cs:451-520).
            if base.is_some() {
                write_swift_codable(out, ty);
            }
            out.push_str("}\n\n");
        }
        Lang::Dart => {
            for (path, verbs) in &routes {
                let _ = writeln!(out, "// @Route(\"{path}\", \"{verbs}\")");
            }
            let mut header = format!("class {name}");
            if let Some(base) = base {
                let _ = write!(header, " extends {base}");
            }
            let mut implements = vec!["IConvertible".to_string()];
            if let (Some(response), true) = (response, options.add_routes_and_markers) {
                implements.insert(0, format!("IReturn<{response}>"));
                implements.insert(1, verb_interface(marker.unwrap_or("POST"), true));
            }
            let _ = writeln!(out, "{header} implements {}\n{{", implements.join(", "));
            for field in ty.fields() {
                if let Some(description) = field.description {
                    let _ = writeln!(out, "    /**\n    * {description}\n    */");
                }
                let _ = writeln!(
                    out,
                    "    {}? {};",
                    type_name(lang, field.ty),
                    camel(field.name)
                );
            }
            write_dart_members(
                out,
                ty,
                base.is_some(),
                response.filter(|_| options.add_routes_and_markers),
            );
        }
    }
}

/// `init(from:)`, `encode(to:)` and `CodingKeys` for a Swift subclass: its
/// own members, after the base class's (SwiftGenerator.cs:451-520).
fn write_swift_codable(out: &mut String, ty: &TypeInfo) {
    let fields = ty.fields();
    out.push('\n');
    if !fields.is_empty() {
        out.push_str("    private enum CodingKeys : String, CodingKey {\n");
        for field in fields {
            let _ = writeln!(out, "        case {}", camel(field.name));
        }
        out.push_str("    }\n\n");
    }
    out.push_str("    required public init(from decoder: Decoder) throws {\n        try super.init(from: decoder)\n");
    if !fields.is_empty() {
        out.push_str("        let container = try decoder.container(keyedBy: CodingKeys.self)\n");
        for field in fields {
            let name = camel(field.name);
            let default = match field.ty {
                FieldType::List(_) => " ?? []",
                FieldType::StringMap => " ?? [:]",
                _ => "",
            };
            let _ = writeln!(
                out,
                "        {name} = try container.decodeIfPresent({}.self, forKey: .{name}){default}",
                type_name(Lang::Swift, field.ty)
            );
        }
    }
    out.push_str("    }\n\n    public override func encode(to encoder: Encoder) throws {\n        try super.encode(to: encoder)\n");
    if !fields.is_empty() {
        out.push_str("        var container = encoder.container(keyedBy: CodingKeys.self)\n");
        for field in fields {
            let name = camel(field.name);
            let _ = writeln!(
                out,
                "        if {name} != nil {{ try container.encode({name}, forKey: .{name}) }}"
            );
        }
    }
    out.push_str("    }\n");
}

/// How a Dart member is read from JSON: as is (strings, booleans,
/// integers: `BasicJsonTypes`, DartGenerator.cs:144), with a converter
/// (`DartToJsonConverters`, DartGenerator.cs:165), or through the type
/// context (everything else, `UseTypeConversion`, DartGenerator.cs:1044).
enum DartRead {
    Plain,
    Converter(&'static str),
    Typed(String),
}

fn dart_read(ty: &FieldType) -> DartRead {
    match ty {
        FieldType::Nullable(inner) => dart_read(inner),
        FieldType::String | FieldType::Bool | FieldType::Int32 | FieldType::Int64 => {
            DartRead::Plain
        }
        FieldType::Double => DartRead::Converter("toDouble"),
        other => DartRead::Typed(type_name(Lang::Dart, other)),
    }
}

/// The members `IConvertible` needs: the named constructor, `fromJson`,
/// `fromMap`, `toJson`, `createResponse`/`getResponseTypeName` for
/// requests, `getTypeName` and the `TypeContext` (DartGenerator.cs:745-916).
fn write_dart_members(out: &mut String, ty: &TypeInfo, has_base: bool, response: Option<&str>) {
    let name = ty.name;
    let fields = ty.fields();
    if fields.is_empty() {
        let _ = writeln!(out, "    {name}();");
        let _ = writeln!(
            out,
            "    {name}.fromJson(Map<String, dynamic> json) : {}",
            if has_base {
                "super.fromJson(json);"
            } else {
                "super();"
            }
        );
    } else {
        out.push('\n');
        let params: Vec<String> = fields
            .iter()
            .map(|f| format!("this.{}", camel(f.name)))
            .collect();
        let _ = writeln!(out, "    {name}({{{}}});", params.join(","));
        let _ = writeln!(
            out,
            "    {name}.fromJson(Map<String, dynamic> json) {{ fromMap(json); }}\n"
        );
    }
    out.push_str("    fromMap(Map<String, dynamic> json) {\n");
    if has_base {
        out.push_str("        super.fromMap(json);\n");
    }
    for field in fields {
        let member = camel(field.name);
        let _ = match dart_read(field.ty) {
            DartRead::Plain => writeln!(out, "        {member} = json['{member}'];"),
            DartRead::Converter(function) => {
                writeln!(out, "        {member} = JsonConverters.{function}(json['{member}']);")
            }
            DartRead::Typed(dart_type) => writeln!(
                out,
                "        {member} = JsonConverters.fromJson(json['{member}'],'{dart_type}',context!);"
            ),
        };
    }
    out.push_str("        return this;\n    }\n\n");
    if fields.is_empty() {
        let _ = writeln!(
            out,
            "    Map<String, dynamic> toJson() => {}",
            if has_base { "super.toJson();" } else { "{};" }
        );
    } else {
        out.push_str("    Map<String, dynamic> toJson() => ");
        if has_base {
            out.push_str("super.toJson()..addAll(");
        }
        out.push_str("{\n");
        let entries: Vec<String> = fields
            .iter()
            .map(|field| {
                let member = camel(field.name);
                match dart_read(field.ty) {
                    DartRead::Typed(dart_type) => format!(
                        "        '{member}': JsonConverters.toJson({member},'{dart_type}',context!)"
                    ),
                    _ => format!("        '{member}': {member}"),
                }
            })
            .collect();
        out.push_str(&entries.join(",\n"));
        out.push_str(if has_base {
            "\n    });\n\n"
        } else {
            "\n    };\n\n"
        });
    }
    if let Some(response) = response {
        let _ = writeln!(out, "    createResponse() => {response}();");
        let _ = writeln!(out, "    getResponseTypeName() => \"{response}\";");
    }
    let _ = writeln!(out, "    getTypeName() => \"{name}\";");
    out.push_str("    TypeContext? context = _ctx;\n}\n\n");
}

/// The Dart client's type registry for these DTOs: every class and enum,
/// then the list and map types members use that the library does not
/// declare itself (DartGenerator.cs:440-450, 960-1025; `IgnoreTypeInfosFor`
/// :173).
fn write_dart_type_context(out: &mut String, types: Types<'_>, options: &Options) {
    const BUILT_IN: &[&str] = &[
        "String",
        "int",
        "bool",
        "double",
        "List<String>",
        "List<int>",
        "List<double>",
        "Map<String,String>",
    ];
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut add = |key: String, value: String| {
        if !BUILT_IN.contains(&key.as_str()) && !entries.iter().any(|(k, _)| *k == key) {
            entries.push((key, value));
        }
    };
    for ty in types {
        match &ty.kind {
            TypeKind::Enum(_) => add(
                ty.name.to_string(),
                format!("TypeInfo(TypeOf.Enum, enumValues:{}.values)", ty.name),
            ),
            TypeKind::Class(_) => add(
                ty.name.to_string(),
                format!("TypeInfo(TypeOf.Class, create:() => {}())", ty.name),
            ),
        }
    }
    for ty in types {
        for field in ty.fields() {
            let mut field_type = field.ty;
            while let FieldType::Nullable(inner) = field_type {
                field_type = inner;
            }
            match field_type {
                FieldType::List(inner) => {
                    let item = type_name(Lang::Dart, inner);
                    add(
                        format!("List<{item}>"),
                        format!("TypeInfo(TypeOf.Class, create:() => <{item}>[])"),
                    );
                }
                FieldType::StringMap => {
                    let map = type_name(Lang::Dart, field_type);
                    add(
                        map.clone(),
                        format!("TypeInfo(TypeOf.Class, create:() => {map}())"),
                    );
                }
                _ => {}
            }
        }
    }
    let _ = writeln!(
        out,
        "TypeContext _ctx = TypeContext(library: '{}', types: <String, TypeInfo> {{",
        options.global_namespace
    );
    for (key, value) in entries {
        let _ = writeln!(out, "    '{key}': {value},");
    }
    out.push_str("});\n");
}
