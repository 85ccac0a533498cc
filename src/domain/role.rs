//! Operator roles and what each may do. The service layer checks these on
//! every use case, so no front end can forget.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Support,
    Admin,
}

/// Things an operator can ask for, each with the least role allowed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    Read,
    Reissue,
    Block,
    Pause,
    RevokeOne,
    RetryMail,
    ChangeEmail,
    Approve,
    SendPastCap,
    RevokeMany,
    BlockMany,
    Erase,
    IssueCodes,
    Settings,
    ManageOperators,
}

impl Permission {
    pub fn least_role(self) -> Role {
        use Permission::*;
        match self {
            Read => Role::Viewer,
            Reissue | Block | Pause | RevokeOne | RetryMail | ChangeEmail => Role::Support,
            Approve | SendPastCap | RevokeMany | BlockMany | Erase | IssueCodes | Settings | ManageOperators => {
                Role::Admin
            }
        }
    }

    pub fn describe(self) -> &'static str {
        use Permission::*;
        match self {
            Read => "read the waitlist",
            Reissue => "reissue codes",
            Block => "block or unblock people",
            Pause => "pause or resume",
            RevokeOne => "revoke a code",
            RetryMail => "retry failed mail",
            ChangeEmail => "change a person's email",
            Approve => "approve entries",
            SendPastCap => "send invites past the daily cap",
            RevokeMany => "revoke codes in bulk",
            BlockMany => "block or unblock people in bulk",
            Erase => "erase a person's data",
            IssueCodes => "issue partner codes",
            Settings => "change settings",
            ManageOperators => "manage operators",
        }
    }
}

impl Role {
    pub fn allows(self, p: Permission) -> bool {
        self >= p.least_role()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Support => "support",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Some(Role::Viewer),
            "support" => Some(Role::Support),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest() {
        assert!(Role::Viewer.allows(Permission::Read));
        assert!(!Role::Viewer.allows(Permission::Block));
        assert!(Role::Support.allows(Permission::RevokeOne));
        assert!(!Role::Support.allows(Permission::Approve));
        assert!(!Role::Support.allows(Permission::RevokeMany));
        assert!(Role::Support.allows(Permission::RetryMail));
        assert!(!Role::Viewer.allows(Permission::RetryMail));
        assert!(Role::Admin.allows(Permission::ManageOperators));
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
    }
}
