//! Dashboard sessions: an API token exchanged at `/ui/login` for a random session id in a
//! cookie (`HttpOnly`, `Secure`, `SameSite=Strict`, expiring), with a CSRF token for the
//! one state-changing form (logout). At most [`MAX_SESSIONS`] are kept; the oldest go first.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::Request;
use ring::rand::{SecureRandom, SystemRandom};

use crate::bounded::BoundedMap;

/// The session cookie's name.
pub const COOKIE: &str = "portcullis_session";
/// How long a session lasts from login.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// The most sessions kept at once (the oldest login is dropped beyond it).
pub const MAX_SESSIONS: usize = 1000;

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token the logout form must echo.
    pub csrf: String,
    expires: Instant,
}

/// The sessions of this replica (in memory; a restart logs everyone out).
#[derive(Debug)]
pub struct Sessions {
    map: Mutex<BoundedMap<String, Session>>,
    random: SystemRandom,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            map: Mutex::new(BoundedMap::new(MAX_SESSIONS)),
            random: SystemRandom::new(),
        }
    }
}

impl Sessions {
    /// A new session; its id for the cookie, or `None` if the system's randomness failed.
    pub fn create(&self) -> Option<(String, Session)> {
        let id = self.random_hex()?;
        let session = Session {
            csrf: self.random_hex()?,
            expires: Instant::now() + SESSION_TTL,
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.drop_oldest_while(|s| s.expires <= Instant::now());
        map.insert(id.clone(), session.clone());
        Some((id, session))
    }

    /// The live session `request`'s cookie names.
    pub fn find<B>(&self, request: &Request<B>) -> Option<(String, Session)> {
        let id = cookie(request, COOKIE)?;
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let session = map.get(&id)?;
        (session.expires > Instant::now()).then(|| (id.clone(), session.clone()))
    }

    /// End session `id`.
    pub fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id.to_string());
    }

    fn random_hex(&self) -> Option<String> {
        let mut bytes = [0u8; 32];
        self.random.fill(&mut bytes).ok()?;
        Some(hex::encode(bytes))
    }
}

/// The `Set-Cookie` value for session `id` (empty: clear it).
pub fn set_cookie(id: &str) -> String {
    let max_age = if id.is_empty() {
        0
    } else {
        SESSION_TTL.as_secs()
    };
    format!("{COOKIE}={id}; Path=/ui; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict")
}

/// The value of cookie `name` in `request`, if it is a well-formed session id.
fn cookie<B>(request: &Request<B>, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The first field `name` of an `application/x-www-form-urlencoded` body.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_fields(body)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The fields of an `application/x-www-form-urlencoded` body.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> Request<()> {
        Request::builder().header("Cookie", value).body(()).unwrap()
    }

    #[test]
    fn sessions_are_found_by_cookie_and_end_on_removal() {
        let sessions = Sessions::default();
        let (id, session) = sessions.create().unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(session.csrf, id);
        let found = sessions.find(&with_cookie(&format!("a=b; {COOKIE}={id}")));
        assert_eq!(
            found.map(|(i, s)| (i, s.csrf)),
            Some((id.clone(), session.csrf))
        );
        assert!(
            sessions
                .find(&with_cookie(&format!("{COOKIE}={}", "0".repeat(64))))
                .is_none()
        );
        assert!(
            sessions
                .find(&with_cookie(&format!("{COOKIE}=<script>")))
                .is_none()
        );
        sessions.remove(&id);
        assert!(
            sessions
                .find(&with_cookie(&format!("{COOKIE}={id}")))
                .is_none()
        );
    }

    #[test]
    fn cookies_are_http_only_secure_and_strict() {
        assert_eq!(
            set_cookie("ab"),
            "portcullis_session=ab; Path=/ui; Max-Age=28800; HttpOnly; Secure; SameSite=Strict"
        );
        assert!(set_cookie("").contains("Max-Age=0;"));
    }

    #[test]
    fn form_bodies_are_decoded() {
        assert_eq!(
            form_fields(b"token=a%2Bb+c&csrf=&x"),
            [
                ("token".to_string(), "a+b c".to_string()),
                ("csrf".to_string(), String::new()),
                ("x".to_string(), String::new())
            ]
        );
    }
}
