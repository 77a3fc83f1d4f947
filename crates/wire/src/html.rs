//! A readable HTML page of any response, for browsers (ServiceStack's
//! HtmlFormat idea): the operation name as title, objects as definition
//! tables, lists of objects as tables with a header row, and links to the
//! same resource in the other formats. No scripts.

use evo_core::contract::Value;

use crate::xml::escape;

/// Renders `value` as a self-contained HTML page.
pub fn write_page(value: &Value, op_name: &str) -> Vec<u8> {
    let mut body = String::new();
    write_value(value, &mut body);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<style>body{{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}}table{{border-collapse:collapse;margin:.25rem 0}}\
th,td{{border:1px solid #ccc;padding:.2rem .45rem;vertical-align:top;text-align:left}}th{{background:#f3f3f3}}\
nav a{{margin-right:.75rem}}.null{{color:#999}}</style></head>\
<body><h1>{title}</h1><nav>Other formats: <a href=\"?format=json\">json</a><a href=\"?format=xml\">xml</a>\
<a href=\"?format=csv\">csv</a><a href=\"?format=jsv\">jsv</a></nav>{body}</body></html>\n",
        title = escape(op_name),
    )
    .into_bytes()
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("<span class=\"null\">null</span>"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Int(number) => out.push_str(&number.to_string()),
        Value::Double(number) => out.push_str(&number.to_string()),
        Value::Str(text) => out.push_str(&escape(text)),
        Value::Enum(name) => out.push_str(name),
        Value::Map(entries) => {
            out.push_str("<table>");
            for (key, item) in entries {
                out.push_str(&format!(
                    "<tr><th>{}</th><td>{}</td></tr>",
                    escape(key),
                    escape(item)
                ));
            }
            out.push_str("</table>");
        }
        Value::Object(object) => {
            out.push_str("<table>");
            for (field, item) in object.json_entries() {
                out.push_str(&format!("<tr><th>{}</th><td>", field.json_name));
                write_value(item, out);
                out.push_str("</td></tr>");
            }
            out.push_str("</table>");
        }
        Value::List(items) => {
            let objects: Vec<&evo_core::contract::Object> = items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(object) => Some(object),
                    _ => None,
                })
                .collect();
            if !items.is_empty() && objects.len() == items.len() {
                out.push_str("<table><tr>");
                for (field, _) in objects[0].json_entries() {
                    out.push_str(&format!("<th>{}</th>", field.json_name));
                }
                out.push_str("</tr>");
                for object in objects {
                    out.push_str("<tr>");
                    for (_, item) in object.json_entries() {
                        out.push_str("<td>");
                        write_value(item, out);
                        out.push_str("</td>");
                    }
                    out.push_str("</tr>");
                }
                out.push_str("</table>");
            } else if items.is_empty() {
                out.push_str("<em>none</em>");
            } else {
                out.push_str("<ul>");
                for item in items {
                    out.push_str("<li>");
                    write_value(item, out);
                    out.push_str("</li>");
                }
                out.push_str("</ul>");
            }
        }
    }
}
