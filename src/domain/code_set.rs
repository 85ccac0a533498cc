//! Which codes an operation covers: one code, a batch, a campaign, every
//! code one person gives out, or the access codes bound to one person.
//!
//! Written once, over how a code and a person are referred to: operators
//! name them (`CodeSet<CodeRef, String>`: a code as typed or by id, a person
//! by email) and the service resolves that to ids (`CodeSet<i64, i64>`),
//! which the store reads and revokes.

use super::Permission;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeSet<Code, Person> {
    Batch(i64),
    Campaign(String),
    /// Every code a person gives out.
    Inviter(Person),
    /// The access codes bound to one person (never named over the wire).
    #[serde(skip)]
    BoundTo(Person),
    /// One code. On the wire it is the `CodeRef` itself: `{"code": …}` or
    /// `{"code_id": …}`.
    #[serde(untagged)]
    Code(Code),
}

/// One code as an operator names it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CodeRef {
    /// As typed (or pasted).
    #[serde(rename = "code")]
    Typed(String),
    /// By its id: operators never see the plaintext.
    #[serde(rename = "code_id")]
    Id(i64),
}

impl<Code, Person> CodeSet<Code, Person> {
    /// One code is support's to revoke; a batch, a campaign or everything
    /// one person holds or gives out needs an admin.
    pub fn permission(&self) -> Permission {
        match self {
            CodeSet::Code(_) => Permission::RevokeOne,
            CodeSet::Batch(_) | CodeSet::Campaign(_) | CodeSet::Inviter(_) | CodeSet::BoundTo(_) => {
                Permission::RevokeMany
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    type Named = CodeSet<CodeRef, String>;

    /// The admin API's JSON for a set of codes, as before there was one type.
    #[test]
    fn a_named_set_keeps_its_json() {
        for (set, wire) in [
            (CodeSet::Code(CodeRef::Typed("VLV-ABCD".into())), json!({"code": "VLV-ABCD"})),
            (CodeSet::Code(CodeRef::Id(7)), json!({"code_id": 7})),
            (CodeSet::Batch(3), json!({"batch": 3})),
            (CodeSet::Campaign("hn".into()), json!({"campaign": "hn"})),
            (CodeSet::Inviter("ada@example.com".into()), json!({"inviter": "ada@example.com"})),
        ] {
            assert_eq!(serde_json::to_value(&set).unwrap(), wire);
            assert_eq!(serde_json::from_value::<Named>(wire).unwrap(), set);
        }
        assert!(serde_json::to_value(Named::BoundTo("ada@example.com".into())).is_err());
        for wrong in [json!({"bound_to": "ada@example.com"}), json!({"code": 7}), json!("batch"), Value::Null] {
            assert!(serde_json::from_value::<Named>(wrong).is_err());
        }
    }
}
