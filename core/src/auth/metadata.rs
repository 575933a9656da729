//! The identity of the cloud machine the job runs on, from instance-metadata services.
//!
//! A last resort in the chain: off the cloud nothing answers, so connections time out fast
//! and every failure is a skip with its reason, never an error. Each base URL can be
//! overridden (argument, then environment variable) so tests and proxies can stand in.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_core::future::BoxFuture;
use serde::Deserialize;

use super::http::{client, parse_token};
use super::token_cache::{cached, expires_at};
use super::{CredentialProvider, Credentials, Provided};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::redact::Secret;

const LINK_LOCAL: &str = "http://169.254.169.254";
/// Overrides Azure's IMDS base URL.
pub const AZURE_ENDPOINT_ENV: &str = "SPARK_DS_AZURE_IMDS_ENDPOINT";
/// The AWS SDKs' own override of the EC2 metadata base URL.
pub const AWS_ENDPOINT_ENV: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
/// The Google SDKs' own override of the metadata host (`host[:port]`).
pub const GCP_HOST_ENV: &str = "GCE_METADATA_HOST";
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

fn base_url(explicit: Option<String>, env: &str) -> String {
    let chosen = explicit
        .or_else(|| std::env::var(env).ok())
        .filter(|u| !u.trim().is_empty());
    let url = chosen.unwrap_or_else(|| LINK_LOCAL.to_owned());
    let url = if url.contains("://") {
        url
    } else {
        format!("http://{url}")
    };
    url.trim_end_matches('/').to_owned()
}

fn metadata_client() -> Result<reqwest::Client> {
    client(Duration::from_millis(500), Duration::from_secs(3))
}

/// GET (or PUT) a metadata URL; any failure is a reason to skip, as text.
async fn call(request: reqwest::RequestBuilder, url: &str) -> std::result::Result<String, String> {
    let response = request.send().await.map_err(|e| {
        let why = if e.is_timeout() {
            "timed out".into()
        } else if e.is_connect() {
            "no connection".into()
        } else {
            e.to_string()
        };
        format!("no metadata service at {url} ({why})")
    })?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {status}"));
    }
    Ok(body)
}

/// Runs a metadata fetch through the token cache; failures become skips.
async fn provide_cached<F, Fut>(key: String, clock: &dyn Clock, fetch: F) -> Result<Provided>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = std::result::Result<(Credentials, Option<Duration>), String>>,
{
    let outcome = cached(&key, clock, REFRESH_MARGIN, || async {
        fetch()
            .await
            .map_err(|why| Error::auth("auth", "instance metadata", why))
    })
    .await;
    Ok(match outcome {
        Ok(credentials) => Provided::Found(credentials),
        Err(e) => Provided::Skipped(e.message().to_owned()),
    })
}

fn token_credentials(body: &str) -> std::result::Result<(Credentials, Option<Duration>), String> {
    let (token, lifetime) =
        parse_token(body, "instance metadata").map_err(|e| e.message().to_owned())?;
    Ok((
        Credentials::BearerToken {
            token,
            expires_at: expires_at(lifetime),
        },
        lifetime,
    ))
}

/// Azure managed identity: a token for `resource` from IMDS.
pub struct AzureManagedIdentity {
    endpoint: String,
    resource: String,
    client_id: Option<String>,
    clock: Arc<dyn Clock>,
}

impl AzureManagedIdentity {
    /// `resource` is the audience, e.g. `https://management.azure.com/`; `endpoint` overrides
    /// the IMDS base URL (else [`AZURE_ENDPOINT_ENV`], else the link-local address).
    pub fn new(resource: &str, endpoint: Option<String>) -> Self {
        AzureManagedIdentity {
            endpoint: base_url(endpoint, AZURE_ENDPOINT_ENV),
            resource: resource.to_owned(),
            client_id: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Picks one of several user-assigned identities.
    pub fn with_client_id(mut self, client_id: Option<String>) -> Self {
        self.client_id = client_id;
        self
    }

    async fn fetch(&self) -> std::result::Result<(Credentials, Option<Duration>), String> {
        let url = format!("{}/metadata/identity/oauth2/token", self.endpoint);
        let mut query = vec![
            ("api-version", "2018-02-01"),
            ("resource", self.resource.as_str()),
        ];
        if let Some(id) = &self.client_id {
            query.push(("client_id", id));
        }
        let http = metadata_client().map_err(|e| e.message().to_owned())?;
        let body = call(
            http.get(&url).query(&query).header("Metadata", "true"),
            &url,
        )
        .await?;
        token_credentials(&body)
    }
}

impl CredentialProvider for AzureManagedIdentity {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Provided>> {
        let key = format!(
            "azure {} {} {:?}",
            self.endpoint, self.resource, self.client_id
        );
        Box::pin(async move { provide_cached(key, self.clock.as_ref(), || self.fetch()).await })
    }
}

/// AWS EC2 instance role credentials through IMDSv2 (session token first).
pub struct AwsInstanceMetadata {
    endpoint: String,
    disabled: bool,
    clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsRoleCredentials {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    expiration: Option<String>,
}

impl AwsInstanceMetadata {
    /// `endpoint` overrides the base URL (else [`AWS_ENDPOINT_ENV`]); honours
    /// `AWS_EC2_METADATA_DISABLED=true` like the AWS SDKs.
    pub fn new(endpoint: Option<String>) -> Self {
        let disabled = std::env::var("AWS_EC2_METADATA_DISABLED")
            .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        AwsInstanceMetadata {
            endpoint: base_url(endpoint, AWS_ENDPOINT_ENV),
            disabled,
            clock: Arc::new(SystemClock),
        }
    }

    async fn fetch(&self) -> std::result::Result<(Credentials, Option<Duration>), String> {
        let http = metadata_client().map_err(|e| e.message().to_owned())?;
        let token_url = format!("{}/latest/api/token", self.endpoint);
        let session = call(
            http.put(&token_url)
                .header("X-aws-ec2-metadata-token-ttl-seconds", "21600"),
            &token_url,
        )
        .await?;
        let session = session.trim().to_owned();
        let roles_url = format!(
            "{}/latest/meta-data/iam/security-credentials/",
            self.endpoint
        );
        let roles = call(
            http.get(&roles_url)
                .header("X-aws-ec2-metadata-token", &session),
            &roles_url,
        )
        .await?;
        let role = roles
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .ok_or("no IAM role attached")?;
        let role_url = format!("{roles_url}{role}");
        let body = call(
            http.get(&role_url)
                .header("X-aws-ec2-metadata-token", &session),
            &role_url,
        )
        .await?;
        let creds: AwsRoleCredentials = serde_json::from_str(&body)
            .map_err(|e| format!("{role_url}: not role credentials ({e})"))?;
        let expires: Option<SystemTime> = creds
            .expiration
            .as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(SystemTime::from);
        let lifetime = expires.and_then(|at| at.duration_since(SystemTime::now()).ok());
        Ok((
            Credentials::AwsKeys {
                access_key_id: creds.access_key_id,
                secret_access_key: Secret::new(creds.secret_access_key),
                session_token: creds.token.map(Secret::new),
                expires_at: expires,
            },
            lifetime,
        ))
    }
}

impl CredentialProvider for AwsInstanceMetadata {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Provided>> {
        Box::pin(async move {
            if self.disabled {
                return Ok(Provided::Skipped(
                    "AWS_EC2_METADATA_DISABLED is true".into(),
                ));
            }
            provide_cached(
                format!("aws {}", self.endpoint),
                self.clock.as_ref(),
                || self.fetch(),
            )
            .await
        })
    }
}

/// GCP: the default service account's access token from the metadata server.
pub struct GcpMetadata {
    endpoint: String,
    scopes: Vec<String>,
    clock: Arc<dyn Clock>,
}

impl GcpMetadata {
    /// `endpoint` overrides the base URL (else [`GCP_HOST_ENV`]).
    pub fn new(endpoint: Option<String>) -> Self {
        GcpMetadata {
            endpoint: base_url(endpoint, GCP_HOST_ENV),
            scopes: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_scopes(mut self, scopes: Vec<String>) -> Self {
        self.scopes = scopes;
        self
    }

    async fn fetch(&self) -> std::result::Result<(Credentials, Option<Duration>), String> {
        let url = format!(
            "{}/computeMetadata/v1/instance/service-accounts/default/token",
            self.endpoint
        );
        let http = metadata_client().map_err(|e| e.message().to_owned())?;
        let mut request = http.get(&url).header("Metadata-Flavor", "Google");
        if !self.scopes.is_empty() {
            request = request.query(&[("scopes", self.scopes.join(","))]);
        }
        token_credentials(&call(request, &url).await?)
    }
}

impl CredentialProvider for GcpMetadata {
    fn name(&self) -> &'static str {
        "gcp"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Provided>> {
        let key = format!("gcp {} {}", self.endpoint, self.scopes.join(","));
        Box::pin(async move { provide_cached(key, self.clock.as_ref(), || self.fetch()).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_server::{Request, reply, serve};
    use crate::auth::{AuthChain, ExplicitCredentials};

    #[tokio::test]
    async fn azure_sends_the_metadata_header_and_resource() {
        let server = serve(|r: &Request| match r.header("metadata") {
            Some("true") => reply(
                200,
                r#"{"access_token":"azure-token-1","expires_in":"3599","token_type":"Bearer"}"#,
            ),
            _ => reply(400, "{}"),
        })
        .await;
        let p = AzureManagedIdentity::new("https://storage.azure.com/", Some(server.url.clone()));
        let Provided::Found(Credentials::BearerToken { token, .. }) = p.provide().await.unwrap()
        else {
            panic!()
        };
        assert_eq!(token.expose(), "azure-token-1");
        assert_eq!(
            server.requests()[0].target,
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F"
        );
    }

    #[tokio::test]
    async fn aws_uses_an_imdsv2_session_then_the_role_credentials() {
        let server = serve(|r: &Request| {
            let session = r.header("x-aws-ec2-metadata-token") == Some("sess-token-1");
            match (r.method.as_str(), r.target.as_str()) {
                ("PUT", "/latest/api/token") if r.header("x-aws-ec2-metadata-token-ttl-seconds").is_some() => {
                    reply(200, "sess-token-1")
                }
                ("GET", "/latest/meta-data/iam/security-credentials/") if session => reply(200, "spark-role\n"),
                ("GET", "/latest/meta-data/iam/security-credentials/spark-role") if session => reply(
                    200,
                    r#"{"Code":"Success","AccessKeyId":"AKIAEXAMPLE","SecretAccessKey":"aws-secret-1",
                        "Token":"aws-session-1","Expiration":"2099-01-01T00:00:00Z"}"#,
                ),
                _ => reply(401, ""),
            }
        })
        .await;
        let p = AwsInstanceMetadata::new(Some(server.url.clone()));
        let Provided::Found(Credentials::AwsKeys {
            access_key_id,
            secret_access_key,
            session_token,
            expires_at,
        }) = p.provide().await.unwrap()
        else {
            panic!()
        };
        assert_eq!(access_key_id, "AKIAEXAMPLE");
        assert_eq!(secret_access_key.expose(), "aws-secret-1");
        assert_eq!(session_token.unwrap().expose(), "aws-session-1");
        assert!(expires_at.unwrap() > SystemTime::now());
        assert_eq!(server.requests().len(), 3);
    }

    #[tokio::test]
    async fn gcp_sends_the_flavor_header() {
        let server = serve(|r: &Request| match r.header("metadata-flavor") {
            Some("Google") => reply(200, r#"{"access_token":"gcp-token-1","expires_in":3599}"#),
            _ => reply(403, ""),
        })
        .await;
        let host = server.url.trim_start_matches("http://").to_owned();
        let p = GcpMetadata::new(Some(host)).with_scopes(vec!["s1".into()]);
        let Provided::Found(Credentials::BearerToken { token, .. }) = p.provide().await.unwrap()
        else {
            panic!()
        };
        assert_eq!(token.expose(), "gcp-token-1");
        assert!(server.requests()[0].target.ends_with("/token?scopes=s1"));
    }

    #[tokio::test]
    async fn absent_or_refusing_services_are_skipped_fast_with_reasons() {
        let refusing = serve(|_| reply(404, "")).await;
        // A port nothing listens on: bind, note the port, close.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let started = std::time::Instant::now();
        let e = AuthChain::new("test")
            .with(ExplicitCredentials::bearer_token(None))
            .with(AzureManagedIdentity::new("r", Some(closed.clone())))
            .with(GcpMetadata::new(Some(refusing.url.clone())))
            .with(AwsInstanceMetadata::new(Some(refusing.url.clone())))
            .resolve()
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        let m = e.message();
        assert!(m.contains("options: no token given"), "{m}");
        assert!(
            m.contains(&format!("azure: no metadata service at {closed}")),
            "{m}"
        );
        assert!(
            m.contains("gcp: ") && m.contains("answered HTTP 404 Not Found"),
            "{m}"
        );
        assert!(
            m.contains("aws: ") && m.contains("/latest/api/token answered HTTP 404"),
            "{m}"
        );
    }
}
