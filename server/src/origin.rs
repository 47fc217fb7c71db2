//! Requests forged by other sites are refused: every request that may change something (any
//! method but GET, HEAD and OPTIONS; every server function is a POST) must come from this bank's
//! own site. A browser says where a request comes from in `Origin` (sent with every POST, fetch
//! or form) and, when it does not, in `Sec-Fetch-Site`; a page of another site cannot forge
//! either. A request carrying neither is not from a browser that a hostile page could drive
//! (curl, the load generator, a bank's own tests), and passes: a forged request needs a
//! victim's browser, and every browser in use sends one of the two. This is the rule of Go's
//! `net/http.CrossOriginProtection` and of the Fetch Metadata resource-isolation policy.
//!
//! `SameSite=Strict` cookies are not enough on their own: every port of a host, and every
//! subdomain of a registrable domain, is the *same site*, so a page on another port of the
//! bank's host could still post to it with the client's session.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// An origin as browsers send it: `scheme://host[:port]`, lower case, without a default port,
/// path or trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// The origin of an `http(s)` URL (its path, query and user part ignored); `None` for
    /// anything else.
    pub fn of_url(url: &str) -> Option<Origin> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => ":80",
            "https" => ":443",
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next()?;
        let authority = authority.rsplit('@').next()?.to_ascii_lowercase();
        let valid = !authority.is_empty()
            && authority.len() <= 255
            && authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
        if !valid {
            return None;
        }
        let authority = authority
            .strip_suffix(default_port)
            .unwrap_or(&authority)
            .to_string();
        Some(Origin(format!("{scheme}://{authority}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn scheme(&self) -> &str {
        self.0.split_once("://").map_or("", |(scheme, _)| scheme)
    }

    /// Whether pages of this origin are served over HTTPS (cookies may then be `__Host-`).
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

/// Why a request was taken for a forgery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrossSite {
    /// `Origin` named another site (or `null`: an opaque origin, a sandboxed frame or a file).
    Origin(String),
    /// No `Origin`, and `Sec-Fetch-Site` said `same-site` or `cross-site`.
    FetchSite(String),
}

/// Whether a request may go on: `own` is the bank's public origin; without one (a bank alone
/// with no `PUBLIC_URL`), the origin must name the host the request was sent to.
pub fn check(method: &Method, headers: &HeaderMap, own: Option<&Origin>) -> Result<(), CrossSite> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("").trim().to_string())
    };
    if let Some(origin) = text(header::ORIGIN) {
        let same = match (Origin::of_url(&origin), own) {
            (Some(o), Some(own)) => &o == own,
            (Some(o), None) => text(header::HOST)
                .and_then(|host| Origin::of_url(&format!("{}://{host}", o.scheme())))
                .is_some_and(|host| host == o),
            (None, _) => false,
        };
        return if same {
            Ok(())
        } else {
            Err(CrossSite::Origin(origin.chars().take(200).collect()))
        };
    }
    match text(header::HeaderName::from_static("sec-fetch-site")).as_deref() {
        None | Some("same-origin") | Some("none") => Ok(()),
        Some(other) => Err(CrossSite::FetchSite(other.chars().take(40).collect())),
    }
}

/// The middleware: a forged request gets 403 and a sentence in the client's language (it is
/// what the victim's browser shows), and never reaches a server function.
pub async fn refuse_cross_site(
    State(own): State<Arc<Option<Origin>>>,
    request: Request,
    next: Next,
) -> Response {
    match check(request.method(), request.headers(), own.as_ref().as_ref()) {
        Ok(()) => next.run(request).await,
        Err(why) => {
            tracing::warn!(path = %request.uri().path(), ?why, "cross-site request refused");
            let cookies: Vec<&str> = request
                .headers()
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (
                StatusCode::FORBIDDEN,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                app::text::cross_site_refusal(&cookies),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        let o = |u| Origin::of_url(u).map(|o| o.0);
        assert_eq!(
            o("http://Eleven.localhost:8081/").as_deref(),
            Some("http://eleven.localhost:8081")
        );
        assert_eq!(
            o("https://eleven.example:443/x?y").as_deref(),
            Some("https://eleven.example")
        );
        assert_eq!(
            o("http://127.0.0.1:80").as_deref(),
            Some("http://127.0.0.1")
        );
        assert_eq!(o("ftp://x"), None);
        assert_eq!(o("null"), None);
        assert_eq!(o("http://a b"), None);
    }

    #[test]
    fn only_the_banks_own_site_may_post() {
        let own = Origin::of_url("http://eleven.localhost:8081");
        let post = Method::POST;
        let ok = |h: &[(&'static str, &str)]| check(&post, &headers(h), own.as_ref());
        assert_eq!(ok(&[("origin", "http://eleven.localhost:8081")]), Ok(()));
        // Another port of the same host, another bank, a sibling subdomain, an opaque origin.
        for other in [
            "http://eleven.localhost:8082",
            "http://automobili.localhost:8082",
            "http://127.0.0.1:8081",
            "https://eleven.localhost:8081",
            "null",
        ] {
            assert!(ok(&[("origin", other)]).is_err(), "{other}");
        }
        // Origin wins over Sec-Fetch-Site.
        assert!(ok(&[
            ("origin", "http://evil.test"),
            ("sec-fetch-site", "same-origin")
        ])
        .is_err());
        // Without Origin, Sec-Fetch-Site decides.
        assert_eq!(ok(&[("sec-fetch-site", "same-origin")]), Ok(()));
        assert_eq!(ok(&[("sec-fetch-site", "none")]), Ok(()));
        assert!(ok(&[("sec-fetch-site", "same-site")]).is_err());
        assert!(ok(&[("sec-fetch-site", "cross-site")]).is_err());
        // Neither: not a browser a page could drive.
        assert_eq!(ok(&[]), Ok(()));
        // Reading is never refused.
        let get = check(
            &Method::GET,
            &headers(&[("origin", "http://evil.test")]),
            own.as_ref(),
        );
        assert_eq!(get, Ok(()));
    }

    #[test]
    fn without_a_public_url_the_origin_must_name_the_host_asked() {
        let h = |origin: &str| headers(&[("origin", origin), ("host", "127.0.0.1:8081")]);
        assert_eq!(
            check(&Method::POST, &h("http://127.0.0.1:8081"), None),
            Ok(())
        );
        assert!(check(&Method::POST, &h("http://127.0.0.1:9999"), None).is_err());
        assert!(check(&Method::POST, &h("http://evil.test"), None).is_err());
    }
}
