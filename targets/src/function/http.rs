//! The `http` runtime: the function-as-a-service convention of Knative, OpenFaaS, Fission and
//! cloud function URLs. The event is POSTed as a CloudEvent (binary mode unless the target says
//! structured), synchronously, within the target's timeout; the answer is classified as an HTTP
//! target's is ([`crate::http::classify`]: 2xx delivered, 408/429/5xx/no answer retried, other
//! statuses final), and a 2xx answer that is a CloudEvent is the reply
//! ([`super::reply::from_answer`]).
//!
//! The request goes through the HTTP targets' own path ([`crate::http::exchange`]: the shared
//! pooled client, the target's headers, connection auth with the OAuth refresh); only the answer
//! is read further, up to `max_output` bytes rather than the 64 KiB an HTTP target keeps.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::{Invocation, Limits, reply};
use crate::connections::Connections;
use crate::http::request::{self, Prepared, Shaping};
use crate::http::{self as h, BodyError, Client, Outcome};
use crate::spec::HttpSpec;

/// An HTTP function, ready to invoke.
#[derive(Debug)]
pub struct HttpRuntime {
    spec: HttpSpec,
    limits: Limits,
    permits: Arc<Semaphore>,
}

impl HttpRuntime {
    /// A runtime for `spec` (mode binary or structured, method POST: as the function spec
    /// parser makes it).
    pub fn new(spec: &HttpSpec, limits: Limits) -> HttpRuntime {
        HttpRuntime {
            spec: spec.clone(),
            permits: Arc::new(Semaphore::new(limits.max_concurrency.max(1))),
            limits,
        }
    }

    /// The limits it runs with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Shapes `event` (its stored structured JSON) per the target and invokes the function.
    pub async fn invoke_event(
        &self,
        client: &Client,
        connections: &Connections,
        shaping: Shaping<'_>,
        event: &Bytes,
    ) -> Invocation {
        match request::prepare(&self.spec, shaping, event) {
            Ok(prepared) => self.invoke(client, connections, &prepared).await,
            Err(error) => Invocation::failed(Outcome::Fatal {
                status: None,
                error,
            }),
        }
    }

    /// Sends one prepared request. Waits for a concurrency slot first; the timeout counts from
    /// then.
    pub async fn invoke(
        &self,
        client: &Client,
        connections: &Connections,
        prepared: &Prepared,
    ) -> Invocation {
        let Ok(_permit) = self.permits.acquire().await else {
            return Invocation::failed(Outcome::Retry {
                status: None,
                error: "the function runtime is shut down".into(),
                retry_after: None,
            });
        };
        let exchange = h::exchange(
            client,
            connections,
            &self.spec,
            prepared,
            self.limits.max_output,
        );
        let answer = match tokio::time::timeout(self.limits.timeout, exchange).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(outcome)) => return Invocation::failed(outcome),
            Err(_) => return Invocation::failed(h::timed_out(self.limits.timeout)),
        };
        let outcome = h::classify(&answer);
        if !matches!(outcome, Outcome::Delivered { .. }) {
            return Invocation::failed(outcome);
        }
        let status = Some(answer.parts.status.as_u16());
        let body = match answer.body {
            Ok(b) => b,
            Err(BodyError::TooLarge(n)) => {
                return Invocation::failed(Outcome::Fatal {
                    status,
                    error: format!("the reply exceeds {n} bytes (max_output)"),
                });
            }
            // The function ran but its reply was lost on the way: worth another invocation.
            Err(e @ BodyError::Read(_)) => {
                return Invocation::failed(Outcome::Retry {
                    status,
                    error: e.to_string(),
                    retry_after: None,
                });
            }
        };
        match reply::from_answer(&answer.parts, body, self.limits.max_output) {
            Ok(reply) => Invocation {
                outcome,
                reply,
                stderr: None,
                exit_code: None,
            },
            Err(error) => Invocation::failed(Outcome::Fatal {
                status,
                error: format!("status {}, but {error}", answer.parts.status.as_u16()),
            }),
        }
    }
}
