//! Whether an image config's `User` makes the container run as root.

/// True when a container with this `User` runs as root.
///
/// No `User`, an empty one, and any user part that is `root` or the numeric uid 0 (`0`,
/// `00`, `0:0`, `root:root`, `0:1000`, `root:wheel`) are root. A non-root user with group 0
/// (`1000:0`) is not. Other names are not resolved against `/etc/passwd`, so a renamed
/// uid-0 account (`toor`) is not detected.
pub fn is_root_user(user: Option<&str>) -> bool {
    let Some(user) = user.map(str::trim) else {
        return true;
    };
    let name = user.split_once(':').map_or(user, |(name, _)| name).trim();
    if name.is_empty() || name == "root" {
        return true;
    }
    !name.is_empty() && name.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_detection_table() {
        let table: &[(Option<&str>, bool)] = &[
            (None, true),
            (Some(""), true),
            (Some("  "), true),
            (Some("0"), true),
            (Some("00"), true),
            (Some("0:0"), true),
            (Some("0:1000"), true),
            (Some("root"), true),
            (Some("root:root"), true),
            (Some("root:wheel"), true),
            (Some(":0"), true),
            (Some("1000"), false),
            (Some("1000:0"), false),
            (Some("nobody"), false),
            (Some("nobody:root"), false),
            (Some("65534:65534"), false),
            (Some("10"), false),
            (Some("Root"), false),
            (Some("rootless"), false),
        ];
        for (user, root) in table {
            assert_eq!(is_root_user(*user), *root, "{user:?}");
        }
    }
}
