//! Operator roles and what each may do. The service layer checks these on
//! every use case, so no front end can forget.

use std::fmt;

/// The staff roles nest (viewer < support < admin); `product` stands
/// apart: the product's own backend, which may only report what became of
/// the people it let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Viewer,
    Support,
    Admin,
    Product,
}

/// Things an operator can ask for. Who may is [`Permission::roles`]: the
/// one table the service (and through it every front end) checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// `POST /v1/admin/activity`: the product says who activated.
    ReportActivity,
}

const STAFF: &[Role] = &[Role::Viewer, Role::Support, Role::Admin];
const SUPPORT_UP: &[Role] = &[Role::Support, Role::Admin];
const ADMIN_ONLY: &[Role] = &[Role::Admin];
const PRODUCT: &[Role] = &[Role::Product, Role::Admin];

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::Read,
        Permission::Reissue,
        Permission::Block,
        Permission::Pause,
        Permission::RevokeOne,
        Permission::RetryMail,
        Permission::ChangeEmail,
        Permission::Approve,
        Permission::SendPastCap,
        Permission::RevokeMany,
        Permission::BlockMany,
        Permission::Erase,
        Permission::IssueCodes,
        Permission::Settings,
        Permission::ManageOperators,
        Permission::ReportActivity,
    ];

    /// The roles allowed to do this. Admins may do everything (reporting
    /// activity too: a backfill by hand); the product nothing else.
    pub fn roles(self) -> &'static [Role] {
        use Permission::*;
        match self {
            Read => STAFF,
            Reissue | Block | Pause | RevokeOne | RetryMail | ChangeEmail => SUPPORT_UP,
            Approve | SendPastCap | RevokeMany | BlockMany | Erase | IssueCodes | Settings | ManageOperators => {
                ADMIN_ONLY
            }
            ReportActivity => PRODUCT,
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
            ReportActivity => "report activity",
        }
    }
}

impl Role {
    pub const ALL: &'static [Role] = &[Role::Viewer, Role::Support, Role::Admin, Role::Product];

    pub fn allows(self, p: Permission) -> bool {
        p.roles().contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Support => "support",
            Role::Admin => "admin",
            Role::Product => "product",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Some(Role::Viewer),
            "support" => Some(Role::Support),
            "admin" => Some(Role::Admin),
            "product" => Some(Role::Product),
            _ => None,
        }
    }
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        let text = String::deserialize(d)?;
        Role::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown role '{text}': use viewer, support, admin or product"))
        })
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
        assert_eq!(Role::parse("Product"), Some(Role::Product));
        assert_eq!(Role::parse("root"), None);
    }

    /// The whole matrix, role by permission: staff roles nest, admin may
    /// do everything, the product only report activity.
    #[test]
    fn the_permission_matrix() {
        use Permission::*;
        let support = [Read, Reissue, Block, Pause, RevokeOne, RetryMail, ChangeEmail];
        for &p in Permission::ALL {
            assert_eq!(Role::Viewer.allows(p), p == Read, "viewer {p:?}");
            assert_eq!(Role::Support.allows(p), support.contains(&p), "support {p:?}");
            assert!(Role::Admin.allows(p), "admin {p:?}");
            assert_eq!(Role::Product.allows(p), p == ReportActivity, "product {p:?}");
            // Nesting: whatever a viewer may, support may; whatever support may, admin may.
            assert!(!Role::Viewer.allows(p) || Role::Support.allows(p));
            assert!(!Role::Support.allows(p) || Role::Admin.allows(p));
        }
        for &r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{r}\""));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), r);
        }
        assert!(serde_json::from_str::<Role>("\"root\"").unwrap_err().to_string().contains("unknown role 'root'"));
    }
}
