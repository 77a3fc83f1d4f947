//! Every generator derives from the one declaration: adding a field to a
//! (test-only) DTO changes every output with no other edit; and each
//! language renders GetActiveSessions in its ServiceStack shape.

use evo_core::contract::{types_for_operations, Contract, Field, TypeRef};
use evo_docs::lang::others::{self, Lang};
use evo_docs::lang::{fsharp, python, typescript, Options};
use evo_wire::format::Format;

mod before {
    use evo_core::contract::Contract;

    #[derive(Contract, Debug, Clone, PartialEq, Default)]
    #[contract(namespace = "Voice.Api.Probe")]
    pub struct ProbeResponse {
        pub name: Option<String>,
    }

    /// Probe the generators
    #[derive(Contract, Debug, Clone, PartialEq, Default)]
    #[contract(namespace = "Voice.Api.Probe", route(path = "/probe", verbs = "GET"), returns = ProbeResponse)]
    pub struct Probe {
        pub id: Option<String>,
    }
}

mod after {
    use evo_core::contract::Contract;

    #[derive(Contract, Debug, Clone, PartialEq, Default)]
    #[contract(namespace = "Voice.Api.Probe")]
    pub struct ProbeResponse {
        pub name: Option<String>,
        /// The added member
        pub freshly_added_member: bool,
    }

    /// Probe the generators
    #[derive(Contract, Debug, Clone, PartialEq, Default)]
    #[contract(namespace = "Voice.Api.Probe", route(path = "/probe", verbs = "GET"), returns = ProbeResponse)]
    pub struct Probe {
        pub id: Option<String>,
    }
}

/// Every textual output of an operation's types: DTOs in every language and
/// the response in every wire format.
fn outputs(
    op: TypeRef,
    response: evo_core::contract::Value,
    response_type: &'static evo_core::contract::TypeInfo,
) -> Vec<(String, String)> {
    let types = types_for_operations(&[op]);
    let options = Options::default();
    let mut all = vec![
        ("fsharp".to_string(), fsharp::generate(&types, &options)),
        (
            "typescript".to_string(),
            typescript::generate(&types, &options),
        ),
        (
            "mjs".to_string(),
            typescript::generate_mjs(&types, &options),
        ),
        ("python".to_string(), python::generate(&types, &options)),
    ];
    for (name, lang) in [
        ("csharp", Lang::CSharp),
        ("vbnet", Lang::VbNet),
        ("kotlin", Lang::Kotlin),
        ("java", Lang::Java),
        ("swift", Lang::Swift),
        ("dart", Lang::Dart),
    ] {
        all.push((
            name.to_string(),
            others::generate(lang, &types, &options, false),
        ));
    }
    for format in [
        Format::Json,
        Format::Xml,
        Format::Csv,
        Format::Jsv,
        Format::Html,
    ] {
        let bytes = evo_wire::render_value(&format, &response, response_type.name);
        all.push((format!("{format:?}"), String::from_utf8(bytes).unwrap()));
    }
    all
}

#[test]
fn a_field_added_to_a_dto_appears_in_every_output() {
    let old = outputs(
        before::Probe::type_info,
        before::ProbeResponse::default().to_value(),
        before::ProbeResponse::type_info(),
    );
    let new = outputs(
        after::Probe::type_info,
        after::ProbeResponse::default().to_value(),
        after::ProbeResponse::type_info(),
    );
    assert_eq!(old.len(), 15);
    for ((name, old), (_, new)) in old.iter().zip(new.iter()) {
        let mentions = |text: &str| {
            [
                "freshly_added_member",
                "FreshlyAddedMember",
                "freshlyAddedMember",
            ]
            .iter()
            .any(|spelling| text.contains(spelling))
        };
        assert!(!mentions(old), "{name} before");
        assert!(mentions(new), "{name} after:\n{new}");
    }
}

#[test]
fn each_language_renders_get_active_sessions_in_its_servicestack_shape() {
    let types = types_for_operations(&[evo_core::api::sessions::GetActiveSessions::type_info]);
    let options = Options::default();
    let cases = [
        (Lang::CSharp, vec![
            "namespace Voice.Api\n{",
            "    [Route(\"/sessions/active\", \"GET\")]",
            "    public partial class GetActiveSessions\n        : IReturn<GetActiveSessionsResponse>, IGet",
            "    public partial class SessionInfo\n        : EntityInfo",
            "        [ApiMember(Description=\"The state of the session\")]\n        public virtual SessionDialState DialState { get; set; }",
            "        public virtual List<SessionMemberInfo> Members { get; set; }",
            "        public virtual Dictionary<string, string> ApplicationData { get; set; }",
            "    public enum SessionCallState\n    {\n        Disconnected = 0,",
        ]),
        (Lang::VbNet, vec!["        Public Partial Class SessionInfo\n            Inherits EntityInfo", "            Implements IReturn(Of GetActiveSessionsResponse)", "Public Overridable Property Members As List(Of SessionMemberInfo)"]),
        (Lang::Kotlin, vec!["open class SessionInfo : EntityInfo()", "open class GetActiveSessions : IReturn<GetActiveSessionsResponse>, IGet", "    open var members:ArrayList<SessionMemberInfo>? = null", "enum class SessionCallState"]),
        (Lang::Java, vec!["    public static class SessionInfo extends EntityInfo", "    public static class GetActiveSessions implements IReturn<GetActiveSessionsResponse>, IGet", "        public ArrayList<SessionMemberInfo> members = null;"]),
        (Lang::Swift, vec!["public class SessionInfo : EntityInfo", "public class GetActiveSessions : IReturn, IGet, Codable\n{\n    public typealias Return = GetActiveSessionsResponse", "    public var members:[SessionMemberInfo]?", "public enum SessionCallState : String, Codable\n{\n    case Disconnected", "    required public init(from decoder: Decoder) throws {\n        try super.init(from: decoder)", "    public override func encode(to encoder: Encoder) throws {"]),
        (Lang::Dart, vec!["class SessionInfo extends EntityInfo implements IConvertible", "class GetActiveSessions implements IReturn<GetActiveSessionsResponse>, IGet, IConvertible", "    List<SessionMemberInfo>? members;", "    createResponse() => GetActiveSessionsResponse();", "    getResponseTypeName() => \"GetActiveSessionsResponse\";", "        super.fromMap(json);", "TypeContext _ctx = TypeContext(library: 'Voice.Api'"]),
    ];
    for (lang, expected) in cases {
        let text = others::generate(lang, &types, &options, false);
        for line in expected {
            assert!(text.contains(line), "{lang:?} has {line:?}:\n{text}");
        }
    }
    let nullable = others::generate(Lang::CSharp, &types, &options, true);
    assert!(
        nullable.contains("#nullable enable")
            && nullable.contains("public virtual string? AccountId { get; set; }")
    );
}

#[test]
fn the_types_documents_carry_the_options_header_updaters_parse() {
    let query = vec![(
        "IncludeTypes".to_string(),
        "GetActiveSessions.*".to_string(),
    )];
    for lang in evo_docs::types::LANGUAGES {
        let text =
            evo_docs::types::document(lang, "https://voice.example", &query, "2026-11-25 10:00:00")
                .unwrap();
        assert!(text.contains("Options:"), "{lang}");
        assert!(text.contains("BaseUrl: https://voice.example"), "{lang}");
        assert!(
            text.contains("IncludeTypes: GetActiveSessions.*"),
            "{lang}: {}",
            &text[..300]
        );
        assert!(
            !text.contains("Authenticate"),
            "{lang} only has the included types"
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_str(&evo_docs::types::metadata_json("http://h")).unwrap();
    let op = &metadata["operations"][0];
    assert_eq!(op["request"]["name"], "GetActiveSessions");
    assert_eq!(op["requiredRoles"], serde_json::json!(["User"]));
    assert_eq!(op["routes"][0]["path"], "/sessions/active");
}
