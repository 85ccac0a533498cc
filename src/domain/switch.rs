//! The pause switches: what an operator can pause, the name each is stored
//! under, and the state of one that is on. Every pause and every check of
//! one goes through `Switch::key`.

use chrono::{DateTime, Utc};
use std::fmt::Display;

/// One pausable thing, over how a person is referred to: operators name
/// an inviter by email (`Switch<String>`, the admin API's `"signups"` or
/// `{"campaign": "hn"}`); the service resolves that to an entry id
/// (`Switch<i64>`), whose `key` is what is stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Switch<Person> {
    Redemption,
    Signups,
    Campaign(String),
    /// The codes one person gives out.
    Inviter(Person),
}

impl<Person: Display> Switch<Person> {
    /// What a pause (`pausing`) or resume did, as operators are told it in
    /// the shell and the console.
    pub fn outcome(&self, pausing: bool, changed: bool) -> String {
        let what = self.describe();
        match (pausing, changed) {
            (true, true) => format!("paused {what}"),
            (true, false) => format!("{what} was already paused"),
            (false, true) => format!("resumed {what}"),
            (false, false) => format!("{what} was not paused"),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Switch::Redemption => "redemption".into(),
            Switch::Signups => "signups".into(),
            Switch::Campaign(c) => format!("redemption for campaign {c}"),
            Switch::Inviter(e) => format!("codes of inviter {e}"),
        }
    }
}

impl Switch<i64> {
    /// The `switches.scope` value.
    pub fn key(&self) -> String {
        match self {
            Switch::Redemption => "redemption".into(),
            Switch::Signups => "signups".into(),
            Switch::Campaign(c) => format!("campaign:{c}"),
            Switch::Inviter(id) => format!("inviter:{id}"),
        }
    }

    /// The switch a stored `key` names; `None` for one velvet never writes.
    pub fn from_key(key: &str) -> Option<Switch<i64>> {
        match key.split_once(':') {
            None if key == "redemption" => Some(Switch::Redemption),
            None if key == "signups" => Some(Switch::Signups),
            Some(("campaign", c)) => Some(Switch::Campaign(c.to_string())),
            Some(("inviter", id)) => id.parse().ok().map(Switch::Inviter),
            _ => None,
        }
    }
}

/// A switch that is on: which, since when, by whom, why. Its JSON names
/// the switch by its key (`"scope": "campaign:hn"`), as the table does.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SwitchState {
    #[serde(rename = "scope", with = "by_key")]
    pub switch: Switch<i64>,
    pub paused_at: DateTime<Utc>,
    pub paused_by: String,
    pub reason: Option<String>,
}

mod by_key {
    use super::Switch;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(switch: &Switch<i64>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&switch.key())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Switch<i64>, D::Error> {
        let key = String::deserialize(d)?;
        Switch::from_key(&key).ok_or_else(|| D::Error::custom(format!("no switch is stored as '{key}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_names_its_switch_back() {
        for s in [Switch::Redemption, Switch::Signups, Switch::Campaign("hn".into()), Switch::Inviter(42)] {
            assert_eq!(Switch::from_key(&s.key()), Some(s));
        }
        for wrong in ["", "campaign", "inviter:x", "pause:hn", "redemption:1"] {
            assert_eq!(Switch::from_key(wrong), None, "{wrong}");
        }
    }

    /// The admin API's JSON for a switch, as before there was one type.
    #[test]
    fn a_named_switch_keeps_its_json() {
        for (s, wire) in [
            (Switch::Redemption, json!("redemption")),
            (Switch::Signups, json!("signups")),
            (Switch::Campaign("hn".into()), json!({"campaign": "hn"})),
            (Switch::Inviter("ada@example.com".to_string()), json!({"inviter": "ada@example.com"})),
        ] {
            assert_eq!(serde_json::to_value(&s).unwrap(), wire);
            assert_eq!(serde_json::from_value::<Switch<String>>(wire).unwrap(), s);
        }
    }
}
