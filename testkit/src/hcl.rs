//! Reading generated Terraform in tests: attributes, import blocks and
//! resource blocks of a body parsed with hcl-rs.

use hcl::{Body, Expression};

/// A string attribute's value; other expressions in their HCL form.
pub fn text(e: &Expression) -> String {
    match e {
        Expression::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn attr(body: &Body, key: &str) -> Option<String> {
    body.attributes()
        .find(|a| a.key() == key)
        .map(|a| text(a.expr()))
}

/// `(to, id)` of every import block, sorted.
pub fn imports(body: &Body) -> Vec<(String, String)> {
    let mut v: Vec<_> = body
        .blocks()
        .filter(|b| b.identifier() == "import")
        .map(|b| {
            (
                attr(b.body(), "to").unwrap_or_default(),
                attr(b.body(), "id").unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The body of `resource "KIND" "NAME"`.
pub fn resource<'a>(body: &'a Body, kind: &str, name: &str) -> Option<&'a Body> {
    body.blocks()
        .find(|b| {
            b.identifier() == "resource"
                && b.labels().first().map(|l| l.as_str()) == Some(kind)
                && b.labels().get(1).map(|l| l.as_str()) == Some(name)
        })
        .map(|b| b.body())
}
