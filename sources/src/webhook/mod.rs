//! Webhook sources: deliveries from SaaS providers, verified on the raw bytes and mapped to
//! CloudEvents (issue 7). [`verify`] holds the signature checks, one function per provider's
//! published algorithm; they are pure (the clock is an argument) and compare in constant time.

pub mod github;
pub mod verify;

#[cfg(test)]
mod tests;
