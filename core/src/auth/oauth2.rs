//! OAuth2 client credentials (RFC 6749 §4.4): a service's own identity, no user involved.

use std::sync::Arc;
use std::time::Duration;

use futures_core::future::BoxFuture;

use super::http::{SYSTEM, client, parse_token, send_error, status_error};
use super::token_cache::{cached, expires_at};
use super::{CredentialProvider, Credentials, Provided};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::redact::Secret;

/// How the client proves its identity to the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with client id and secret: every server must support it.
    Basic,
    /// `client_id` and `client_secret` in the form body, for servers that want that.
    RequestBody,
}

/// Fetches and caches bearer tokens with the client-credentials grant.
pub struct ClientCredentials {
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    scopes: Vec<String>,
    extra_params: Vec<(String, String)>,
    client_auth: ClientAuth,
    refresh_margin: Duration,
    timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl ClientCredentials {
    /// Skips when no token URL is given; the id and secret are then required.
    pub fn new(
        token_url: Option<String>,
        client_id: Option<String>,
        client_secret: Option<Secret>,
    ) -> Self {
        ClientCredentials {
            token_url,
            client_id,
            client_secret,
            scopes: Vec::new(),
            extra_params: Vec::new(),
            client_auth: ClientAuth::Basic,
            refresh_margin: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_scopes(mut self, scopes: Vec<String>) -> Self {
        self.scopes = scopes;
        self
    }

    /// An extra form parameter some servers require (`audience`, `resource`).
    pub fn with_param(mut self, name: &str, value: &str) -> Self {
        self.extra_params.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn with_client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }

    /// Fetch a new token when less than this is left of the old one (default 60 s).
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    async fn fetch(
        &self,
        url: &str,
        id: &str,
        secret: &Secret,
    ) -> Result<(Credentials, Option<Duration>)> {
        let operation = "fetch OAuth2 token";
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        let scope = self.scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        form.extend(
            self.extra_params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let mut request = client(Duration::from_secs(5), self.timeout)?
            .post(url)
            .header("Accept", "application/json");
        match self.client_auth {
            ClientAuth::Basic => request = request.basic_auth(id, Some(secret.expose())),
            ClientAuth::RequestBody => {
                form.push(("client_id", id));
                form.push(("client_secret", secret.expose()));
            }
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| send_error(&e, operation))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .text()
            .await
            .map_err(|e| send_error(&e, operation))?;
        if !status.is_success() {
            return Err(
                status_error(status, retry_after.as_deref(), &body, operation)
                    .with_context(format!("token endpoint {url} refused client `{id}`")),
            );
        }
        let (token, lifetime) = parse_token(&body, operation)?;
        Ok((
            Credentials::BearerToken {
                token,
                expires_at: expires_at(lifetime),
            },
            lifetime,
        ))
    }

    async fn provide_token(&self) -> Result<Provided> {
        let Some(url) = self.token_url.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(Provided::Skipped("no token URL given".into()));
        };
        let (Some(id), Some(secret)) = (self.client_id.as_deref(), self.client_secret.as_ref())
        else {
            return Err(Error::config(
                SYSTEM,
                "an OAuth2 token URL is given but the client id or secret is missing",
            ));
        };
        let key = format!("oauth2 {url} {id} {}", self.scopes.join(" "));
        let credentials = cached(&key, self.clock.as_ref(), self.refresh_margin, || {
            self.fetch(url, id, secret)
        })
        .await?;
        Ok(Provided::Found(credentials))
    }
}

impl CredentialProvider for ClientCredentials {
    fn name(&self) -> &'static str {
        "oauth2"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Provided>> {
        Box::pin(self.provide_token())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_server::{Reply, reply, serve};
    use crate::clock::ManualClock;
    use crate::error::ErrorKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn token_of(p: Provided) -> String {
        match p {
            Provided::Found(Credentials::BearerToken { token, .. }) => token.expose().to_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn fetches_with_a_form_post_caches_and_refreshes_before_expiry() {
        let issued = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&issued);
        let server = serve(move |_| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            reply(
                200,
                format!(
                    r#"{{"access_token":"tok-number-{n}","token_type":"Bearer","expires_in":300}}"#
                ),
            )
        })
        .await;
        let clock = ManualClock::new();
        let provider = || {
            ClientCredentials::new(
                Some(format!("{}/oauth/token", server.url)),
                Some("spark".into()),
                Some(Secret::new("client-secret-xyz")),
            )
            .with_scopes(vec!["read".into(), "write".into()])
            .with_clock(Arc::new(clock.clone()))
        };
        assert_eq!(
            token_of(provider().provide().await.unwrap()),
            "tok-number-1"
        );
        // Another provider instance (another task) shares the cached token.
        assert_eq!(
            token_of(provider().provide().await.unwrap()),
            "tok-number-1"
        );
        clock.advance(Duration::from_secs(239));
        assert_eq!(
            token_of(provider().provide().await.unwrap()),
            "tok-number-1"
        );
        // Within the 60 s margin of the 300 s lifetime: refreshed.
        clock.advance(Duration::from_secs(2));
        assert_eq!(
            token_of(provider().provide().await.unwrap()),
            "tok-number-2"
        );

        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        let r = &requests[0];
        assert_eq!(
            (r.method.as_str(), r.target.as_str()),
            ("POST", "/oauth/token")
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(r.body, "grant_type=client_credentials&scope=read+write");
        // base64("spark:client-secret-xyz")
        assert_eq!(
            r.header("authorization"),
            Some("Basic c3Bhcms6Y2xpZW50LXNlY3JldC14eXo=")
        );
    }

    #[tokio::test]
    async fn request_body_client_auth_and_string_expiry() {
        let server = serve(|_| {
            reply(
                200,
                r#"{"access_token":"body-token-1","expires_in":"3600"}"#,
            )
        })
        .await;
        let p = ClientCredentials::new(
            Some(server.url.clone()),
            Some("id1".into()),
            Some(Secret::new("sec-ret-1")),
        )
        .with_client_auth(ClientAuth::RequestBody)
        .with_param("audience", "api://x");
        let Provided::Found(Credentials::BearerToken { expires_at, .. }) =
            p.provide().await.unwrap()
        else {
            panic!()
        };
        assert!(expires_at.is_some());
        let body = &server.requests()[0].body;
        assert_eq!(
            body,
            "grant_type=client_credentials&audience=api%3A%2F%2Fx&client_id=id1&client_secret=sec-ret-1"
        );
        assert!(server.requests()[0].header("authorization").is_none());
    }

    #[tokio::test]
    async fn error_responses_map_to_kinds_without_leaking_the_secret() {
        let server = serve(
            |r: &crate::auth::test_server::Request| match r.target.as_str() {
                "/bad" => reply(
                    401,
                    r#"{"error":"invalid_client","error_description":"unknown client"}"#,
                ),
                "/busy" => Reply {
                    status: 429,
                    headers: vec![("Retry-After", "7".into())],
                    body: String::new(),
                },
                "/down" => reply(503, "oops"),
                _ => reply(200, "not json"),
            },
        )
        .await;
        let at = |path: &str| {
            ClientCredentials::new(
                Some(format!("{}{path}", server.url)),
                Some("c".into()),
                Some(Secret::new("never-shown-1")),
            )
        };
        let e = at("/bad").provide().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(
            e.message().contains(
                "refused client `c`: HTTP 401 Unauthorized: invalid_client (unknown client)"
            ),
            "{e}"
        );
        assert!(!e.to_string().contains("never-shown-1"));
        let e = at("/busy").provide().await.unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            at("/down").provide().await.unwrap_err().kind(),
            ErrorKind::Transient
        );
        let e = at("/garbage").provide().await.unwrap_err();
        assert!(e.message().contains("token response is not a token"), "{e}");
    }

    #[tokio::test]
    async fn skips_without_url_and_requires_id_and_secret_with_one() {
        let Provided::Skipped(r) = ClientCredentials::new(None, None, None)
            .provide()
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(r, "no token URL given");
        let e = ClientCredentials::new(Some("http://127.0.0.1:9".into()), None, None)
            .provide()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }
}
